"""Test harness: the real local stack, service processes, the bus and Mailpit."""
