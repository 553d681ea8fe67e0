"""Pure rules of the notifications service: who is registered, what staff read, and how they act.

No I/O here: handlers read and write, this module decides. Registration and
subscriptions, the subject and content of each e-mail (as the values its templates
render), the signed accept/decline links and the action pages' wording, all tested
without a server. What becomes of a delivery after an SMTP attempt is in `delivery.py`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from diko_shared.contract.common import Occupation
from diko_shared.contract.companies import PositionFilled
from diko_shared.contract.envelope import ErrorDetail
from diko_shared.contract.matching import MatchProposed, Proposal, ProposedPosition
from diko_shared.contract.media import EpisodePublished
from diko_shared.contract.notifications import RegisterStaff, Subscribe, Subscription, Topic
from diko_shared.german import NBSP, long_date
from diko_shared.messaging.errors import Conflict

TOPICS: tuple[str, ...] = get_args(Topic)
#: Where staff work: a moment in an e-mail is told as a day in Berlin, not in UTC.
BERLIN = ZoneInfo("Europe/Berlin")
#: The events staff are e-mailed about (their payloads).
Event = MatchProposed | PositionFilled | EpisodePublished
Decision = Literal["accept", "decline"]


# -- staff and subscriptions -----------------------------------------------------------------


@dataclass(frozen=True)
class Staff:
    """A staff member who may receive e-mails."""

    staff_id: str
    name: str
    email: str
    role: str | None = None


def email_key(email: str) -> str:
    """The form under which an e-mail address is unique: `Anna@X.de` and `anna@x.de` are one."""
    return email.strip().lower()


def register(data: RegisterStaff, staff_id: str) -> Staff:
    return Staff(staff_id=staff_id, name=data.name, email=data.email.strip(), role=data.role)


def duplicate_email(email: str, existing_id: str) -> Conflict:
    """The answer to a registration under an address that belongs to someone already."""
    return Conflict(
        f"Die E-Mail-Adresse {email} ist bereits registriert: {existing_id}",
        [ErrorDetail(field="data.email", problem=f"bereits registriert als {existing_id}")],
    )


def subscription(data: Subscribe) -> Subscription:
    """The topics as given, each once, in the catalogue's order."""
    return Subscription(
        staff_id=data.staff_id,
        topics=[topic for topic in TOPICS if topic in data.topics],
        mode=data.mode,
    )


# -- German text -----------------------------------------------------------------------------


def german_date(day: date) -> str:
    """`1. August 2027`."""
    return long_date(day, space=NBSP)


def berlin_date(moment: datetime) -> str:
    """The day `moment` falls on in Berlin: 23:30 UTC on 26 November is `27. November 2026`."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return german_date(aware.astimezone(BERLIN).date())


def minutes(seconds: int) -> str:
    """`29 Minuten` for 1769 s: how long an episode runs, to the nearest minute."""
    count = max(1, round(seconds / 60))
    return f"{count}{NBSP}Minute" if count == 1 else f"{count}{NBSP}Minuten"


def lifetime(seconds: int) -> str:
    """`14 Tage`, `einen Tag`, `12 Stunden`: how long something lasts, in whole units."""
    days, hours = seconds // 86_400, seconds // 3_600
    if days >= 2:
        return f"{days}{NBSP}Tage"
    if days == 1:
        return "einen Tag"
    return f"{hours}{NBSP}Stunden" if hours >= 2 else "eine Stunde"


def percent(score: float) -> str:
    """`87 %`, as German typesetting writes it (with a non-breaking space)."""
    return f"{round(score * 100)}{NBSP}%"


def position_title(occupation: Occupation, company: str, town: str) -> str:
    """`Tischler/in bei Tischlerei Müller GmbH (Stendal)`."""
    return f"{occupation.name} bei {company} ({town})"


# -- action links ----------------------------------------------------------------------------


class LinkInvalid(Exception):
    """The token was not signed with our secret, or was altered."""


class LinkExpired(Exception):
    """The token is genuine but older than the links' lifetime."""


@dataclass(frozen=True)
class Action:
    """What a link asks for: a decision on a proposal, by a staff member."""

    proposal_id: str
    decision: Decision
    staff_id: str


_PROPOSAL_ID = re.compile(r"^prp_[0-9a-f]{20}$")
_STAFF_ID = re.compile(r"^stf_[0-9a-f]{20}$")
SALT = "diko.notifications.action.v1"


class ActionLinks:
    """Signed, expiring links `{base_url}/actions/{token}` that carry an `Action`.

    The token is an itsdangerous signature over `[proposal, decision, staff]` with the
    time of signing; `clock` is `time.time` except in tests.
    """

    def __init__(
        self,
        secret: str,
        base_url: str,
        ttl: timedelta,
        clock: Callable[[], float] = time.time,
    ) -> None:
        signer = type("ClockSigner", (TimestampSigner,), {"get_timestamp": lambda _: int(clock())})
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT, signer=signer)
        self._base_url = base_url.rstrip("/")
        self._max_age = int(ttl.total_seconds())

    @property
    def lifetime(self) -> str:
        """How long a link lasts, as the e-mail tells staff."""
        return lifetime(self._max_age)

    @property
    def ttl(self) -> timedelta:
        """How long a link lasts: what is kept for its page need not outlive it."""
        return timedelta(seconds=self._max_age)

    def token(self, action: Action) -> str:
        return self._serializer.dumps([action.proposal_id, action.decision, action.staff_id])

    def url(self, action: Action) -> str:
        return f"{self._base_url}/actions/{self.token(action)}"

    def read(self, token: str) -> Action:
        """The action a token carries; `LinkExpired` or `LinkInvalid` if it must not be done."""
        try:
            value = self._serializer.loads(token, max_age=self._max_age)
        except SignatureExpired:
            raise LinkExpired(token) from None
        except BadData:
            raise LinkInvalid(token) from None
        return _action(value)


def _action(value: Any) -> Action:
    """A signed value we wrote ourselves; checked anyway, since a secret may be reused."""
    if not (isinstance(value, list) and len(value) == 3):
        raise LinkInvalid("malformed action")
    proposal_id, decision, staff_id = value
    if (
        not isinstance(proposal_id, str)
        or not _PROPOSAL_ID.match(proposal_id)
        or decision not in ("accept", "decline")
        or not isinstance(staff_id, str)
        or not _STAFF_ID.match(staff_id)
    ):
        raise LinkInvalid("malformed action")
    return Action(proposal_id=proposal_id, decision=decision, staff_id=staff_id)


# -- what an e-mail says ---------------------------------------------------------------------


@dataclass(frozen=True)
class Letter:
    """One e-mail before rendering: its templates' name, the subject and their values."""

    template: str
    subject: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class PositionView:
    title: str
    occupation: str
    company: str
    town: str
    start: str


@dataclass(frozen=True)
class ProposalView:
    rank: int
    applicant: str
    home_town: str
    score: str
    reasons: Sequence[str]
    accept_url: str
    decline_url: str


@dataclass(frozen=True)
class PositionGroup:
    position: PositionView
    proposals: Sequence[ProposalView]


def _position_view(position: ProposedPosition | PositionFilled) -> PositionView:
    return PositionView(
        title=position_title(position.occupation, position.company_name, position.town),
        occupation=position.occupation.name,
        company=position.company_name,
        town=position.town,
        start=german_date(position.start_date),
    )


def proposal_subject(event: MatchProposed) -> str:
    """Names the position when there is one; never the applicant (subjects are logged)."""
    positions = {p.position.position_id for p in event.proposals}
    applicants = {p.applicant.applicant_id for p in event.proposals}
    if len(positions) == 1:
        position = event.proposals[0].position
        noun = "Neuer Vorschlag" if len(event.proposals) == 1 else "Neue Vorschläge"
        title = position_title(position.occupation, position.company_name, position.town)
        return f"{noun} für {title}"
    if len(applicants) == 1:
        town = event.proposals[0].applicant.home_town
        return f"Neue Vorschläge: {len(positions)} Ausbildungsstellen für Bewerber/in aus {town}"
    return f"Neue Vorschläge: {len(applicants)} Bewerber/innen für {len(positions)} Stellen"


def proposal_letter(event: MatchProposed, staff: Staff, links: ActionLinks) -> Letter:
    """Who, which position, why, and the two links, grouped by position, best first."""
    groups: dict[str, list[Proposal]] = {}
    for proposal in event.proposals:
        groups.setdefault(proposal.position.position_id, []).append(proposal)
    views = [
        PositionGroup(
            position=_position_view(proposals[0].position),
            proposals=[
                _proposal_view(p, staff, links) for p in sorted(proposals, key=lambda p: p.rank)
            ],
        )
        for proposals in groups.values()
    ]
    return Letter(
        template="match_proposed",
        subject=proposal_subject(event),
        values={
            "staff": staff,
            "groups": views,
            "count": len(event.proposals),
            "for_applicant": len(groups) > 1,
            "applicant_town": event.proposals[0].applicant.home_town,
            "link_lifetime": links.lifetime,
        },
    )


def _proposal_view(proposal: Proposal, staff: Staff, links: ActionLinks) -> ProposalView:
    def link(decision: Decision) -> str:
        return links.url(Action(proposal.proposal_id, decision, staff.staff_id))

    return ProposalView(
        rank=proposal.rank,
        applicant=proposal.applicant.name,
        home_town=proposal.applicant.home_town,
        score=percent(proposal.score),
        reasons=[reason.text for reason in proposal.reasons],
        accept_url=link("accept"),
        decline_url=link("decline"),
    )


def filled_subject(event: PositionFilled) -> str:
    title = position_title(event.occupation, event.company_name, event.town)
    return f"Ausbildungsstelle besetzt: {title}"


def filled_letter(event: PositionFilled, staff: Staff) -> Letter:
    return Letter(
        template="position_filled",
        subject=filled_subject(event),
        values={"staff": staff, "position": _position_view(event), "places": event.places},
    )


def episode_subject(event: EpisodePublished) -> str:
    return f"Neue Podcastfolge: „{event.title}“"


def episode_letter(event: EpisodePublished, staff: Staff) -> Letter:
    """The title and day, what the episode is about, a link to listen and the podcast page.

    All of it comes with the event, so the e-mail goes out while media is down. The feed
    is XML for podcast apps, so it is named as their address rather than linked. An event
    from an older media carries no audio: the e-mail then names the feed only.
    """
    return Letter(
        template="episode_published",
        subject=episode_subject(event),
        values={
            "staff": staff,
            "title": event.title,
            "feed_url": event.feed_url,
            "published": berlin_date(event.published_at),
            "description": (event.description or "").strip(),
            "audio_url": event.audio_url,
            "duration": minutes(event.duration_s) if event.duration_s else "",
            "page_url": event.page_url,
        },
    )


def letter(event: Event, staff: Staff, links: ActionLinks) -> Letter:
    """The e-mail about any event staff can subscribe to."""
    if isinstance(event, MatchProposed):
        return proposal_letter(event, staff, links)
    if isinstance(event, PositionFilled):
        return filled_letter(event, staff)
    if isinstance(event, EpisodePublished):
        return episode_letter(event, staff)
    raise TypeError(f"no e-mail for {type(event).__name__}")


# -- the action pages ------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """What a page for an action link says, and its HTTP status."""

    status: int
    title: str
    message: str
    detail: str = ""


CONFIRM_VERB = {"accept": "anzunehmen", "decline": "abzulehnen"}
CONFIRM_BUTTON = {"accept": "Vorschlag annehmen", "decline": "Vorschlag ablehnen"}

LINK_INVALID = Page(
    400,
    "Link ungültig",
    "Dieser Link ist ungültig. Bitte öffnen Sie ihn direkt aus der E-Mail; "
    "beim Kopieren wird ein Link manchmal abgeschnitten.",
)
LINK_EXPIRED = Page(
    410,
    "Link abgelaufen",
    "Dieser Link ist abgelaufen. Über den Vorschlag kann weiterhin im DIKO-Team "
    "entschieden werden.",
)
NOT_SENT = Page(
    503,
    "Gerade nicht möglich",
    "Die Entscheidung konnte gerade nicht übermittelt werden. Bitte versuchen Sie es "
    "in ein paar Minuten noch einmal mit demselben Link.",
)
UNCONFIRMED = Page(
    202,
    "Entscheidung übermittelt",
    "Ihre Entscheidung ist unterwegs, aber noch nicht bestätigt: Der Abgleich antwortet "
    "gerade nicht. Sie wird verarbeitet, sobald er wieder läuft; Sie müssen nichts weiter tun.",
)


def decision_page(reply: Mapping[str, Any]) -> Page:
    """The page for matching's answer to `match.decide`."""
    if reply.get("ok"):
        if reply["data"]["status"] == "accepted":
            return Page(200, "Vorschlag angenommen", "Der Vorschlag ist angenommen. Danke!")
        return Page(200, "Vorschlag abgelehnt", "Der Vorschlag ist abgelehnt. Danke!")
    error = reply.get("error") or {}
    code, text = error.get("code"), str(error.get("message", ""))
    if code == "conflict":
        return Page(
            409,
            "Bereits entschieden",
            "Über diesen Vorschlag ist bereits anders entschieden worden; "
            "die erste Entscheidung gilt.",
            text,
        )
    if code == "not_found":
        return Page(404, "Vorschlag nicht gefunden", "Diesen Vorschlag gibt es nicht mehr.", text)
    return Page(
        502, "Entscheidung nicht möglich", "Der Abgleich hat die Entscheidung abgelehnt.", text
    )
