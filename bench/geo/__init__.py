"""Benchmark of the gazetteer: load, lookups, radius queries, nationwide geocoding."""
