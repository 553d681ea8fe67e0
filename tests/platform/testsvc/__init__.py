"""A small service built on the platform, used to prove its guarantees against the real stack."""
