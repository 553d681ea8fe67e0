"""`python -m diko_notifications`: run the notifications service."""

from diko_notifications.app import build

build().run()
