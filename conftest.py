"""Fixtures every test suite may use (the local stack, the bus, Mailpit): see tests/harness."""

pytest_plugins = ["harness.fixtures", "harness.browser"]
