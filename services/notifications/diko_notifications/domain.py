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
from typing import Any, Literal
from zoneinfo import ZoneInfo

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from diko_notifications.proposals import DecisionRecord, ProposalRecord, ProposalSummary
from diko_notifications.recipients import Recipient
from diko_shared.contract.common import Occupation
from diko_shared.contract.companies import PositionFilled
from diko_shared.contract.envelope import ErrorDetail
from diko_shared.contract.matching import MatchProposed, Proposal, ProposedPosition
from diko_shared.contract.media import EpisodePublished
from diko_shared.contract.notifications import RegisterStaff
from diko_shared.german import NBSP, long_date
from diko_shared.messaging.errors import Conflict

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
        f"Die E-Mail-Adresse {email} ist bereits registriert, unter der Kennung {existing_id}.",
        [ErrorDetail(field="data.email", problem=f"bereits registriert als {existing_id}")],
    )


# -- German text -----------------------------------------------------------------------------


def german_date(day: date) -> str:
    """`1. August 2027`."""
    return long_date(day, space=NBSP)


def berlin_date(moment: datetime) -> str:
    """The day `moment` falls on in Berlin: 23:30 UTC on 26 November is `27. November 2026`."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return german_date(aware.astimezone(BERLIN).date())


def berlin_moment(moment: datetime) -> str:
    """`am 3. Dezember 2026 um 9:05 Uhr`: when something happened, as staff in Berlin read it."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    local = aware.astimezone(BERLIN)
    return f"am {german_date(local.date())} um {local.hour}:{local:%M}{NBSP}Uhr"


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
    """The token is genuine but older than the links' lifetime; it still names its action."""

    def __init__(self, action: Action | None) -> None:
        super().__init__("link expired")
        self.action = action


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
            raise LinkExpired(self._expired_action(token)) from None
        except BadData:
            raise LinkInvalid(token) from None
        return _action(value)

    def _expired_action(self, token: str) -> Action | None:
        """The action of a genuine but expired token, to say where its proposal stands."""
        try:
            return _action(self._serializer.loads(token))
        except (BadData, LinkInvalid):
            return None


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
class Attachment:
    """A file that travels with an e-mail (a fair's calendar entries)."""

    filename: str
    content: bytes
    maintype: str
    subtype: str


@dataclass(frozen=True)
class Letter:
    """One e-mail before rendering: its templates' name, the subject and their values.

    `kind` is what a staff member's preferences and the unsubscribe link name; a
    `transactional` letter (a placement, a fair timetable, a bounce) goes out whatever the
    recipient unsubscribed from, and says why in `transactional_note`.
    """

    template: str
    subject: str
    values: Mapping[str, Any]
    kind: str = "notice"
    transactional: bool = False
    transactional_note: str = ""
    attachments: tuple[Attachment, ...] = ()


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


NUMBER_WORDS = ("null", "ein", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun",
                "zehn", "elf", "zwölf")  # fmt: skip


def number_word(count: int) -> str:
    """`drei` for 3: German writes small numbers in running text as words; 13 on as digits."""
    return NUMBER_WORDS[count] if 0 <= count < len(NUMBER_WORDS) else str(count)


def proposals_phrase(count: int) -> str:
    """`einen neuen Vermittlungsvorschlag`, `zwei neue Vermittlungsvorschläge`."""
    if count == 1:
        return "einen neuen Vermittlungsvorschlag"
    return f"{number_word(count)} neue Vermittlungsvorschläge"


def places_sentence(places: int) -> str:
    """What a filled position adds about its places: nothing for one, all of them for more."""
    if places == 1:
        return ""
    if places == 2:
        return "Beide Ausbildungsplätze sind vergeben."
    return f"Alle {number_word(places)} Ausbildungsplätze sind vergeben."


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
        return f"Neue Vorschläge: {len(positions)} Ausbildungsstellen für eine Bewerbung aus {town}"
    return f"Neue Vorschläge: {len(applicants)} Bewerbungen für {len(positions)} Ausbildungsstellen"


def proposal_letter(event: MatchProposed, staff: Recipient, links: ActionLinks) -> Letter:
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
        kind="match.proposed",
        values={
            "groups": views,
            "proposals_count": proposals_phrase(len(event.proposals)),
            "positions_count": number_word(len(groups)),
            "for_applicant": len(groups) > 1,
            "applicant_town": event.proposals[0].applicant.home_town,
            "link_lifetime": links.lifetime,
        },
    )


def _proposal_view(proposal: Proposal, staff: Recipient, links: ActionLinks) -> ProposalView:
    def link(decision: Decision) -> str:
        assert staff.staff_id is not None, "proposals go to staff only"
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


def filled_letter(event: PositionFilled, staff: Recipient) -> Letter:
    return Letter(
        template="position_filled",
        subject=filled_subject(event),
        kind="position.filled",
        values={
            "position": _position_view(event),
            "places_sentence": places_sentence(event.places),
        },
    )


def episode_subject(event: EpisodePublished) -> str:
    return f"Neue Podcastfolge: „{event.title}“"


def episode_letter(event: EpisodePublished, staff: Recipient) -> Letter:
    """The title and day, what the episode is about, a link to listen and the podcast page.

    All of it comes with the event, so the e-mail goes out while media is down. The feed
    is XML for podcast apps, so it is named as their address rather than linked. An event
    from an older media carries no audio: the e-mail then names the feed only.
    """
    return Letter(
        template="episode_published",
        subject=episode_subject(event),
        kind="episode.published",
        values={
            "title": event.title,
            "feed_url": event.feed_url,
            "published": berlin_date(event.published_at),
            "description": (event.description or "").strip(),
            "audio_url": event.audio_url,
            "duration": minutes(event.duration_s) if event.duration_s else "",
            "page_url": event.page_url,
        },
    )


def letter(event: Event, staff: Recipient, links: ActionLinks) -> Letter:
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
    """What a page for an action link says, and its HTTP status.

    `message` leads; `proposal` is the table of who and which position; `detail` follows
    it; `form` is the one decision the page still offers (a button), if any; `notes` are
    small print; `reference` the proposal id, small. `tone` colours the page's edge: done
    (decided), ask (a decision to confirm), stop (nothing can be done here).
    """

    status: int
    title: str
    message: str
    detail: str = ""
    proposal: ProposalSummary | None = None
    form: Decision | None = None
    notes: tuple[str, ...] = ()
    reference: str = ""
    tone: Literal["done", "ask", "stop"] = "stop"


INFINITIVE = {"accept": "anzunehmen", "decline": "abzulehnen"}
BUTTON = {"accept": "Vorschlag annehmen", "decline": "Vorschlag ablehnen"}
PARTICIPLE = {"accepted": "angenommen", "declined": "abgelehnt"}
TITLE_OF_STATUS = {"accepted": "Vorschlag angenommen", "declined": "Vorschlag abgelehnt"}
STATUS_OF = {"accept": "accepted", "decline": "declined"}
NO_LONGER = {
    "accept": "Annehmen ist nicht mehr möglich: Es gilt die erste Entscheidung.",
    "decline": "Ablehnen ist nicht mehr möglich: Es gilt die erste Entscheidung.",
}
NOTHING_CHANGED = "Über den Vorschlag war bereits entschieden; dieser Klick hat nichts geändert."
OPENING_CHANGES_NOTHING = (
    "Entschieden wird erst mit dem Klick auf die Schaltfläche; das Öffnen des Links allein "
    "ändert nichts."
)
FIRST_DECISION_HOLDS = (
    "Es gilt die erste Entscheidung über einen Vorschlag; ändern lässt sie sich danach nicht mehr."
)
ASK_THE_TEAM = "Wenn Sie Fragen haben, wenden Sie sich bitte an das DIKO-Team."

LINK_INVALID = Page(
    400,
    "Link ungültig",
    "Dieser Link ist ungültig. Bitte öffnen Sie ihn direkt aus der E-Mail; "
    "beim Kopieren wird ein Link manchmal abgeschnitten.",
)
NOT_SENT = Page(
    503,
    "Gerade nicht möglich",
    "Ihre Entscheidung konnte gerade nicht übermittelt werden. Bitte versuchen Sie es "
    "in ein paar Minuten noch einmal mit demselben Link.",
)
UNCONFIRMED = Page(
    202,
    "Entscheidung übermittelt",
    "Ihre Entscheidung ist unterwegs, aber noch nicht bestätigt: Das Matching antwortet "
    "gerade nicht. Sobald es wieder läuft, wird sie verarbeitet; Sie müssen nichts weiter tun.",
    tone="done",
)


@dataclass(frozen=True)
class Viewer:
    """Who opened a link and what it asks for, with the names of staff who decided."""

    action: Action
    names: Mapping[str, str]


def decided_sentence(decision: DecisionRecord, viewer: Viewer) -> str:
    """Who decided and when: `Birte Albrecht hat diesen Vorschlag am … um … Uhr angenommen.`"""
    when = berlin_moment(decision.decided_at)
    done = PARTICIPLE[decision.status]
    if decision.decided_by == viewer.action.staff_id:
        return f"Sie haben diesen Vorschlag {when} {done}."
    name = viewer.names.get(decision.decided_by or "")
    if name:
        return f"{name} hat diesen Vorschlag {when} {done}."
    return f"Dieser Vorschlag wurde {when} {done}."


def _summary(record: ProposalRecord | None) -> ProposalSummary | None:
    return record.summary if record is not None else None


def decided_page(
    decision: DecisionRecord,
    record: ProposalRecord,
    viewer: Viewer,
    *,
    status: int = 200,
    notes: tuple[str, ...] = (),
) -> Page:
    """Where a decided proposal stands; the other decision is no longer offered."""
    wanted = STATUS_OF[viewer.action.decision]
    return Page(
        status,
        TITLE_OF_STATUS[decision.status],
        decided_sentence(decision, viewer),
        detail="" if wanted == decision.status else NO_LONGER[viewer.action.decision],
        proposal=record.summary,
        notes=notes,
        reference=record.proposal_id,
        tone="done",
    )


def filled_page(record: ProposalRecord, *, status: int = 200) -> Page:
    """An open proposal whose position has no place left: accepting it is not possible."""
    return Page(
        status,
        "Stelle schon besetzt",
        "Die Ausbildungsstelle dieses Vorschlags ist inzwischen besetzt; "
        "annehmen lässt er sich deshalb nicht mehr.",
        proposal=record.summary,
        notes=(ASK_THE_TEAM,),
        reference=record.proposal_id,
    )


def withdrawn_page(record: ProposalRecord, *, status: int = 200) -> Page:
    """matching withdrew the proposal: its links are revoked, in matching's words why."""
    return Page(
        status,
        "Vorschlag zurückgezogen",
        "Dieser Vorschlag ist nicht mehr aktuell; annehmen oder ablehnen lässt er sich nicht mehr.",
        detail=record.withdrawn or "",
        proposal=record.summary,
        notes=(ASK_THE_TEAM,),
        reference=record.proposal_id,
    )


def confirm_page(record: ProposalRecord | None, viewer: Viewer) -> Page:
    """GET: where the proposal stands, and the button only if the decision is still open."""
    action = viewer.action
    if record is not None and record.decision is not None:
        return decided_page(record.decision, record, viewer)
    if record is not None and record.withdrawn:
        return withdrawn_page(record)
    if record is not None and record.position_filled and action.decision == "accept":
        return filled_page(record)
    summary = _summary(record)
    verb = INFINITIVE[action.decision]
    if summary is not None:
        message = f"Sie sind dabei, diesen Vorschlag {verb}:"
    else:
        message = (
            f"Sie sind dabei, den Vorschlag mit der Referenz {action.proposal_id} {verb}. "
            "Um wen und um welche Stelle es geht, steht in der E-Mail, aus der Sie diesen "
            "Link geöffnet haben."
        )
    filled = record is not None and record.position_filled
    return Page(
        200,
        f"{BUTTON[action.decision]}?",
        message,
        detail=FIRST_DECISION_HOLDS,
        proposal=summary,
        form=action.decision,
        notes=(
            *(("Die Ausbildungsstelle ist inzwischen besetzt.",) if filled else ()),
            OPENING_CHANGES_NOTHING,
        ),
        reference=action.proposal_id,
        tone="ask",
    )


def settled_page(record: ProposalRecord | None, viewer: Viewer) -> Page | None:
    """POST on a proposal already decided (or whose position is full): nothing is sent.

    None: the decision is still open, as far as the service knows; matching decides.
    """
    if record is None:
        return None
    if record.decision is not None:
        wanted = STATUS_OF[viewer.action.decision]
        status = 200 if record.decision.status == wanted else 409
        return decided_page(
            record.decision, record, viewer, status=status, notes=(NOTHING_CHANGED,)
        )
    if record.withdrawn:
        return withdrawn_page(record, status=409)
    if record.position_filled and viewer.action.decision == "accept":
        return filled_page(record, status=409)
    return None


def answer_page(reply: Mapping[str, Any], record: ProposalRecord | None, viewer: Viewer) -> Page:
    """POST: the page for matching's answer to `match.decide`.

    `record` is what the service learnt after the answer (the decision's event, with who
    took it and when); without it the page says what matching answered, and no more.
    """
    action = viewer.action
    summary = _summary(record)
    if reply.get("ok"):
        status = str((reply.get("data") or {}).get("status", STATUS_OF[action.decision]))
        if record is not None and record.decision is not None:
            mine = record.decision.decided_by == action.staff_id
            notes = () if mine else (NOTHING_CHANGED,)
            return decided_page(record.decision, record, viewer, notes=notes)
        return Page(
            200,
            TITLE_OF_STATUS.get(status, "Entscheidung übermittelt"),
            f"Der Vorschlag ist {PARTICIPLE.get(status, 'entschieden')}.",
            proposal=summary,
            reference=action.proposal_id,
            tone="done",
        )
    code = str((reply.get("error") or {}).get("code", ""))
    if code == "conflict":
        if record is not None and record.decision is not None:
            return decided_page(
                record.decision, record, viewer, status=409, notes=(NOTHING_CHANGED,)
            )
        if record is not None and record.position_filled and action.decision == "accept":
            return filled_page(record, status=409)
        return Page(
            409,
            "Nicht mehr möglich",
            f"Diesen Vorschlag {INFINITIVE[action.decision]} ist nicht mehr möglich: "
            "Über ihn ist bereits entschieden, oder seine Ausbildungsstelle ist besetzt.",
            proposal=summary,
            notes=(ASK_THE_TEAM,),
            reference=action.proposal_id,
        )
    if code == "not_found":
        return Page(
            404,
            "Vorschlag nicht gefunden",
            "Einen Vorschlag mit dieser Referenz kennt das Matching nicht. "
            "Bitte wenden Sie sich an das DIKO-Team.",
            reference=action.proposal_id,
        )
    return Page(
        502,
        "Entscheidung nicht möglich",
        "Das Matching konnte Ihre Entscheidung nicht verarbeiten. Bitte versuchen Sie es "
        "später noch einmal oder wenden Sie sich an das DIKO-Team.",
        notes=(f"Fehlercode: {code or 'unbekannt'}",),
        reference=action.proposal_id,
    )


def expired_page(record: ProposalRecord | None, viewer: Viewer | None, lifetime: str) -> Page:
    """An expired link decides nothing, but still says where its proposal stands, if known."""
    message = f"Dieser Link ist abgelaufen: Links aus den E-Mails gelten {lifetime}."
    if record is not None and record.decision is not None and viewer is not None:
        detail = decided_sentence(record.decision, viewer)
    elif record is not None and record.withdrawn:
        detail = f"Der Vorschlag ist inzwischen zurückgezogen: {record.withdrawn}"
    elif record is not None and record.position_filled:
        detail = "Die Ausbildungsstelle dieses Vorschlags ist inzwischen besetzt."
    else:
        detail = (
            "Über den Vorschlag ist noch nicht entschieden. Wenn Sie ihn annehmen oder "
            "ablehnen möchten, wenden Sie sich bitte an das DIKO-Team."
        )
    return Page(
        410,
        "Link abgelaufen",
        message,
        detail=detail,
        proposal=_summary(record),
        reference=viewer.action.proposal_id if viewer is not None else "",
    )
