"""Benchmarks of the matching engine; run with `python -m bench.matching`."""
