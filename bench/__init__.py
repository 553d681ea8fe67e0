"""Benchmarks: each prints a table and writes its numbers to bench/results/."""
