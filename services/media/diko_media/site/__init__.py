"""The project website: built from media's read model, served under /site."""
