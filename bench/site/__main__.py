"""Entry point: `python -m bench.site` (from the repository root, with `make stack`)."""

from bench.site.run import main

if __name__ == "__main__":
    main()
