"""Reading a body as an envelope of one message type: its version, and tolerance for events.

- **Commands and queries are read strictly.** A field the model does not know is an
  error (`extra_forbidden`): an integrator learns of a typo instead of seeing it ignored.
- **Events are read tolerantly.** A field this version does not know, at the top of the
  payload or in a model nested anywhere inside it (a proposal inside `match.proposed`),
  is ignored and counted (`diko_unknown_fields_total{type,field}`), so that a producer
  that is one release ahead does not stop its consumers. Every field the model knows is
  checked exactly as strictly as before: its type, its limits, the text rule. A missing
  optional field takes its default, as it always did.
- **Versions.** The envelope's `dataschema` names the schema version of `data`
  (`contract.versions`). The version producers send now is read with the current model;
  an earlier version the catalogue still lists is read with its own model and upgraded to
  the current one, so that a handler only sees the current model. A version newer than
  this process knows is `NewerVersion`: the pipeline puts the message back for a later
  attempt, which an upgraded replica may take, and dead-letters it as
  `unsupported_version` when the attempts are used up.

The common case costs what strict validation always cost: the body is validated once,
strictly. Only a body that fails because of unknown fields is validated again, leniently.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from functools import cached_property
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from diko_shared.contract import problems, versions
from diko_shared.contract.catalogue import MessageSpec
from diko_shared.contract.envelope import Envelope, ErrorCode, ErrorDetail
from diko_shared.messaging.errors import Rejected

log = logging.getLogger(__name__)

_URI = re.compile(versions.PATTERN)


class Sink(Protocol):
    """Where a reader reports what it tolerated (the service's metrics)."""

    def unknown_field(self, type_: str, field: str) -> None: ...

    def earlier_version(self, type_: str, version: int) -> None: ...


class UnsupportedVersion(Rejected):
    """The message names a schema version this process does not read."""

    def __init__(self, spec: MessageSpec, version: int) -> None:
        reads = ", ".join(str(v) for v in spec.reads())
        if version > spec.version:
            text = (
                f"Die Nachricht hat Version {version} des Schemas von {spec.type!r}; dieser "
                f"Dienst kennt erst die Versionen {reads}. Sie wird erneut zugestellt, sobald "
                "ein aktualisierter Dienst sie annimmt."
            )
        else:
            text = (
                f"Version {version} des Schemas von {spec.type!r} wird nicht mehr gelesen; "
                f"gelesen werden die Versionen {reads}."
            )
        detail = ErrorDetail(field="dataschema", problem=text, type="unsupported_version")
        super().__init__("unsupported_version", text, ErrorCode.VALIDATION_ERROR, [detail])
        self.version = version
        self.newer = version > spec.version


class Reader:
    """Reads bodies of one message type (see the module's docstring)."""

    def __init__(self, spec: MessageSpec) -> None:
        self.spec = spec
        self.type = spec.type
        self.tolerant = spec.tolerant
        self.current: type[Envelope[Any]] = Envelope[spec.payload]  # type: ignore[name-defined]
        self.uri = spec.dataschema
        self.version = spec.version

    @cached_property
    def _earlier(self) -> dict[int, tuple[type[Envelope[Any]], Any]]:
        return {
            old.version: (Envelope[old.payload], old.upgrade)  # type: ignore[name-defined]
            for old in self.spec.earlier
        }

    def read(self, body: bytes, sink: Sink) -> Envelope[Any]:
        """The envelope with the current payload model; `ValidationError` or `Rejected` if not.

        An envelope of another type is returned as it is (the pipeline refuses it as
        `wrong_queue`); a `ValidationError` is the pipeline's to explain (`_rejection`).
        """
        try:
            envelope = self._validate(self.current, body, sink)
        except ValidationError:
            version = self._claimed_version(body)
            if version is None or version == self.version:
                raise
            return self._read_version(version, body, sink)
        schema = envelope.dataschema
        if schema == self.uri or envelope.type != self.type:
            return envelope
        version = self._version_of(schema)
        if version == self.version:
            return envelope
        return self._read_version(version, body, sink)

    def _validate(self, model: type[Envelope[Any]], body: bytes, sink: Sink) -> Envelope[Any]:
        """Strictly; for an event that failed only for unknown fields, again without them."""
        try:
            return model.model_validate_json(body)
        except ValidationError as exc:
            if not self.tolerant or not any(e["type"] == "extra_forbidden" for e in exc.errors()):
                raise
        lenient = model.model_validate_json(body, extra="allow")  # raises the other errors
        if lenient.type == self.type:
            for field in sorted(set(unknown_fields(lenient.data))):
                sink.unknown_field(self.type, field)
        return model.model_validate_json(body, extra="ignore")

    def _version_of(self, schema: str | None) -> int:
        if schema is None:
            return versions.UNVERSIONED
        named, version = versions.parse(schema)
        if named != self.type:
            text = (
                f"dataschema nennt den Typ {named!r}, die Nachricht ist aber vom Typ {self.type!r}."
            )
            detail = ErrorDetail(field="dataschema", problem=text, type="dataschema_type")
            raise Rejected("bad_envelope", text, details=[detail])
        return version

    def _claimed_version(self, body: bytes) -> int | None:
        """The version a body that failed validation names, if it names one of this type."""
        try:
            claimed = json.loads(body)
        except ValueError:
            return None
        if not isinstance(claimed, dict) or claimed.get("type") != self.type:
            return None
        schema = claimed.get("dataschema")
        if schema is None:
            return versions.UNVERSIONED
        if not isinstance(schema, str) or _URI.fullmatch(schema) is None:
            return None  # the envelope's own validation says what is wrong with it
        named, version = versions.parse(schema)
        return version if named == self.type else None

    def _read_version(self, version: int, body: bytes, sink: Sink) -> Envelope[Any]:
        """A body of an earlier version, read with its model and upgraded to the current one."""
        found = self._earlier.get(version)
        if found is None:
            raise UnsupportedVersion(self.spec, version)
        model, upgrade = found
        old = self._validate(model, body, sink)
        try:
            data = upgrade(old.data)
        except ValidationError as exc:
            details = problems.of(exc, ("data",))
            raise Rejected(
                "validation_error",
                f"Die Nutzdaten der Version {version} lassen sich nicht in die aktuelle "
                f"Version {self.version} von {self.type!r} überführen.",
                details=details,
            ) from None
        if not isinstance(data, self.spec.payload):
            raise TypeError(
                f"the upgrade of {self.type!r} from version {version} returned "
                f"{type(data).__name__}, not {self.spec.payload.__name__}"
            )
        sink.earlier_version(self.type, version)
        fields = {name: getattr(old, name) for name in type(old).model_fields}
        return self.current.model_construct(**{**fields, "data": data})


def unknown_fields(value: Any, path: str = "") -> Iterator[str]:
    """The paths of the fields kept as extra in a model read with `extra="allow"`.

    `proposals[].position.floor`: list positions and mapping keys are left out (`[]`,
    `{}`), so that a field counts once however many entries carry it.
    """
    if isinstance(value, BaseModel):
        for name in value.__pydantic_extra__ or {}:
            yield f"{path}{name}"
        for name in type(value).model_fields:
            yield from unknown_fields(getattr(value, name), f"{path}{name}.")
    elif isinstance(value, list | tuple):
        for item in value:
            yield from unknown_fields(item, f"{path[:-1]}[].")
    elif isinstance(value, dict):
        for item in value.values():
            yield from unknown_fields(item, f"{path[:-1]}{{}}.")
