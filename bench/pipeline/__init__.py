"""Benchmark of the consuming pipeline against the raw floor (aio-pika + one raw insert)."""
