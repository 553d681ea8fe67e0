"""Double opt-in: the confirmation e-mail with its signed link, and what the link opens.

`applicant.register` with `confirm_email` stores the applicant held (`email_confirmed`
false) and sends notifications a `notification.send` to the applicant: German for a
young reader, with a button to the signed, expiring link. The link's page asks for one
click (a mail scanner that opens links must not confirm for a person); the click sends
`applicant.update` with `email_confirmed`, and matching proposes from then on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase

from diko_matching.eligibility import BERLIN
from diko_matching.registration.signing import Signer, registration_secret
from diko_shared.contract.matching import Applicant
from diko_shared.contract.notifications import NoticeAction, NoticeRecipient, SendNotification
from diko_shared.german import long_date

CONFIRM_PATH = "/bewerbung/bestaetigen"


@dataclass
class Confirmations:
    """Signs and checks the confirmation links of one service process."""

    base_url: str
    ttl: timedelta
    _signer: Signer | None = field(default=None, repr=False)

    async def signer(self, db: AsyncDatabase) -> Signer:
        """The signer under the secret in matching's database (read once per process)."""
        if self._signer is None:
            self._signer = Signer(await registration_secret(db))
        return self._signer

    async def link(self, db: AsyncDatabase, applicant_id: str, expires: datetime) -> str:
        token = (await self.signer(db)).confirm_token(applicant_id, expires)
        return f"{self.base_url.rstrip('/')}{CONFIRM_PATH}?t={token}"


def notice(applicant: Applicant, link: str, expires: datetime) -> SendNotification:
    """The confirmation e-mail, once per applicant (the key), in words for a young reader."""
    until = long_date(expires.astimezone(BERLIN).date())
    return SendNotification(
        idempotency_key=f"confirm-email/{applicant.applicant_id}",
        to=NoticeRecipient(applicant_id=applicant.applicant_id),
        subject="Bitte bestätige deine E-Mail-Adresse",
        paragraphs=[
            "schön, dass du dich bei DIKO Altmark angemeldet hast! Wir suchen jetzt mit dir "
            "nach einem Ausbildungsplatz in deiner Nähe.",
            "Bitte bestätige noch kurz, dass diese E-Mail-Adresse dir gehört. Erst dann "
            "zeigen wir Betrieben, dass du eine Ausbildung suchst.",
            f"Der Link gilt bis zum {until}. Wenn du dich nicht angemeldet hast, lösch diese "
            "E-Mail einfach – dann passiert nichts und wir speichern nichts weiter.",
        ],
        action=NoticeAction(label="E-Mail-Adresse bestätigen", url=link),
        transactional=True,
        reason="Du bekommst diese E-Mail, weil du dich auf der Website von DIKO Altmark "
        "angemeldet hast.",
        requested_by="Anmeldung auf der Website",
    )
