"""Entry point: `python -m bench.matching` (from the repository root)."""

from bench.matching.run import main

if __name__ == "__main__":
    main()
