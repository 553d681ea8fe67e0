"""Who may be proposed to companies now: age, a guardian's consent, a confirmed address.

Most applicants are young; under 16 the GDPR (Art. 8, and Germany kept 16) needs a
parent's or guardian's consent before their data goes to companies. An applicant from
the website's form also waits until they confirm their e-mail address (double opt-in).
A held applicant is kept, never proposed: runs, re-matching and triggers skip them, and
`match.explain` and `applicant.get` say why in German. Age is reckoned on the day in
Berlin, so an applicant who turns 16 enters matching by the next run without a change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

#: The age from which an applicant consents on their own.
CONSENT_AGE = 16
BERLIN = ZoneInfo("Europe/Berlin")

GUARDIAN_CONSENT_MISSING = "guardian_consent_missing"
EMAIL_UNCONFIRMED = "email_unconfirmed"

#: Why an applicant is held, as staff read it.
HELD_TEXT = {
    GUARDIAN_CONSENT_MISSING: (
        f"Die Bewerberin oder der Bewerber ist jünger als {CONSENT_AGE} Jahre; ohne die "
        "Einwilligung einer erziehungsberechtigten Person wird sie oder er keinem Betrieb "
        "vorgeschlagen und bekommt keine E-Mails."
    ),
    EMAIL_UNCONFIRMED: (
        "Die E-Mail-Adresse ist noch nicht bestätigt; vorgeschlagen wird erst, wenn die "
        "Bewerberin oder der Bewerber den Link in der Bestätigungs-E-Mail geöffnet hat."
    ),
}


def berlin_today(now: datetime | None = None) -> date:
    """The day in Berlin: the day ages are reckoned on."""
    return (now or datetime.now(UTC)).astimezone(BERLIN).date()


def age_on(born: date, day: date) -> int:
    """Whole years of life on `day` (a birthday on 29 February counts on 1 March)."""
    years = day.year - born.year
    return years - 1 if (day.month, day.day) < (born.month, born.day) else years


def needs_guardian(born: date | None, has_guardian_consent: bool, day: date) -> bool:
    """Under 16 on `day` without a recorded guardian consent."""
    return born is not None and not has_guardian_consent and age_on(born, day) < CONSENT_AGE


def hold(
    *, born: date | None, has_guardian_consent: bool, email_confirmed: bool | None, day: date
) -> str | None:
    """The key of why the applicant is not proposed now, or None if they may be."""
    if needs_guardian(born, has_guardian_consent, day):
        return GUARDIAN_CONSENT_MISSING
    if email_confirmed is False:
        return EMAIL_UNCONFIRMED
    return None


def held_text(key: str | None) -> str | None:
    return None if key is None else HELD_TEXT[key]
