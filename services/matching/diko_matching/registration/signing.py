"""Signed tokens of the registration form: the form's CSRF token and the confirmation link.

Both are signed with a secret matching keeps in its own database (made once, shared by
its replicas, like the export links' secret), each purpose with its own salt, so that a
token for one never opens the other. A confirmation token carries its expiry, which is
compared with the service's clock, so a test moves time instead of waiting.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from itsdangerous import BadData, URLSafeSerializer, URLSafeTimedSerializer
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

SECRETS = "registration_secret"
FORM_SALT = "diko.matching.registration-form.v1"
CONFIRM_SALT = "diko.matching.confirm-email.v1"
#: How long a form may stay open before it must be loaded again.
FORM_MAX_AGE_S = 4 * 3600


class LinkInvalid(Exception):
    """Not a token matching signed for this purpose (changed, cut short, forged)."""


class LinkExpired(Exception):
    """A genuine confirmation token whose time has passed."""

    def __init__(self, applicant_id: str) -> None:
        super().__init__(applicant_id)
        self.applicant_id = applicant_id


async def registration_secret(db: AsyncDatabase) -> str:
    """The secret of the form and the links: made once, kept in matching's database."""
    document = await db[SECRETS].find_one({"_id": "registration"})
    if document is None:
        try:
            document = {"_id": "registration", "secret": secrets.token_hex(32)}
            await db[SECRETS].insert_one(document)
        except DuplicateKeyError:
            document = await db[SECRETS].find_one({"_id": "registration"}) or document
    return str(document["secret"])


@dataclass(frozen=True)
class Signer:
    """Form tokens and confirmation tokens under one secret."""

    secret: str

    def form_token(self, nonce: str) -> str:
        """The hidden field's token for the nonce in the visitor's cookie."""
        return URLSafeTimedSerializer(self.secret, salt=FORM_SALT).dumps(nonce)

    def form_nonce(self, token: str) -> str | None:
        """The nonce a form token was made for, or None if forged or too old."""
        try:
            nonce = URLSafeTimedSerializer(self.secret, salt=FORM_SALT).loads(
                token, max_age=FORM_MAX_AGE_S
            )
        except BadData:
            return None
        return nonce if isinstance(nonce, str) else None

    def confirm_token(self, applicant_id: str, expires: datetime) -> str:
        """The token of an applicant's confirmation link, valid until `expires`."""
        payload = {"a": applicant_id, "e": int(expires.timestamp())}
        return URLSafeSerializer(self.secret, salt=CONFIRM_SALT).dumps(payload)

    def confirmed_applicant(self, token: str, now: datetime) -> str:
        """The applicant a confirmation token names; `LinkInvalid` or `LinkExpired`."""
        try:
            payload = URLSafeSerializer(self.secret, salt=CONFIRM_SALT).loads(token)
        except BadData:
            raise LinkInvalid(token) from None
        if not isinstance(payload, dict) or not isinstance(payload.get("a"), str):
            raise LinkInvalid(token)
        if datetime.fromtimestamp(int(payload.get("e", 0)), UTC) <= now:
            raise LinkExpired(payload["a"])
        return payload["a"]
