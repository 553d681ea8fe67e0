"""Signed links to a recipient's preferences and to unsubscribing (RFC 8058).

`{base}/preferences/{token}` and `{base}/unsubscribe/{token}`: the token is an
itsdangerous signature over `[recipient key, kind of mail]`, salted for this purpose.
It does not expire (an unsubscribe link must work as long as the mail is kept); it
names no address, and changing `DIKO_LINK_SECRET` revokes every link at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeSerializer

SALT = "diko.notifications.preferences.v1"
_KEY = re.compile(r"^(stf|cnt|apl|adr)_[0-9a-f]{20}$")
_KIND = re.compile(r"^[a-z_.]{1,40}$")


class PreferenceLinkInvalid(Exception):
    """Not signed with our secret, or altered."""


@dataclass(frozen=True)
class PreferenceTarget:
    """Whose preferences a link opens, and the kind of mail it came with."""

    recipient_key: str
    kind: str

    @property
    def recipient_kind(self) -> str:
        return {"stf": "staff", "cnt": "contact", "apl": "applicant", "adr": "address"}[
            self.recipient_key[:3]
        ]


class PreferenceLinks:
    def __init__(self, secret: str, base_url: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt=SALT)
        self._base_url = base_url.rstrip("/")

    def token(self, recipient_key: str, kind: str) -> str:
        return str(self._serializer.dumps([recipient_key, kind]))

    def preferences_url(self, recipient_key: str, kind: str = "") -> str:
        return f"{self._base_url}/preferences/{self.token(recipient_key, kind)}"

    def unsubscribe_url(self, recipient_key: str, kind: str) -> str:
        return f"{self._base_url}/unsubscribe/{self.token(recipient_key, kind)}"

    def read(self, token: str) -> PreferenceTarget:
        try:
            value = self._serializer.loads(token)
        except BadData:
            raise PreferenceLinkInvalid(token) from None
        if not (isinstance(value, list) and len(value) == 2):
            raise PreferenceLinkInvalid(token)
        key, kind = value
        if not (isinstance(key, str) and _KEY.match(key)):
            raise PreferenceLinkInvalid(token)
        if not (isinstance(kind, str) and (kind == "" or _KIND.match(kind))):
            raise PreferenceLinkInvalid(token)
        return PreferenceTarget(key, kind)
