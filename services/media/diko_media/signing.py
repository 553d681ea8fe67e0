"""Signed, expiring tokens for the links media hands out: a post's approval page, its kit
download, an episode's upload, a company's photos for the website. The token is the
whole authorisation: whoever holds the link may act, until it expires. Each purpose has
its own salt, so that a token for one cannot open another."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

Purpose = Literal["approval", "kit", "upload", "photos"]
SALTS = {
    "approval": "diko.media.post-approval.v1",
    "kit": "diko.media.post-kit.v1",
    "upload": "diko.media.episode-upload.v1",
    "photos": "diko.media.company-photos.v1",
}
SUBJECT = {
    "approval": re.compile(r"^pst_[0-9a-f]{20}$"),
    "kit": re.compile(r"^pst_[0-9a-f]{20}$"),
    "upload": re.compile(r"^epi_[0-9a-f]{20}$"),
    "photos": re.compile(r"^cmp_[0-9a-f]{20}$"),
}


class LinkExpired(Exception):
    """A genuine token past its time; `subject` is what it was for."""

    def __init__(self, subject: str | None) -> None:
        super().__init__(subject or "expired")
        self.subject = subject


class LinkInvalid(Exception):
    """Not a token media signed (or not for this purpose)."""


@dataclass
class Signer:
    """Tokens for one purpose, valid for `ttl`; `clock` is `time.time` except in tests."""

    secret: str
    purpose: Purpose
    ttl: timedelta
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        clock = self.clock
        signer = type("ClockSigner", (TimestampSigner,), {"get_timestamp": lambda _: int(clock())})
        self._serializer = URLSafeTimedSerializer(
            self.secret, salt=SALTS[self.purpose], signer=signer
        )

    def token(self, subject: str) -> str:
        return self._serializer.dumps(subject)

    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(int(self.clock()), UTC) + self.ttl

    def read(self, token: str) -> str:
        """The subject (post or episode id) of a valid token."""
        try:
            value = self._serializer.loads(token, max_age=int(self.ttl.total_seconds()))
        except SignatureExpired:
            raise LinkExpired(self._subject_of_expired(token)) from None
        except BadData:
            raise LinkInvalid(token) from None
        return self._checked(value)

    def _subject_of_expired(self, token: str) -> str | None:
        try:
            return self._checked(self._serializer.loads(token))
        except (BadData, LinkInvalid):
            return None

    def _checked(self, value: object) -> str:
        if not isinstance(value, str) or not SUBJECT[self.purpose].match(value):
            raise LinkInvalid("malformed")
        return value
