"""The companies service: the record of every company and training position."""
