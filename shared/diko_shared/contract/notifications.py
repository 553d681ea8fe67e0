"""Messages owned by the notifications service: staff, their responsibilities and
preferences, notices other services ask for, deliveries and digests.

Who gets what: proposals, filled positions, consultation follow-ups and fair news go to
the staff *responsible* for the place (Landkreis or Gemeinde, as the gazetteer names
them) and the occupation field (a KldB 2010 prefix); when nobody responsible receives
them, to the team address. Each staff member chooses per kind of mail: at once, in the
daily digest at an hour of their choosing (Europe/Berlin), or not at all; quiet hours
and weekends hold mail that would go out at once until they end.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from diko_shared.contract.base import Payload, examples
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.common import (
    ApplicantId,
    CompanyId,
    Email,
    Name,
    OneLine,
    StaffId,
    Text,
    Url,
)
from diko_shared.contract.senders import DEFAULT_REQUEST_SENDERS

OWNER = "notifications"

#: The events staff can subscribe to with `staff.subscribe` (the older, coarser command).
Topic = Literal["match.proposed", "position.filled", "episode.published"]
#: Every kind of e-mail a staff member chooses how to get (`staff.preferences`).
MailKind = Literal[
    "match.proposed",
    "position.filled",
    "consultation.follow_up_due",
    "fair.planned",
    "episode.published",
    "notice",
]
DeliveryId = Annotated[str, StringConstraints(pattern=r"^dlv_[0-9a-f]{20}$")]
NotificationId = Annotated[str, StringConstraints(pattern=r"^ntf_[0-9a-f]{20}$")]
ContactId = Annotated[str, StringConstraints(pattern=r"^cnt_[0-9a-f]{20}$")]
#: How staff get the e-mails of their topics: one per event, or in the daily digest.
Mode = Literal["immediate", "digest"]
#: How a staff member gets one kind of mail: at once, in the daily digest, or not at all.
KindMode = Literal["immediate", "digest", "off"]
#: A clock time of the day in Europe/Berlin, e.g. `20:00`.
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
#: A KldB 2010 prefix naming an occupation field: `2` (Rohstoffgewinnung, Produktion und
#: Fertigung), `22` (Kunststoff und Holz), … up to a whole 5-digit code.
OccupationField = Annotated[str, StringConstraints(pattern=r"^\d{1,5}$")]
IdempotencyKey = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), *OneLine
]
RecipientKind = Literal["staff", "contact", "applicant", "address"]
DeliveryStatus = Literal["pending", "held", "digest", "sent", "failed", "suppressed"]

_STAFF = "stf_0123456789abcdef0123"
_DELIVERY = "dlv_0123456789abcdef0123"
_EVENT = "3f6c1d3e-0000-4000-8000-000000000000"


class Responsibilities(Payload):
    """What a staff member is responsible for: places and occupation fields.

    A proposal, a filled position, a follow-up or a fair is theirs when its place lies in
    one of their districts or municipalities (none given: everywhere) and its occupation
    in one of their fields (none given: every field).
    """

    districts: Annotated[list[Name], Field(max_length=20)] = Field(
        default_factory=list, description="Landkreise, e.g. Stendal, Altmarkkreis Salzwedel"
    )
    municipalities: Annotated[list[Name], Field(max_length=200)] = Field(
        default_factory=list, description="Gemeinden, e.g. Tangerhütte, Arendsee (Altmark)"
    )
    occupation_fields: Annotated[list[OccupationField], Field(max_length=100)] = Field(
        default_factory=list, description="KldB 2010 prefixes, e.g. 22 (Kunststoff und Holz)"
    )


class RegisterStaff(Payload):
    """Register a staff member who may receive e-mails."""

    model_config = examples(
        {"name": "Birte Albrecht", "email": "birte.albrecht@diko.example", "role": "Beraterin"},
        {
            "name": "Gerd Möller",
            "email": "gerd.moeller@diko.example",
            "responsibilities": {
                "districts": ["Altmarkkreis Salzwedel"],
                "occupation_fields": ["2"],
            },
        },
    )

    name: Name
    email: Email
    role: Name | None = None
    responsibilities: Responsibilities | None = None


class StaffRef(Payload):
    model_config = examples({"staff_id": _STAFF})

    staff_id: StaffId


class UpdateStaff(Payload):
    """Change a staff member: fields left out stay as they are."""

    model_config = examples(
        {
            "staff_id": _STAFF,
            "responsibilities": {"municipalities": ["Tangerhütte", "Tangermünde"]},
        },
        {"staff_id": _STAFF, "email": "b.albrecht@diko.example", "active": True},
    )

    staff_id: StaffId
    name: Name | None = None
    email: Email | None = Field(
        None, description="A new address; an address marked undeliverable becomes usable again"
    )
    role: Name | None = None
    responsibilities: Responsibilities | None = Field(None, description="Replaces the earlier ones")
    active: bool | None = Field(
        None, description="false: receives nothing and is responsible for nothing"
    )


class GetStaff(Payload):
    model_config = examples({"staff_id": _STAFF}, {"email": "birte.albrecht@diko.example"})

    staff_id: StaffId | None = None
    email: Email | None = None

    @model_validator(mode="after")
    def _one_key(self) -> GetStaff:
        if (self.staff_id is None) == (self.email is None):
            raise ValueError("give exactly one of staff_id and email")
        return self


class QuietHours(Payload):
    """A daily span (Europe/Berlin) in which mail that would go out at once is held."""

    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self


class SetPreferences(Payload):
    """How a staff member gets each kind of mail; what is left out stays as it is."""

    model_config = examples(
        {
            "staff_id": _STAFF,
            "kinds": {"match.proposed": "immediate", "position.filled": "digest"},
            "digest_hour": 7,
            "quiet_hours": {"start": "19:00", "end": "07:00"},
            "weekends": True,
        },
        {"staff_id": _STAFF, "clear": ["quiet_hours"]},
    )

    staff_id: StaffId
    kinds: dict[MailKind, KindMode] = Field(
        default_factory=dict, description="Only the kinds named change"
    )
    digest_hour: Annotated[int, Field(ge=0, le=23)] | None = Field(
        None, description="The hour (Europe/Berlin) the daily digest goes out"
    )
    quiet_hours: QuietHours | None = None
    weekends: bool | None = Field(
        None, description="true: hold mail on Saturdays and Sundays until Monday's end of quiet"
    )
    clear: list[Literal["quiet_hours"]] = Field(
        default_factory=list, description="Settings to remove"
    )


class Preferences(Payload):
    """A staff member's preferences as they stand."""

    model_config = examples(
        {
            "staff_id": _STAFF,
            "kinds": {
                "match.proposed": "immediate",
                "position.filled": "digest",
                "consultation.follow_up_due": "immediate",
                "fair.planned": "digest",
                "episode.published": "off",
                "notice": "immediate",
            },
            "digest_hour": 7,
            "quiet_hours": {"start": "19:00", "end": "07:00"},
            "weekends": True,
            "timezone": "Europe/Berlin",
        }
    )

    staff_id: StaffId
    kinds: dict[MailKind, KindMode]
    digest_hour: int
    quiet_hours: QuietHours | None = None
    weekends: bool
    timezone: Literal["Europe/Berlin"] = "Europe/Berlin"


class StaffRecord(Payload):
    """A staff member as notifications knows them."""

    model_config = examples(
        {
            "staff_id": _STAFF,
            "name": "Birte Albrecht",
            "email": "birte.albrecht@diko.example",
            "role": "Beraterin",
            "active": True,
            "team": False,
            "undeliverable": False,
            "responsibilities": {"districts": ["Stendal"], "occupation_fields": ["22", "25"]},
            "preferences": Preferences.model_config["json_schema_extra"]["examples"][0],  # type: ignore[index]
        }
    )

    staff_id: StaffId
    name: Name
    email: Email
    role: Name | None = None
    active: bool
    team: bool = Field(description="The team address: what nobody responsible receives")
    undeliverable: bool = Field(description="The address refused mail for good (a bounce)")
    responsibilities: Responsibilities
    preferences: Preferences


class Subscribe(Payload):
    """Choose which events a staff member is e-mailed about, and how (the coarse form of
    `staff.preferences`: the topics named get `mode`, the other two topics are off)."""

    model_config = examples(
        {
            "staff_id": _STAFF,
            "topics": ["match.proposed", "position.filled"],
            "mode": "immediate",
        }
    )

    staff_id: StaffId
    topics: list[Topic] = Field(
        description="Every event the staff member wants e-mails about; replaces earlier "
        "topics; an empty list unsubscribes from all"
    )
    mode: Mode = "immediate"


class Subscription(Payload):
    model_config = examples(
        {
            "staff_id": _STAFF,
            "topics": ["match.proposed", "position.filled"],
            "mode": "immediate",
        }
    )

    staff_id: StaffId
    topics: list[Topic]
    mode: Mode


# -- notices other services ask for -----------------------------------------------------------


class NoticeRecipient(Payload):
    """Whom a notice goes to: exactly one of a staff member, a company contact person, a
    company (its contact person for placements), an applicant, or a bare address."""

    staff_id: StaffId | None = None
    contact_id: ContactId | None = None
    company_id: CompanyId | None = Field(
        None, description="The company's contact person (Ausbilder/in first)"
    )
    applicant_id: ApplicantId | None = None
    email: Email | None = Field(None, description="An address diko keeps no record of")
    name: Name | None = Field(None, description="With `email`: how to greet them")

    @model_validator(mode="after")
    def _exactly_one(self) -> NoticeRecipient:
        given = [
            k
            for k in ("staff_id", "contact_id", "company_id", "applicant_id", "email")
            if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of staff_id, contact_id, company_id, applicant_id and email"
            )
        if self.name is not None and self.email is None:
            raise ValueError("name goes only with email")
        return self


class NoticeAction(Payload):
    """One button in the notice: a link of the sender's own (e.g. a signed approval link)."""

    label: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    url: Url


class SendNotification(Payload):
    """Send a templated notice to one person. The idempotency key (per sender) makes a
    repeat a no-op: the same key never sends a second mail, whatever else it carries."""

    model_config = examples(
        {
            "idempotency_key": "post-approval/pst_0123456789abcdef0123",
            "to": {"company_id": "cmp_0123456789abcdef0123"},
            "subject": "Ihr Beitrag „Azubi gesucht: Tischler/in“ wartet auf Ihre Freigabe",
            "paragraphs": [
                "wir haben einen Instagram-Beitrag für Ihren Betrieb vorbereitet.",
                "Bitte sehen Sie ihn sich an und geben Sie ihn frei, wenn er Ihnen gefällt.",
            ],
            "action": {
                "label": "Beitrag ansehen und freigeben",
                "url": "https://media.diko.example/posts/approve/abc",
            },
            "reason": "Sie sind für Ihren Betrieb die Ansprechperson für Beiträge bei DIKO.",
        }
    )

    idempotency_key: IdempotencyKey
    to: NoticeRecipient
    subject: Name
    paragraphs: Annotated[list[Text], Field(min_length=1, max_length=20)] = Field(
        description="The notice's text, one paragraph each, after the greeting"
    )
    action: NoticeAction | None = None
    transactional: bool = Field(
        True,
        description="true: goes out whatever the recipient opted out of (say why in "
        "`reason`); false: only to whoever has not unsubscribed (for a contact: who "
        "consented to the newsletter)",
    )
    reason: Name | None = Field(None, description="Why the recipient gets this, for the footer")
    requested_by: Name | None = None


class NotificationAccepted(Payload):
    """What became of a notice."""

    model_config = examples(
        {
            "notification_id": "ntf_0123456789abcdef0123",
            "delivery_id": _DELIVERY,
            "status": "sent",
            "duplicate": False,
        }
    )

    notification_id: NotificationId
    delivery_id: DeliveryId | None = None
    status: DeliveryStatus | Literal["no_address"]
    duplicate: bool = Field(description="true: the key was used before; nothing was sent now")
    error: str | None = None


class NotificationSent(Payload):
    """An e-mail was handed to the SMTP server for one recipient."""

    model_config = examples(
        {
            "delivery_id": _DELIVERY,
            "staff_id": _STAFF,
            "recipient_kind": "staff",
            "recipient_id": _STAFF,
            "event_id": _EVENT,
            "event_type": "match.proposed",
            "subject": "Neue Vorschläge für Tischler/in bei Tischlerei Müller GmbH (Stendal)",
        }
    )

    delivery_id: DeliveryId
    staff_id: StaffId | None = Field(None, description="Set when the recipient is staff")
    recipient_kind: RecipientKind = "staff"
    recipient_id: str | None = Field(
        None, description="stf_…, cnt_…, apl_…, or the address's key for a bare address"
    )
    event_id: str = Field(description="The event, notice or digest the e-mail is about")
    event_type: str = Field(description="The event's type, `notification.send` or `digest`")
    subject: str


class NotificationFailed(Payload):
    """An e-mail could not be delivered to one recipient."""

    model_config = examples(
        {
            "delivery_id": _DELIVERY,
            "staff_id": _STAFF,
            "recipient_kind": "staff",
            "recipient_id": _STAFF,
            "event_id": _EVENT,
            "event_type": "match.proposed",
            "error": "550 5.1.0 Requested action not taken: mailbox unavailable",
            "permanent": True,
            "undeliverable": True,
        }
    )

    delivery_id: DeliveryId
    staff_id: StaffId | None = None
    recipient_kind: RecipientKind = "staff"
    recipient_id: str | None = None
    event_id: str
    event_type: str
    error: str
    permanent: bool = Field(
        description="true: the server refused the mail (5xx), the address is known to be "
        "undeliverable or the mail could not be built; false: it kept failing temporarily"
    )
    undeliverable: bool = Field(
        False, description="true: the address is now marked undeliverable; no more mail goes to it"
    )


class DigestItemCount(Payload):
    kind: MailKind
    count: Annotated[int, Field(ge=1)]


class DigestSent(Payload):
    """A staff member's daily digest was handed to SMTP (once per person and day)."""

    model_config = examples(
        {
            "staff_id": _STAFF,
            "delivery_id": _DELIVERY,
            "period": "2026-12-04",
            "items": [{"kind": "match.proposed", "count": 3}, {"kind": "fair.planned", "count": 1}],
        }
    )

    staff_id: StaffId
    delivery_id: DeliveryId
    period: date = Field(description="The day (Europe/Berlin) the digest is for")
    items: list[DigestItemCount]


class ListDeliveries(Payload):
    """The delivery log: per event, per person (staff id, any recipient id, or address)."""

    model_config = examples(
        {"event_id": _EVENT},
        {"email": "jana.mueller@tischlerei-mueller.example", "since": "2026-12-01T00:00:00Z"},
    )

    event_id: str | None = None
    staff_id: StaffId | None = None
    recipient_id: str | None = Field(None, description="stf_…, cnt_…, apl_…")
    email: Email | None = Field(None, description="Every delivery to this address")
    status: DeliveryStatus | None = None
    since: datetime | None = Field(None, description="Created at or after")
    until: datetime | None = Field(None, description="Created before")
    limit: Annotated[int, Field(ge=1, le=500)] = 100


class Delivery(Payload):
    delivery_id: DeliveryId
    staff_id: StaffId | None = None
    recipient_kind: RecipientKind = "staff"
    recipient_id: str | None = None
    email: Email
    event_id: str
    event_type: str
    subject: str
    status: DeliveryStatus
    attempts: int
    error: str | None = None
    permanent: bool = False
    created_at: datetime | None = None
    sent_at: datetime | None = None
    held_until: datetime | None = Field(None, description="Held for quiet hours until then")


class DeliveryList(Payload):
    model_config = examples(
        {
            "deliveries": [
                {
                    "delivery_id": _DELIVERY,
                    "staff_id": _STAFF,
                    "recipient_kind": "staff",
                    "recipient_id": _STAFF,
                    "email": "birte.albrecht@diko.example",
                    "event_id": _EVENT,
                    "event_type": "match.proposed",
                    "subject": "Neuer Vorschlag für Tischler/in (Stendal)",
                    "status": "sent",
                    "attempts": 1,
                    "created_at": "2026-11-26T10:00:04Z",
                    "sent_at": "2026-11-26T10:00:05Z",
                }
            ],
            "retention_days": 90,
        }
    )

    deliveries: list[Delivery]
    retention_days: float | None = Field(None, description="How long the log keeps a delivery")


CATALOGUE.command("staff.register", OWNER, RegisterStaff, StaffRef, "Register a staff member.")
CATALOGUE.command(
    "staff.update",
    OWNER,
    UpdateStaff,
    StaffRecord,
    "Change a staff member's name, address, role, responsibilities or whether they are active.",
)
CATALOGUE.query("staff.get", OWNER, GetStaff, StaffRecord, "A staff member with preferences.")
CATALOGUE.command(
    "staff.subscribe",
    OWNER,
    Subscribe,
    Subscription,
    "Subscribe a staff member to e-mails about events.",
)
CATALOGUE.command(
    "staff.preferences",
    OWNER,
    SetPreferences,
    Preferences,
    "How a staff member gets each kind of mail: at once, in the daily digest, or not at all.",
)
CATALOGUE.command(
    "notification.send",
    OWNER,
    SendNotification,
    NotificationAccepted,
    "Send a templated notice to a staff member, contact person or applicant, once per key.",
    senders=(*DEFAULT_REQUEST_SENDERS, "media"),
)
CATALOGUE.query("notification.deliveries", OWNER, ListDeliveries, DeliveryList, "The delivery log.")
CATALOGUE.event("notification.sent", OWNER, NotificationSent, "An e-mail was handed to SMTP.")
CATALOGUE.event(
    "notification.failed", OWNER, NotificationFailed, "An e-mail could not be delivered."
)
CATALOGUE.event("digest.sent", OWNER, DigestSent, "A staff member's daily digest went out.")

CATALOGUE.reacts(
    OWNER,
    "match.proposed",
    "match.accepted",
    "match.declined",
    "match.withdrawn",
    "position.filled",
    "episode.published",
    "fair.planned",
    "consultation.follow_up_due",
    "contact.added",
    "contact.updated",
    "contact.removed",
    "company.registered",
    "company.updated",
    "company.merged",
    "company.consent_changed",
)
