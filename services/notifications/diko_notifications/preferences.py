"""How a staff member gets each kind of mail, and when: pure rules, no I/O.

A kind of mail goes out at once, in the daily digest, or not at all. Mail that would go
out at once waits while the staff member's quiet hours last (a daily span in Berlin
time, which may cross midnight) and, if they asked for it, over the weekend; it leaves
when the quiet ends. The digest leaves once a day at the hour they chose (on Monday
instead of Saturday and Sunday when weekends are quiet). Times are told in Berlin,
including the switch to and from summer time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from diko_shared.contract.notifications import (
    KindMode,
    KindSetting,
    MailKind,
    Preferences,
    QuietHours,
)

BERLIN = ZoneInfo("Europe/Berlin")
KINDS: tuple[str, ...] = get_args(MailKind)
#: What a new staff member gets. Everything they are responsible for, at once; podcast
#: episodes only when they ask for them (they concern nobody's work in particular).
DEFAULT_KINDS: Mapping[str, KindMode] = {
    "match.proposed": "immediate",
    "position.filled": "immediate",
    "consultation.follow_up_due": "immediate",
    "fair.planned": "immediate",
    "episode.published": "off",
    "notice": "immediate",
}
DEFAULT_DIGEST_HOUR = 7
#: The older topics of `staff.subscribe`, which switches all three at once.
TOPICS = ("match.proposed", "position.filled", "episode.published")


@dataclass(frozen=True)
class Prefs:
    """A staff member's choices, as stored."""

    kinds: Mapping[str, KindMode] = field(default_factory=lambda: dict(DEFAULT_KINDS))
    digest_hour: int = DEFAULT_DIGEST_HOUR
    quiet: tuple[time, time] | None = None
    weekends: bool = False

    def mode(self, kind: str) -> KindMode:
        return self.kinds.get(kind, DEFAULT_KINDS.get(kind, "immediate"))


def from_document(doc: Mapping[str, object] | None) -> Prefs:
    """Preferences from their stored form; a staff member who never chose has the defaults."""
    if not doc:
        return Prefs()
    # Stored as `kind=mode` strings: kinds contain dots, which field names must not, and
    # FerretDB stores no arrays of arrays.
    pairs = [str(item).partition("=") for item in doc.get("kinds") or []]  # type: ignore[union-attr]
    kinds = {**DEFAULT_KINDS, **{kind: mode for kind, _, mode in pairs}}  # type: ignore[misc]
    quiet = doc.get("quiet")
    return Prefs(
        kinds=kinds,
        digest_hour=int(doc.get("digest_hour", DEFAULT_DIGEST_HOUR)),  # type: ignore[arg-type]
        quiet=(_clock(quiet[0]), _clock(quiet[1])) if isinstance(quiet, list) else None,
        weekends=bool(doc.get("weekends", False)),
    )


def to_document(prefs: Prefs) -> dict[str, object]:
    return {
        "kinds": [f"{kind}={mode}" for kind, mode in sorted(prefs.kinds.items())],
        "digest_hour": prefs.digest_hour,
        "quiet": [f"{t:%H:%M}" for t in prefs.quiet] if prefs.quiet else None,
        "weekends": prefs.weekends,
    }


def from_subscription(topics: list[str], mode: KindMode, before: Prefs) -> Prefs:
    """`staff.subscribe`: the topics named get `mode`, the other topics are off."""
    kinds = dict(before.kinds)
    for topic in TOPICS:
        kinds[topic] = mode if topic in topics else "off"
    return Prefs(kinds, before.digest_hour, before.quiet, before.weekends)


def changed(
    before: Prefs,
    kinds: Mapping[str, KindMode],
    digest_hour: int | None,
    quiet: QuietHours | None,
    weekends: bool | None,
    clear_quiet: bool,
) -> Prefs:
    """`staff.preferences`: what is named changes, the rest stays."""
    new_quiet = before.quiet
    if clear_quiet:
        new_quiet = None
    elif quiet is not None:
        new_quiet = (_clock(quiet.start), _clock(quiet.end))
    return Prefs(
        kinds={**before.kinds, **kinds},
        digest_hour=before.digest_hour if digest_hour is None else digest_hour,
        quiet=new_quiet,
        weekends=before.weekends if weekends is None else weekends,
    )


def as_payload(staff_id: str, prefs: Prefs) -> Preferences:
    return Preferences(
        staff_id=staff_id,
        kinds=[KindSetting(kind=kind, mode=prefs.mode(kind)) for kind in KINDS],  # type: ignore[arg-type]
        digest_hour=prefs.digest_hour,
        quiet_hours=(
            QuietHours(start=f"{prefs.quiet[0]:%H:%M}", end=f"{prefs.quiet[1]:%H:%M}")
            if prefs.quiet
            else None
        ),
        weekends=prefs.weekends,
    )


def _clock(value: object) -> time:
    hours, minutes = str(value).split(":")
    return time(int(hours), int(minutes))


# -- when -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """What to do with one mail for one staff member now.

    `now`: send it; `hold`: send it at `at` (quiet hours or weekend); `digest`: put it in
    the digest of `period`, which leaves at `at`; `off`: do not send it.
    """

    how: Literal["now", "hold", "digest", "off"]
    at: datetime | None = None
    period: date | None = None


def route(prefs: Prefs, kind: str, now: datetime, *, transactional: bool = False) -> Route:
    """Where one mail of `kind` goes. A transactional mail ignores `off` and the digest."""
    mode = prefs.mode(kind)
    if transactional and mode != "immediate":
        mode = "immediate"
    if mode == "off":
        return Route("off")
    if mode == "digest":
        at, period = next_digest(prefs, now)
        return Route("digest", at, period)
    until = quiet_until(prefs, now)
    return Route("hold", until) if until is not None else Route("now")


def quiet_until(prefs: Prefs, now: datetime) -> datetime | None:
    """When the quiet that `now` falls in ends (UTC), or None if it is not quiet now."""
    local = _berlin(now)
    moment = local
    for _ in range(6):  # a weekend, then the quiet hours of Monday morning, at most
        if prefs.weekends and moment.weekday() >= 5:
            monday = moment.date() + timedelta(days=7 - moment.weekday())
            moment = _at(monday, time(0, 0))
            continue
        end = _quiet_end(prefs, moment)
        if end is None or end <= moment:
            break
        moment = end
    return None if moment == local else moment.astimezone(UTC)


def _quiet_end(prefs: Prefs, local: datetime) -> datetime | None:
    """The end of the quiet hours `local` lies in, or None."""
    if prefs.quiet is None:
        return None
    start, end = prefs.quiet
    clock = local.time().replace(tzinfo=None)
    if start < end:
        return _at(local.date(), end) if start <= clock < end else None
    if clock >= start:
        return _at(local.date() + timedelta(days=1), end)
    if clock < end:
        return _at(local.date(), end)
    return None


def next_digest(prefs: Prefs, now: datetime) -> tuple[datetime, date]:
    """When the next digest leaves (UTC) and the day (Berlin) it is for."""
    local = _berlin(now)
    day = local.date()
    at = _at(day, time(prefs.digest_hour, 0))
    if at <= local:
        day += timedelta(days=1)
        at = _at(day, time(prefs.digest_hour, 0))
    if prefs.weekends and day.weekday() >= 5:
        day += timedelta(days=7 - day.weekday())
        at = _at(day, time(prefs.digest_hour, 0))
    return at.astimezone(UTC), day


def _berlin(moment: datetime) -> datetime:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(BERLIN)


def _at(day: date, clock: time) -> datetime:
    """That wall-clock time in Berlin; in the hour skipped in spring, the hour after."""
    local = datetime.combine(day, clock, tzinfo=BERLIN)
    round_trip = local.astimezone(UTC).astimezone(BERLIN)
    return round_trip if round_trip.replace(tzinfo=None) >= local.replace(tzinfo=None) else local
