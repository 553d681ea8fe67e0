"""The catalogue of message types: who owns each, its kind, its payload and reply models.

The names are fixed (`contract.names`, docs/contract.md); the models live in one module
per owning service (`diko_shared.contract.companies`, ...). Everything that needs to know
about a message (validation, topology, the AsyncAPI documents, the contract document, the
CLI) asks this catalogue.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from diko_shared.contract.base import Payload
from diko_shared.contract.senders import DEFAULT_REQUEST_SENDERS
from diko_shared.contract.versions import Earlier, check_versions, schema_uri

Kind = Literal["command", "query", "event"]

#: The contract modules, one per owning service, loaded on first use of the catalogue.
CONTRACT_MODULES = (
    "diko_shared.contract.companies",
    "diko_shared.contract.matching",
    "diko_shared.contract.notifications",
    "diko_shared.contract.media",
)
#: Contract modules that span the services (data-subject rights), loaded after them.
CROSS_SERVICE_MODULES = ("diko_shared.contract.rights",)


@dataclass(frozen=True)
class MessageSpec:
    """One message type of the contract.

    `version` is the schema version its producers send (`contract.versions`); `earlier`
    are the versions before it that its readers still accept.
    """

    type: str
    owner: str
    kind: Kind
    payload: type[Payload]
    reply: type[Payload] | None = None
    summary: str = ""
    version: int = 1
    earlier: tuple[Earlier, ...] = ()
    #: Who may send it (diko_shared.contract.senders): an event only its owner; a command
    #: or query the principals named at registration, by default operator and integrators.
    senders: tuple[str, ...] = ()
    #: A query that records its request like a command (deduplicated, may stage writes and
    #: events): a data export reads, but must ask the other services and keep the result.
    recorded: bool = False

    def __post_init__(self) -> None:
        if not self.senders:
            senders = (self.owner,) if self.kind == "event" else DEFAULT_REQUEST_SENDERS
            object.__setattr__(self, "senders", senders)

    @property
    def is_request(self) -> bool:
        """Commands and queries are addressed to their owner and may be answered."""
        return self.kind in ("command", "query")

    @property
    def tolerant(self) -> bool:
        """Events are read tolerantly (unknown fields ignored); commands and queries strictly."""
        return self.kind == "event"

    @cached_property
    def dataschema(self) -> str:
        """The envelope's `dataschema` of the version producers send."""
        return schema_uri(self.type, self.version)

    def reads(self) -> dict[int, type[Payload]]:
        """Every version its readers accept, with the model of each, oldest first."""
        versions = {old.version: old.payload for old in self.earlier}
        versions[self.version] = self.payload
        return dict(sorted(versions.items()))

    def may_send(self, principal: str | None) -> bool:
        """Whether `principal` (a service name, `operator` or `integrator`) may send it."""
        return principal is not None and principal in self.senders


@dataclass
class Catalogue:
    """Message specs by type, and which service reacts to which event type."""

    _specs: dict[str, MessageSpec] = field(default_factory=dict)
    _by_payload: dict[type[Payload], MessageSpec] = field(default_factory=dict)
    _reactions: dict[str, set[str]] = field(default_factory=dict)

    def add(self, spec: MessageSpec) -> MessageSpec:
        """Register a message type; registering a type or payload twice is a programming error."""
        if spec.type in self._specs:
            raise ValueError(f"message type {spec.type!r} is registered twice")
        if spec.payload in self._by_payload:
            other = self._by_payload[spec.payload].type
            raise ValueError(f"{spec.payload.__name__} is already the payload of {other!r}")
        if spec.kind != "event" and spec.reply is None:
            raise ValueError(f"{spec.type!r} is a {spec.kind} and needs a reply model")
        check_versions(spec.type, spec.version, spec.earlier)
        self._specs[spec.type] = spec
        self._by_payload[spec.payload] = spec
        return spec

    def command(
        self,
        type_: str,
        owner: str,
        payload: type[Payload],
        reply: type[Payload],
        summary: str,
        *,
        version: int = 1,
        earlier: tuple[Earlier, ...] = (),
        senders: tuple[str, ...] = (),
    ) -> MessageSpec:
        """`senders`: who may send it, if not operator and integrators (the default)."""
        spec = MessageSpec(
            type_, owner, "command", payload, reply, summary, version, earlier, senders
        )
        return self.add(spec)

    def query(
        self,
        type_: str,
        owner: str,
        payload: type[Payload],
        reply: type[Payload],
        summary: str,
        *,
        version: int = 1,
        earlier: tuple[Earlier, ...] = (),
        senders: tuple[str, ...] = (),
        recorded: bool = False,
    ) -> MessageSpec:
        """`recorded`: handled like a command (inbox, staged writes), see MessageSpec."""
        spec = MessageSpec(
            type_, owner, "query", payload, reply, summary, version, earlier, senders, recorded
        )
        return self.add(spec)

    def event(
        self,
        type_: str,
        owner: str,
        payload: type[Payload],
        summary: str,
        *,
        version: int = 1,
        earlier: tuple[Earlier, ...] = (),
    ) -> MessageSpec:
        spec = MessageSpec(type_, owner, "event", payload, None, summary, version, earlier)
        return self.add(spec)

    def reacts(self, service: str, *event_types: str) -> None:
        """Declare that `service` consumes these events (the "who listens to what" table)."""
        self._reactions.setdefault(service, set()).update(event_types)

    def get(self, type_: str) -> MessageSpec | None:
        _load()
        return self._specs.get(type_)

    def require(self, type_: str) -> MessageSpec:
        spec = self.get(type_)
        if spec is None:
            raise KeyError(f"unknown message type {type_!r}")
        return spec

    def for_payload(self, payload: type[Payload]) -> MessageSpec:
        _load()
        try:
            return self._by_payload[payload]
        except KeyError:
            raise KeyError(f"{payload.__name__} is not the payload of any message type") from None

    def __iter__(self) -> Iterator[MessageSpec]:
        _load()
        return iter(sorted(self._specs.values(), key=lambda s: s.type))

    def owned_by(self, service: str) -> list[MessageSpec]:
        return [spec for spec in self if spec.owner == service]

    def reactions(self, service: str) -> set[str]:
        """The event types `service` consumes."""
        _load()
        return set(self._reactions.get(service, set()))

    def all_reactions(self) -> list[tuple[str, str]]:
        """Every (service, event type) pair, for declaring all subscriber queues up front."""
        _load()
        return sorted((s, t) for s, types in self._reactions.items() for t in types)

    def services(self) -> list[str]:
        _load()
        return sorted({spec.owner for spec in self._specs.values()} | set(self._reactions))


CATALOGUE = Catalogue()
_loaded = False


def _load() -> None:
    """Import the contract modules once, so that the catalogue is complete whoever asks first."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in (*CONTRACT_MODULES, *CROSS_SERVICE_MODULES):
        importlib.import_module(module)
