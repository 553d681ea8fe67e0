"""`python -m diko_media`: run the media service until SIGTERM."""

from diko_media.app import build

build().run()
