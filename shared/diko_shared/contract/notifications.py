"""Messages owned by the notifications service: staff, subscriptions and deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from diko_shared.contract.base import Payload, examples
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.common import Email, Name, StaffId

OWNER = "notifications"

#: The events staff can subscribe to.
Topic = Literal["match.proposed", "position.filled", "episode.published"]
DeliveryId = Annotated[str, Field(pattern=r"^dlv_[0-9a-f]{20}$")]
#: How staff get their e-mails: one per event. A daily digest ("digest") comes with
#: `digest.sent`; until then the service accepts only what it delivers.
Mode = Literal["immediate"]


class RegisterStaff(Payload):
    """Register a staff member who may receive e-mails."""

    model_config = examples(
        {"name": "Birte Albrecht", "email": "birte.albrecht@diko.example", "role": "Beraterin"}
    )

    name: Name
    email: Email
    role: Name | None = None


class StaffRef(Payload):
    model_config = examples({"staff_id": "stf_0123456789abcdef0123"})

    staff_id: StaffId


class Subscribe(Payload):
    """Choose which events a staff member is e-mailed about, and how."""

    model_config = examples(
        {
            "staff_id": "stf_0123456789abcdef0123",
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
            "staff_id": "stf_0123456789abcdef0123",
            "topics": ["match.proposed", "position.filled"],
            "mode": "immediate",
        }
    )

    staff_id: StaffId
    topics: list[Topic]
    mode: Mode


class NotificationSent(Payload):
    """An e-mail about an event was handed to the SMTP server for one staff member."""

    model_config = examples(
        {
            "delivery_id": "dlv_0123456789abcdef0123",
            "staff_id": "stf_0123456789abcdef0123",
            "event_id": "3f6c1d3e-0000-4000-8000-000000000000",
            "event_type": "match.proposed",
            "subject": "Neue Vorschläge für Tischler/in bei Tischlerei Müller GmbH (Stendal)",
        }
    )

    delivery_id: DeliveryId
    staff_id: StaffId
    event_id: str
    event_type: str
    subject: str


class NotificationFailed(Payload):
    """An e-mail about an event could not be delivered to one staff member."""

    model_config = examples(
        {
            "delivery_id": "dlv_0123456789abcdef0123",
            "staff_id": "stf_0123456789abcdef0123",
            "event_id": "3f6c1d3e-0000-4000-8000-000000000000",
            "event_type": "match.proposed",
            "error": "550 5.1.0 Requested action not taken: mailbox unavailable",
            "permanent": True,
        }
    )

    delivery_id: DeliveryId
    staff_id: StaffId
    event_id: str
    event_type: str
    error: str
    permanent: bool = Field(
        description="true: the server refused the mail (5xx); false: it kept failing temporarily"
    )


class ListDeliveries(Payload):
    model_config = examples({"event_id": "3f6c1d3e-0000-4000-8000-000000000000"})

    event_id: str | None = None
    staff_id: StaffId | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 100


class Delivery(Payload):
    delivery_id: DeliveryId
    staff_id: StaffId
    email: Email
    event_id: str
    event_type: str
    subject: str
    status: Literal["pending", "sent", "failed"]
    attempts: int
    error: str | None = None
    sent_at: datetime | None = None


class DeliveryList(Payload):
    model_config = examples(
        {
            "deliveries": [
                {
                    "delivery_id": "dlv_0123456789abcdef0123",
                    "staff_id": "stf_0123456789abcdef0123",
                    "email": "birte.albrecht@diko.example",
                    "event_id": "3f6c1d3e-0000-4000-8000-000000000000",
                    "event_type": "match.proposed",
                    "subject": "Neuer Vorschlag für Tischler/in (Stendal)",
                    "status": "sent",
                    "attempts": 1,
                    "sent_at": "2026-11-26T10:00:05Z",
                }
            ]
        }
    )

    deliveries: list[Delivery]


CATALOGUE.command("staff.register", OWNER, RegisterStaff, StaffRef, "Register a staff member.")
CATALOGUE.command(
    "staff.subscribe",
    OWNER,
    Subscribe,
    Subscription,
    "Subscribe a staff member to e-mails about events.",
)
CATALOGUE.query("notification.deliveries", OWNER, ListDeliveries, DeliveryList, "The delivery log.")
CATALOGUE.event("notification.sent", OWNER, NotificationSent, "An e-mail was handed to SMTP.")
CATALOGUE.event(
    "notification.failed", OWNER, NotificationFailed, "An e-mail could not be delivered."
)

CATALOGUE.reacts(
    OWNER,
    "match.proposed",
    "position.filled",
    "episode.published",
    "match.accepted",
    "match.declined",
)
