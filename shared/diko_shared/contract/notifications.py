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


class RegisterStaff(Payload):
    """Register a staff member who may receive e-mails."""

    model_config = examples(
        {"name": "Birte Albrecht", "email": "birte.albrecht@diko.example", "role": "Beraterin"}
    )

    name: Name
    email: Email
    role: Name | None = None


class StaffRef(Payload):
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
    topics: Annotated[list[Topic], Field(min_length=1)]
    mode: Literal["immediate", "digest"] = "immediate"


class Subscription(Payload):
    staff_id: StaffId
    topics: list[Topic]
    mode: Literal["immediate", "digest"]


class NotificationSent(Payload):
    delivery_id: DeliveryId
    staff_id: StaffId
    event_id: str
    event_type: str
    subject: str


class NotificationFailed(Payload):
    delivery_id: DeliveryId
    staff_id: StaffId
    event_id: str
    event_type: str
    error: str
    permanent: bool


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

CATALOGUE.reacts(OWNER, "match.proposed", "position.filled", "episode.published")
