"""A service's AsyncAPI document, generated from the catalogue.

The catalogue is the single source of truth for the contract: what a service consumes
(its commands, queries and reactions) and what it emits (its events). The running
service serves this document at /asyncapi.json, and `diko contract asyncapi` writes the
same documents for the README, without importing any service.
"""

from __future__ import annotations

import inspect
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from faststream.rabbit import RabbitBroker, RabbitMessage
from faststream.specification import AsyncAPI
from faststream.specification.base import Specification

from diko_shared.contract import described
from diko_shared.contract.catalogue import CATALOGUE, Catalogue, MessageSpec
from diko_shared.contract.envelope import Envelope
from diko_shared.contract.senders import describe
from diko_shared.messaging import topology

#: The broker of the committed documents (docs/asyncapi/): the compose deployment's
#: address, a placeholder. A running service documents the broker it actually uses.
DOCUMENTED_SERVER = "amqp://rabbitmq:5672/diko"
SERVER_DESCRIPTION = (
    "RabbitMQ virtual host `diko`: commands on diko.commands, events on diko.events, "
    "dead letters on diko.dlx (routing key: the queue name). The sender of a message is "
    "the broker user it was published as (AMQP `user_id`, which RabbitMQ checks), not its "
    "`source`: each diko service logs in as its own name, the diko command line as "
    "`operator`, another system as `integrator-<name>`."
)
PLACEHOLDER_NOTE = (
    " The address is a placeholder (the compose deployment's broker); a running "
    "service's /asyncapi.json names the broker it uses."
)


def public_broker_url(url: str) -> str:
    """The broker's address as a document may show it: no user, password or query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _operation(spec: MessageSpec) -> Any:
    """A stand-in consumer whose signature tells FastStream the message's schema."""

    async def consume(message: RabbitMessage) -> None:
        """Documentation only: the service's real consumer is the platform pipeline."""

    consume.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                "envelope",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=Envelope[spec.payload],  # type: ignore[name-defined]
            )
        ]
    )
    return consume


def _describe(spec: MessageSpec) -> str:
    text = spec.summary
    if spec.reply is not None:
        text += f' Replies `{{"ok": true, "data": {spec.reply.__name__}}}` or an error.'
    return text + " " + _senders(spec)


def _senders(spec: MessageSpec) -> str:
    """Who may send it (diko_shared.contract.senders): the broker user is the sender."""
    if spec.kind == "event":
        return (
            f"Sent only by {spec.owner} (broker user `{spec.owner}`); from anyone else it "
            "is dead-lettered as `forged`."
        )
    return (
        f"May be sent by: {describe(spec.senders)} (the broker user of the connection, "
        "AMQP `user_id`); anyone else is answered `forbidden`."
    )


def specification(
    service: str,
    *,
    version: str = "0.1.0",
    description: str = "",
    broker_url: str | None = None,
    catalogue: Catalogue = CATALOGUE,
) -> Specification:
    """The AsyncAPI 3.0 document of one service's side of the contract.

    `broker_url` is the broker the service uses (credentials are never shown); without
    it, the document names the placeholder DOCUMENTED_SERVER and says so.
    """
    server = public_broker_url(broker_url) if broker_url else DOCUMENTED_SERVER
    broker = RabbitBroker(
        server,
        apply_types=False,
        description=SERVER_DESCRIPTION + ("" if broker_url else PLACEHOLDER_NOTE),
    )
    for spec in catalogue.owned_by(service):
        if spec.is_request:
            queue = topology.request_queue(spec)
            broker.subscriber(
                queue, topology.COMMANDS, title=queue.name, description=_describe(spec)
            )(_operation(spec))
    for event_type in sorted(catalogue.reactions(service)):
        spec = catalogue.require(event_type)
        queue = topology.reaction_queue(service, event_type)
        broker.subscriber(queue, topology.EVENTS, title=queue.name, description=_describe(spec))(
            _operation(spec)
        )
    for spec in catalogue.owned_by(service):
        if spec.kind == "event":
            broker.publisher(
                exchange=topology.EVENTS,
                routing_key=spec.type,
                persist=True,  # as the platform publishes: persistent, confirmed, mandatory
                title=spec.type,
                description=_describe(spec),
                schema=Envelope[spec.payload],  # type: ignore[name-defined]
            )
    return AsyncAPI(
        broker,
        title=f"diko {service}",
        version=version,
        description=description or f"The messages the diko {service} service consumes and emits.",
        schema_version="3.0.0",
    ).to_specification()


def document(service: str, *, catalogue: Catalogue = CATALOGUE, **kwargs: Any) -> dict[str, Any]:
    """The document as JSON, with the contract's versions (`contract.described`)."""
    jsonable = specification(service, catalogue=catalogue, **kwargs).to_jsonable()
    return described.annotate(jsonable, service, catalogue)
