"""The gazetteer's build: open data sets in, the packaged CSV files out (see build_gazetteer)."""
