"""`python -m diko_matching`: run the matching service."""

from diko_matching.app import build

build().run()
