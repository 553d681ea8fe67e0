"""No e-mail to an applicant under 16 without a guardian's recorded consent.

Matching owns the record (`applicant.get` carries `date_of_birth` and
`guardian_consent`); notifications decides from it at the moment of mailing, so that a
consent recorded later lets mail through and nothing here has to be kept in step. Age
is reckoned on the day in Berlin, like matching does.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

#: Under this age an applicant gets mail only with a guardian's consent (Art. 8 GDPR).
CONSENT_AGE = 16
BERLIN = ZoneInfo("Europe/Berlin")


def _age_on(born: date, day: date) -> int:
    years = day.year - born.year
    return years - 1 if (day.month, day.day) < (born.month, born.day) else years


def minor_without_consent(applicant: dict[str, Any], now: datetime | None = None) -> bool:
    """Whether the record shows an applicant under 16 whose guardian has not consented."""
    born = applicant.get("date_of_birth")
    if not born or applicant.get("guardian_consent"):
        return False
    today = (now or datetime.now(UTC)).astimezone(BERLIN).date()
    return _age_on(date.fromisoformat(str(born)), today) < CONSENT_AGE
