"""Entry point: `python -m bench.media` (from the repository root, with `make stack`)."""

from bench.media.run import main

if __name__ == "__main__":
    main()
