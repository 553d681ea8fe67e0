"""The benchmark's own message types, registered like a service's."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from diko_shared.contract.base import Payload
from diko_shared.contract.catalogue import CATALOGUE

SERVICE = "bench"


class Record(Payload):
    """A reading to store; `sent_at` (epoch seconds) lets the receiver measure latency."""

    seq: Annotated[int, Field(ge=0)]
    sent_at: float
    station: Annotated[str, Field(min_length=1, max_length=40)]
    value: float


class Recorded(Payload):
    seq: int
    sent_at: float


class Receipt(Payload):
    record_id: str


CATALOGUE.command("bench.record", SERVICE, Record, Receipt, "Store a reading.")
CATALOGUE.event("bench.recorded", SERVICE, Recorded, "A reading was stored.")
