"""The test service's messages, registered in the catalogue like any service's."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from diko_shared.contract.base import Empty, Payload, examples
from diko_shared.contract.catalogue import CATALOGUE

SERVICE = "testsvc"

Item = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9-]+$")]


class AddToTally(Payload):
    """Add `amount` to the tally of `item`."""

    model_config = examples({"item": "apples", "amount": 3})

    item: Item
    amount: Annotated[int, Field(ge=1, le=1000)]
    crash: bool = Field(
        False, description="SIGKILL the service after a direct write, before commit"
    )


class TallyTotal(Payload):
    item: str
    total: int
    count: int


class TallyAdded(Payload):
    item: str
    amount: int


class FlakyWork(Payload):
    """Fails while the item's switch is broken or until it has failed `fail_times` times."""

    item: Item
    fail_times: Annotated[int, Field(ge=0, le=1000)]


class FlakyDone(Payload):
    item: str
    attempts: int


class HoldWork(Payload):
    """Work whose first attempt holds the handler for `hold_s` seconds (a message in flight)."""

    item: Item
    hold_s: Annotated[float, Field(ge=0, le=3600)]


class HoldDone(Payload):
    item: str
    attempts: int


class Remind(Payload):
    """Schedule a reminder about `item` at `at` (a due item); `fail` makes its run fail."""

    model_config = examples({"item": "apples", "at": "2040-01-01T08:00:00Z"})

    item: Item
    at: datetime
    fail: Annotated[str, Field(pattern=r"^(|domain|hold|\d+)$")] = Field(
        "",
        description="'domain': a final error; a number: fail that many times first; 'hold': "
        "wait (like a call to a service that is down) until `released` names the item",
    )


class Reminded(Payload):
    item: str
    due_at: datetime


class GetTally(Payload):
    item: Item


class Reserve(Payload):
    """Claim `name` for this message, then fail as `fail` says, or keep it."""

    name: Item
    fail: Literal["no", "domain", "permanent", "transient"] = "no"


class Reserved(Payload):
    name: str
    holder: str


CATALOGUE.command("tally.add", SERVICE, AddToTally, TallyTotal, "Add to a tally.")
CATALOGUE.command("tally.flaky", SERVICE, FlakyWork, FlakyDone, "Work that fails for a while.")
CATALOGUE.command("tally.hold", SERVICE, HoldWork, HoldDone, "Work that holds on first try.")
CATALOGUE.command("tally.reserve", SERVICE, Reserve, Reserved, "Claim a name, maybe fail.")
CATALOGUE.command("tally.remind", SERVICE, Remind, Empty, "Schedule a reminder.")
CATALOGUE.event("tally.reminded", SERVICE, Reminded, "A reminder's time has come.")
CATALOGUE.query("tally.get", SERVICE, GetTally, TallyTotal, "Read a tally.")
CATALOGUE.event("tally.added", SERVICE, TallyAdded, "Something was added to a tally.")
CATALOGUE.reacts(SERVICE, "tally.added")
