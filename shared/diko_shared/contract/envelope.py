"""The envelope every message travels in (CloudEvents 1.0 attribute names) and the reply shapes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from diko_shared.contract import rules, versions
from diko_shared.contract.base import Payload
from diko_shared.contract.catalogue import CATALOGUE

D = TypeVar("D")

#: An attribute: one line of text (the contract's text rule, no tab or line break).
NonEmpty = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, strip_whitespace=False),
    AfterValidator(rules.one_line),
]
#: When the message happened: with an offset, convertible to UTC, between 1900 and 2999.
Time = Annotated[AwareDatetime, AfterValidator(rules.check_time)]
#: The schema version of `data`, `urn:diko:schema:<type>:<version>` (`contract.versions`).
DataSchema = Annotated[str, StringConstraints(max_length=200, pattern=versions.PATTERN)]


class Envelope(BaseModel, Generic[D]):
    """A message as it travels: the attributes of docs/contract.md and the typed `data`.

    Unknown top-level attributes are ignored rather than rejected: CloudEvents allows
    extension attributes, and a producer that adds one must not break consumers.
    """

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")

    specversion: Literal["1.0"]
    id: NonEmpty
    source: NonEmpty
    type: NonEmpty
    time: Time
    dataschema: DataSchema | None = None
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
    dataschema: str | None = None,
) -> dict[str, Any]:
    """Build a JSON-ready envelope; the id defaults to a fresh UUID and the correlation id to it.

    `dataschema` defaults to the version of `type_` the catalogue's producers send; a
    type the catalogue does not know goes without one.
    """
    message_id = id_ or str(uuid.uuid4())
    body = data.model_dump(mode="json") if isinstance(data, Payload) else data
    if dataschema is None:
        spec = CATALOGUE.get(type_)
        dataschema = spec.dataschema if spec is not None else None
    return {
        "specversion": "1.0",
        "id": message_id,
        "source": source,
        "type": type_,
        "time": (time or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "dataschema": dataschema,
        "subject": subject,
        "correlationid": correlationid or message_id,
        "causationid": causationid,
        "data": body,
    }


class ErrorCode(StrEnum):
    """The error codes of docs/contract.md."""

    VALIDATION_ERROR = "validation_error"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    FORBIDDEN = "forbidden"
    UNKNOWN_TYPE = "unknown_type"
    INTERNAL = "internal"


class ErrorDetail(BaseModel):
    """One problem with one field: `data.name`, `missing`, „Das Feld fehlt.“

    `field` and `type` are for programs (the type is pydantic's error type or one of the
    contract's own, e.g. `text_character`); `problem` is a German sentence for people.
    """

    model_config = ConfigDict(frozen=True)

    field: str
    problem: str
    type: str | None = None


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
