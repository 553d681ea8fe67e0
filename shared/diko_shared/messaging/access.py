"""Broker users and their rights, computed from the catalogue: least privilege by design.

RabbitMQ grants each user three regular expressions per virtual host (configure: declare
and delete; write: publish to an exchange, bind a queue; read: consume from a queue,
bind from an exchange) and, per topic exchange, two more on routing keys (write: what
it may publish; read: what it may bind a queue to). `grants()` derives them for each
principal of `diko_shared.contract.senders`:

- a service may publish the events it owns and the commands the catalogue lets it send,
  dead-letter and retry its own messages, answer requests (the default exchange), and
  consume only its own queues; it may declare and bind only its own queues (those it
  consumes and its retry wait queues), to the routing keys it consumes;
- `operator` (the `diko` command line) may send every command and query, watch events,
  and read, purge and replay the dead-letter queues;
- `integrator-<name>` may send the commands and queries granted to integrators;
- `monitor` may look (management UI, tag `monitoring`) and do nothing else.

None is an administrator. `definitions()` writes all of it, with the topology, as a
RabbitMQ definitions document: the deployment imports it (compose at broker start,
`make stack` locally, the test harness for every test session), so the tests run under
the rules of production. `python -m diko_shared.messaging.access` regenerates
`deploy/rabbitmq/definitions.json`, whose passwords are placeholders that the broker's
entrypoint fills in from the secrets.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faststream.rabbit import RabbitExchange, RabbitQueue

from diko_shared.contract.catalogue import CATALOGUE, CONTRACT_MODULES
from diko_shared.contract.senders import INTEGRATOR, INTEGRATOR_PREFIX, OPERATOR
from diko_shared.messaging import topology

#: The look-only user of the management UI.
MONITOR = "monitor"
#: The exchange RabbitMQ calls the default exchange, in permissions.
DEFAULT_EXCHANGE = "amq.default"
#: Anonymous queues: named by the broker (`amq.gen-…`) or by aio-pika's robust channels
#: (`amq_<uuid hex>`, so that they can be declared again after a reconnect). The
#: operator's exclusive queues (`diko events`, the demo's replies) are such.
SERVER_NAMED = r"amq\.gen-.*|amq_[0-9a-f]{32}"
#: What a grant matches when it must match nothing.
NOTHING = "^$"
EVERYTHING = ".*"
#: Retry delays the compose deployment provisions (ServiceSettings' default).
DEFAULT_RETRY_DELAYS_MS = (1_000, 10_000, 60_000, 300_000)
#: How the committed definitions mark a password the broker's entrypoint fills in.
PASSWORD_PLACEHOLDER = "@@password:{user}@@"
DEFINITIONS_FILE = Path("deploy/rabbitmq/definitions.json")
#: The services a deployment runs: the owners of the contract modules.
DEPLOYED_SERVICES = tuple(module.rsplit(".", 1)[1] for module in CONTRACT_MODULES)


def exactly(names: Iterable[str], *patterns: str) -> str:
    """A pattern matching exactly these names (escaped) and patterns, or nothing."""
    parts = sorted({re.escape(name) for name in names}) + list(patterns)
    return f"^({'|'.join(parts)})$" if parts else NOTHING


@dataclass(frozen=True)
class TopicGrant:
    """Routing keys a user may publish (`write`) and bind (`read`) on one topic exchange."""

    exchange: str
    write: str = NOTHING
    read: str = NOTHING


@dataclass(frozen=True)
class Grant:
    """Everything one broker user may do in the virtual host."""

    user: str
    configure: str = NOTHING
    write: str = NOTHING
    read: str = NOTHING
    topics: tuple[TopicGrant, ...] = ()
    tags: tuple[str, ...] = ()
    what: str = ""


def sendable(principal: str) -> list[str]:
    """The commands and queries `principal` may send."""
    return [spec.type for spec in CATALOGUE if spec.is_request and spec.may_send(principal)]


def own_queues(service: str) -> list[str]:
    """The queues a service consumes (its requests and reactions)."""
    requests = [topology.request_queue(s).name for s in CATALOGUE.owned_by(service) if s.is_request]
    reactions = [topology.reaction_queue(service, t).name for t in CATALOGUE.reactions(service)]
    return sorted(requests + reactions)


def service_grant(service: str) -> Grant:
    """A service: its events, its allowed commands, its own queues; see the module docstring."""
    events = [s.type for s in CATALOGUE.owned_by(service) if s.kind == "event"]
    requests = [s.type for s in CATALOGUE.owned_by(service) if s.is_request]
    reactions = sorted(CATALOGUE.reactions(service))
    commands = sendable(service)
    consumed = own_queues(service)
    waits = rf"{re.escape(service)}\.wait\.[0-9]+ms"
    exchanges = [topology.DLX.name, topology.WAIT.name, DEFAULT_EXCHANGE]
    exchanges += [topology.EVENTS.name] if events else []
    exchanges += [topology.COMMANDS.name] if commands else []
    bound_from = [topology.WAIT.name, topology.UNROUTED.name]
    bound_from += [topology.COMMANDS.name] if requests else []
    bound_from += [topology.EVENTS.name] if reactions else []
    return Grant(
        user=service,
        configure=exactly(consumed, waits),
        write=exactly(exchanges + consumed, waits),
        read=exactly(consumed + bound_from + [topology.UNROUTED_QUEUE_NAME], waits),
        topics=(
            TopicGrant(topology.EVENTS.name, write=exactly(events), read=exactly(reactions)),
            TopicGrant(topology.COMMANDS.name, write=exactly(commands), read=exactly(requests)),
            TopicGrant(
                topology.DLX.name,
                write=exactly([topology.UNROUTED_QUEUE_NAME], rf"{re.escape(service)}\..+"),
            ),
        ),
        what=f"the {service} service",
    )


def dead_letter_queues(services: Sequence[str]) -> list[str]:
    return [*(topology.dead_letter_queue(s).name for s in services), "diko.dlq"]


def operator_grant(services: Sequence[str]) -> Grant:
    """The `diko` command line: commands, event watching, dead letters (list, replay, purge)."""
    return Grant(
        user=OPERATOR,
        configure=exactly([], SERVER_NAMED),
        write=exactly([topology.COMMANDS.name, DEFAULT_EXCHANGE], SERVER_NAMED),
        read=exactly([topology.EVENTS.name, *dead_letter_queues(services)], SERVER_NAMED),
        topics=(
            # Any routing key: a type no service handles is answered `unknown_type`.
            TopicGrant(topology.COMMANDS.name, write=EVERYTHING),
            TopicGrant(topology.EVENTS.name, read=EVERYTHING),
            TopicGrant(topology.DLX.name),
        ),
        what="the diko command line of operators and staff",
    )


def integrator_grant(name: str) -> Grant:
    """Another system: the commands and queries granted to integrators, nothing else."""
    return Grant(
        user=f"{INTEGRATOR_PREFIX}{name}",
        write=exactly([topology.COMMANDS.name]),
        topics=(
            TopicGrant(topology.COMMANDS.name, write=exactly(sendable(INTEGRATOR))),
            TopicGrant(topology.EVENTS.name),
            TopicGrant(topology.DLX.name),
        ),
        what=f"the integrated system {name!r}",
    )


def monitor_grant() -> Grant:
    """Looks at queues and connections in the management UI; may not touch a message."""
    return Grant(
        user=MONITOR,
        tags=("monitoring",),
        topics=(
            TopicGrant(topology.COMMANDS.name),
            TopicGrant(topology.EVENTS.name),
            TopicGrant(topology.DLX.name),
        ),
        what="the management UI, looking only",
    )


def grants(
    integrators: Sequence[str] = (),
    *,
    monitor: bool = True,
    services: Sequence[str] = DEPLOYED_SERVICES,
) -> list[Grant]:
    """Every user of a deployment: the services, operator, integrators, monitor."""
    found = [service_grant(service) for service in services]
    found.append(operator_grant(services))
    found += [integrator_grant(name) for name in integrators]
    if monitor:
        found.append(monitor_grant())
    return found


@dataclass
class Definitions:
    """A RabbitMQ definitions document for one virtual host."""

    vhost: str
    retry_delays_ms: Sequence[int] = DEFAULT_RETRY_DELAYS_MS
    users: list[Grant] = field(default_factory=grants)
    services: Sequence[str] = DEPLOYED_SERVICES

    def document(self, passwords: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The definitions; a user without a password in `passwords` gets a placeholder."""
        given = passwords or {}
        return {
            "users": [self._user(grant, given) for grant in self.users],
            "vhosts": [{"name": self.vhost}],
            "permissions": [
                {
                    "user": grant.user,
                    "vhost": self.vhost,
                    "configure": grant.configure,
                    "write": grant.write,
                    "read": grant.read,
                }
                for grant in self.users
            ],
            "topic_permissions": [
                {
                    "user": grant.user,
                    "vhost": self.vhost,
                    "exchange": topic.exchange,
                    "write": topic.write,
                    "read": topic.read,
                }
                for grant in self.users
                for topic in grant.topics
            ],
            "exchanges": [self._exchange(exchange) for exchange in topology.EXCHANGES],
            "queues": [self._queue(b.queue) for b in self._bindings()],
            "bindings": [
                {
                    "source": b.exchange.name,
                    "vhost": self.vhost,
                    "destination": b.queue.name,
                    "destination_type": "queue",
                    "routing_key": b.routing_key,
                    "arguments": dict(b.arguments or {}),
                }
                for b in self._bindings()
            ],
        }

    def _bindings(self) -> list[topology.Binding]:
        return list(topology.bindings(self.retry_delays_ms, self.services))

    @staticmethod
    def _user(grant: Grant, passwords: Mapping[str, str]) -> dict[str, Any]:
        password = passwords.get(grant.user) or PASSWORD_PLACEHOLDER.format(user=grant.user)
        return {"name": grant.user, "password": password, "tags": list(grant.tags)}

    def _exchange(self, exchange: RabbitExchange) -> dict[str, Any]:
        return {
            "name": exchange.name,
            "vhost": self.vhost,
            "type": exchange.type.value,
            "durable": exchange.durable,
            "auto_delete": exchange.auto_delete,
            "internal": False,
            "arguments": dict(exchange.arguments or {}),
        }

    def _queue(self, queue: RabbitQueue) -> dict[str, Any]:
        return {
            "name": queue.name,
            "vhost": self.vhost,
            "durable": queue.durable,
            "auto_delete": queue.auto_delete,
            "arguments": dict(queue.arguments or {}),
        }


def render(document: Mapping[str, Any]) -> str:
    """The committed form: stable key order, one item per line, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def deployment_definitions() -> str:
    """`deploy/rabbitmq/definitions.json`: vhost `diko`, every user, the whole topology."""
    return render(Definitions("diko").document())


def rabbitmqctl_script(grant: Grant, vhost: str = "diko") -> str:
    """Shell lines that give an existing broker user `grant`'s rights (no password)."""
    lines = [
        f"# The rights of {grant.user}: {grant.what}. Generated by diko_shared.messaging.access.",
        f"rabbitmqctl set_permissions -p {vhost} {grant.user} "
        f"'{grant.configure}' '{grant.write}' '{grant.read}'",
    ]
    lines += [
        f"rabbitmqctl set_topic_permissions -p {vhost} {grant.user} {topic.exchange} "
        f"'{topic.write}' '{topic.read}'"
        for topic in grant.topics
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m diko_shared.messaging.access",
        description="The broker's definitions (users, rights, topology) for compose, or the "
        "rabbitmqctl commands that give an integrator its rights.",
    )
    parser.add_argument("--out", type=Path, default=DEFINITIONS_FILE)
    sub = parser.add_subparsers(dest="command")
    integrator = sub.add_parser(
        "integrator", help="print the rabbitmqctl commands for the user integrator-NAME"
    )
    integrator.add_argument("name", help="the system's name, e.g. website")
    args = parser.parse_args(argv)
    if args.command == "integrator":
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,40}", args.name):
            parser.error("NAME: lower-case letters, digits and '-' only")
        print(rabbitmqctl_script(integrator_grant(args.name)), end="")
        return 0
    args.out.write_text(deployment_definitions(), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
