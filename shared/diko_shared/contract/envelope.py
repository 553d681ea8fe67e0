"""The envelope every message travels in (CloudEvents 1.0 attribute names) and the reply shapes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from diko_shared.contract.base import Payload

D = TypeVar("D")

NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=False)]


class Envelope(BaseModel, Generic[D]):
    """A message as it travels: the attributes of CONTRACTS.md and the typed `data`.

    Unknown top-level attributes are ignored rather than rejected: CloudEvents allows
    extension attributes, and a producer that adds one must not break consumers.
    """

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")

    specversion: Literal["1.0"]
    id: NonEmpty
    source: NonEmpty
    type: NonEmpty
    time: AwareDatetime
    subject: NonEmpty | None = None
    correlationid: NonEmpty | None = None
    causationid: NonEmpty | None = None
    data: D


class AnyEnvelope(Envelope[dict[str, Any]]):
    """An envelope whose payload is not yet known (for messages of unknown type)."""


def new_envelope(
    type_: str,
    data: Payload | dict[str, Any],
    *,
    source: str,
    subject: str | None = None,
    correlationid: str | None = None,
    causationid: str | None = None,
    id_: str | None = None,
    time: datetime | None = None,
) -> dict[str, Any]:
    """Build a JSON-ready envelope; the id defaults to a fresh UUID and the correlation id to it."""
    message_id = id_ or str(uuid.uuid4())
    body = data.model_dump(mode="json") if isinstance(data, Payload) else data
    return {
        "specversion": "1.0",
        "id": message_id,
        "source": source,
        "type": type_,
        "time": (time or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "subject": subject,
        "correlationid": correlationid or message_id,
        "causationid": causationid,
        "data": body,
    }


class ErrorCode(StrEnum):
    """The error codes of CONTRACTS.md."""

    VALIDATION_ERROR = "validation_error"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    FORBIDDEN = "forbidden"
    UNKNOWN_TYPE = "unknown_type"
    INTERNAL = "internal"


class ErrorDetail(BaseModel):
    """One problem with one field, e.g. `data.name`: `Field required`."""

    model_config = ConfigDict(frozen=True)

    field: str
    problem: str


class ErrorBody(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: ErrorCode
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class OkReply(BaseModel, Generic[D]):
    """`{"ok": true, "data": {...}}`"""

    model_config = ConfigDict(frozen=True)

    ok: Literal[True] = True
    data: D


class ErrorReply(BaseModel):
    """`{"ok": false, "error": {"code": ..., "message": ..., "details": [...]}}`"""

    model_config = ConfigDict(frozen=True)

    ok: Literal[False] = False
    error: ErrorBody
