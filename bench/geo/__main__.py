"""Entry point: `python -m bench.geo` (from the repository root)."""

from bench.geo.run import main

if __name__ == "__main__":
    main()
