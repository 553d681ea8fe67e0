"""Exchanges, queues and bindings, computed from the catalogue.

The deployment provisions the whole topology before any service starts: all exchanges,
the queue of every command and query (whoever owns it), the queue of every reaction in
the catalogue, the dead-letter queues and the retry wait queues (`bindings()`; the
broker's definitions file in compose, `make stack` and the test harness locally). A
command sent while its owner is still starting, or an event emitted while a subscriber
is down, therefore waits in its durable queue instead of being returned or dropped.

A service's broker user may not create or delete what others use (see
`diko_shared.messaging.access`), so at start-up a service only checks that the shared
parts exist, and declares and binds its own queues (`prepare()`): those it consumes and
its retry wait queues, whose delays are its own setting. Every party computes the
declarations here, so their arguments are identical.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aio_pika.exceptions import ChannelNotFoundEntity, ChannelPreconditionFailed
from faststream.rabbit import ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue

from diko_shared.contract.catalogue import CATALOGUE, MessageSpec

# The exchanges are provisioned with the deployment; in FastStream they are only looked
# up (`declare=False`: a passive declaration, which needs no permission).

#: Requests addressed to the one service that owns them; routing key = message type.
COMMANDS = RabbitExchange(
    "diko.commands",
    type=ExchangeType.TOPIC,
    durable=True,
    arguments={"alternate-exchange": "diko.unrouted"},
    declare=False,
)
#: Facts, broadcast; routing key = message type.
EVENTS = RabbitExchange("diko.events", type=ExchangeType.TOPIC, durable=True, declare=False)
#: Dead letters; routing key = the queue the message was dead-lettered from.
DLX = RabbitExchange("diko.dlx", type=ExchangeType.TOPIC, durable=True, declare=False)
#: Commands whose type no queue is bound for (the alternate exchange of COMMANDS).
UNROUTED = RabbitExchange("diko.unrouted", type=ExchangeType.FANOUT, durable=True, declare=False)
#: Messages waiting for a delayed retry, routed to a wait queue by RETRY_HEADERS.
WAIT = RabbitExchange("diko.wait", type=ExchangeType.HEADERS, durable=True, declare=False)
#: Every exchange, in the order they are provisioned (the alternate exchange first).
EXCHANGES = (UNROUTED, COMMANDS, EVENTS, DLX, WAIT)

UNROUTED_QUEUE_NAME = "diko.unrouted"
PLATFORM_DLQ_NAME = "diko.dlq"

#: How often the broker redelivers a message whose consumer died before it is dead-lettered
#: with reason `delivery_limit`. A constant, not a setting: every party must declare the
#: queues with the same arguments. High enough that restarts of consumers and broker
#: (which return prefetched messages) never dead-letter a healthy message.
DELIVERY_LIMIT = 20

#: Deliveries of a dead letter before the broker drops it. Dead-letter queues have no
#: consumer, but `diko dlq show` takes their messages and returns them, and RabbitMQ 4
#: counts each return towards a quorum queue's delivery limit (20 unless declared), so
#: after twenty looks the letters would be gone. -1 ("no limit" on RabbitMQ 4) drops a
#: message at its first return on RabbitMQ 3, so the limit is a number no one reaches.
DLQ_DELIVERY_LIMIT = 1_000_000

#: The headers the wait exchange routes by. Not `x-…`: a headers exchange ignores those.
DELAY_HEADER = "diko-retry-delay"
RETRY_SERVICE_HEADER = "diko-retry-service"


def _quorum(name: str, routing_key: str = "", **arguments: object) -> RabbitQueue:
    return RabbitQueue(
        name,
        queue_type=QueueType.QUORUM,
        durable=True,
        arguments=dict(arguments),  # type: ignore[arg-type]
        routing_key=routing_key,
    )


def provisioned(queue: RabbitQueue) -> RabbitQueue:
    """The same queue, only looked up (passively) when FastStream starts consuming it."""
    return RabbitQueue(
        queue.name,
        queue_type=QueueType.QUORUM,
        durable=True,
        arguments=queue.arguments,
        routing_key=queue.routing_key,
        declare=False,
    )


def consumer_queue(name: str, routing_key: str) -> RabbitQueue:
    """A queue one service consumes: quorum, bounded redelivery, dead-letters to `diko.dlx`."""
    return _quorum(
        name,
        routing_key,
        **{
            "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": DLX.name,
            "x-dead-letter-routing-key": name,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        },
    )


def request_queue(spec: MessageSpec) -> RabbitQueue:
    """The queue of a command or query, e.g. `companies.company.register`."""
    return consumer_queue(f"{spec.owner}.{spec.type}", spec.type)


def reaction_queue(service: str, event_type: str) -> RabbitQueue:
    """The queue through which `service` consumes an event, e.g. `matching.on.position.opened`."""
    return consumer_queue(f"{service}.on.{event_type}", event_type)


def unrouted_queue() -> RabbitQueue:
    return consumer_queue(UNROUTED_QUEUE_NAME, "")


def dead_letter_queue(service: str) -> RabbitQueue:
    """`<service>.dlq`: everything dead-lettered from the service's queues (`<service>.#`)."""
    return _quorum(f"{service}.dlq", f"{service}.#", **{"x-delivery-limit": DLQ_DELIVERY_LIMIT})


def platform_dead_letter_queue() -> RabbitQueue:
    """`diko.dlq`: dead letters of platform queues such as `diko.unrouted`."""
    return _quorum(PLATFORM_DLQ_NAME, "diko.#", **{"x-delivery-limit": DLQ_DELIVERY_LIMIT})


def wait_queue(service: str, delay_ms: int) -> RabbitQueue:
    """A retry wait queue of `service`: its messages expire after `delay_ms` and go back.

    They are published with the routing key of the queue they came from; on expiry the
    broker dead-letters them to the default exchange with that routing key, which
    delivers them straight back to it. Each service has its own (`<service>.wait.<ms>ms`),
    so that it needs no right on another's.
    """
    return _quorum(
        f"{service}.wait.{delay_ms}ms",
        "",
        **{
            "x-message-ttl": delay_ms,
            "x-dead-letter-exchange": "",
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        },
    )


def retry_headers(service: str, delay_ms: int) -> dict[str, str]:
    """The headers that route a retry of `service` to its wait queue of `delay_ms`."""
    return {DELAY_HEADER: str(delay_ms), RETRY_SERVICE_HEADER: service}


def queue_service(queue_name: str) -> str:
    """The service a queue belongs to: the part of its name before the first dot."""
    return queue_name.split(".", 1)[0]


@dataclass(frozen=True)
class Binding:
    queue: RabbitQueue
    exchange: RabbitExchange
    routing_key: str = ""
    arguments: dict[str, str] | None = None


def own_bindings(service: str, retry_delays_ms: Sequence[int]) -> Iterable[Binding]:
    """The queues `service` declares itself: those it consumes and its wait queues."""
    for spec in CATALOGUE.owned_by(service):
        if spec.is_request:
            yield Binding(request_queue(spec), COMMANDS, spec.type)
    for event_type in sorted(CATALOGUE.reactions(service)):
        yield Binding(reaction_queue(service, event_type), EVENTS, event_type)
    for delay in sorted(set(retry_delays_ms)):
        arguments = {"x-match": "all", **retry_headers(service, delay)}
        yield Binding(wait_queue(service, delay), WAIT, "", arguments)


def bindings(
    retry_delays_ms: Sequence[int], services: Sequence[str] | None = None
) -> Iterable[Binding]:
    """Every queue of the topology and what it is bound to: what the deployment provisions.

    `services`: only theirs (the catalogue may hold a test's service too); default all.
    """
    included = set(CATALOGUE.services() if services is None else services)
    for spec in CATALOGUE:
        if spec.is_request and spec.owner in included:
            yield Binding(request_queue(spec), COMMANDS, spec.type)
    for service, event_type in CATALOGUE.all_reactions():
        if service in included:
            yield Binding(reaction_queue(service, event_type), EVENTS, event_type)
    for service in sorted(included):
        yield Binding(dead_letter_queue(service), DLX, f"{service}.#")
    yield Binding(platform_dead_letter_queue(), DLX, "diko.#")
    yield Binding(unrouted_queue(), UNROUTED)
    for service in sorted(included):
        for binding in own_bindings(service, retry_delays_ms):
            if binding.exchange is WAIT:
                yield binding


class TopologyMismatch(RuntimeError):
    """The broker holds a queue under one of our names with other arguments."""


class TopologyMissing(RuntimeError):
    """An exchange or queue the deployment provisions is not there."""


MISSING_HINT = (
    "the broker's definitions are missing or older than this diko version: compose loads "
    "deploy/rabbitmq/definitions.json when RabbitMQ starts (`docker compose restart "
    "rabbitmq` after an upgrade), `make stack` imports it locally (deploy/README.md, Users "
    "and permissions)"
)


def used_exchanges(service: str) -> list[RabbitExchange]:
    """The exchanges `service` publishes to or consumes from (its broker user may see them)."""
    specs = CATALOGUE.owned_by(service)
    sends = any(s.is_request and service in s.senders for s in CATALOGUE)
    used = [UNROUTED, DLX, WAIT]
    if sends or any(s.is_request for s in specs):
        used.append(COMMANDS)
    if CATALOGUE.reactions(service) or any(s.kind == "event" for s in specs):
        used.append(EVENTS)
    return used


async def prepare(broker: RabbitBroker, service: str, retry_delays_ms: Sequence[int]) -> None:
    """What a service does at start-up: check the shared topology, declare its own queues.

    The exchanges it uses and `diko.unrouted` must exist (provisioned; a passive
    declaration needs no right to create them); the service's own queues are declared
    with the arguments computed here and bound.
    """
    exchanges = {}
    for exchange in used_exchanges(service):
        try:
            exchanges[exchange.name] = await broker.declare_exchange(exchange)
        except ChannelNotFoundEntity:
            raise TopologyMissing(
                f"RabbitMQ has no exchange {exchange.name!r}: {MISSING_HINT}"
            ) from None
    try:
        await broker.declare_queue(provisioned(unrouted_queue()))
    except ChannelNotFoundEntity:
        raise TopologyMissing(
            f"RabbitMQ has no queue {UNROUTED_QUEUE_NAME!r}: {MISSING_HINT}"
        ) from None
    for binding in own_bindings(service, retry_delays_ms):
        try:
            queue = await broker.declare_queue(binding.queue)
        except ChannelPreconditionFailed as exc:
            name = binding.queue.name
            raise TopologyMismatch(
                f"RabbitMQ has a queue {name!r} with other arguments than this diko version "
                f"declares ({exc}). If it is empty, delete it (rabbitmqctl delete_queue "
                f"--vhost <vhost> {name}) and start again; if not, move its messages first "
                "(deploy/README.md, Upgrading)"
            ) from None
        await queue.bind(
            exchanges[binding.exchange.name],
            routing_key=binding.routing_key,
            arguments=binding.arguments,
        )
