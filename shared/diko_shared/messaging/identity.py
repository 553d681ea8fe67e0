"""Who sent a message, and whether they may: the pipeline's first step.

The sender is the AMQP `user_id` of the message: every diko publisher sets it to its
connection's broker user, and RabbitMQ refuses a `user_id` that is not the login's.
The envelope's `source` is the producer's own claim and decides nothing here.

Copies keep their sender: a message a service puts back for a retry or copies to the
dead letters is published on the service's own connection, so it carries the
service's `user_id`; the original sender travels in `SENDER_HEADER` (empty for a
message that had no `user_id`). That header is believed only when the copy comes from
the consuming service itself or from the operator (who replays dead letters); from
anyone else it is ignored, and every copy overwrites it.

- An event whose sender is not its owner is dead-lettered with reason `forged`.
- A command or query whose sender the catalogue does not list (`MessageSpec.senders`)
  is answered `forbidden`, or dead-lettered with that reason when nobody waits.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from aio_pika.abc import AbstractIncomingMessage

from diko_shared.contract.catalogue import CATALOGUE, MessageSpec
from diko_shared.contract.envelope import ErrorCode
from diko_shared.contract.senders import INTEGRATOR, INTEGRATOR_PREFIX, OPERATOR, principal
from diko_shared.messaging.errors import Rejected

log = logging.getLogger(__name__)

#: The original sender of a copy (retry, dead letter, replay); see the module docstring.
SENDER_HEADER = "x-diko-sender"
#: Dead-letter reason of an event sent by someone other than its owner.
FORGED = "forged"
#: Dead-letter reason (and error code) of a command its sender may not send.
FORBIDDEN = ErrorCode.FORBIDDEN.value


def _named(sender: str | None) -> str:
    if not sender:
        return "ein Absender ohne Kennung (die AMQP-Eigenschaft user_id fehlt)"
    return f"„{sender}“"


def _allowed(senders: tuple[str, ...]) -> str:
    names = [f"{INTEGRATOR_PREFIX}…" if s == INTEGRATOR else s for s in senders]
    return ", ".join(names)


class Identity:
    """The sender check of one service, logged in to the broker as `own_user`."""

    def __init__(self, own_user: str | None) -> None:
        self.own_user = own_user

    def sender(self, raw: AbstractIncomingMessage) -> str | None:
        """The broker user that sent the message, following a trusted copy to its origin."""
        user = raw.user_id or None
        headers = raw.headers or {}
        if SENDER_HEADER in headers and user and (user == self.own_user or user == OPERATOR):
            return str(headers[SENDER_HEADER] or "") or None
        return user

    @cached_property
    def _services(self) -> frozenset[str]:
        """The catalogue's services; complete once the process handles messages."""
        return frozenset(CATALOGUE.services())

    def principal(self, sender: str | None) -> str | None:
        """The service, `operator` or `integrator` that `sender` stands for."""
        return principal(sender, self._services)

    def refusal(self, spec: MessageSpec, raw: AbstractIncomingMessage) -> Rejected | None:
        """Why the sender may not send this message, or None if they may."""
        sender = self.sender(raw)
        who = self.principal(sender)
        if spec.kind == "event":
            if who == spec.owner:
                return None
            refused = Rejected(
                FORGED,
                f"„{spec.type}“ ist ein Ereignis von {spec.owner}, gesendet hat es aber "
                f"{_named(sender)}. Ein Ereignis sendet nur der Dienst, dem es gehört.",
                code=ErrorCode.FORBIDDEN,
            )
        else:
            if spec.may_send(who):
                return None
            refused = Rejected(
                FORBIDDEN,
                f"{_named(sender)} darf „{spec.type}“ nicht senden. Senden dürfen es nur: "
                f"{_allowed(spec.senders)}.",
                code=ErrorCode.FORBIDDEN,
            )
        log.warning(
            "sender refused",
            extra={"sender": sender, "type": spec.type, "reason": refused.reason},
        )
        return refused

    def carried(self, raw: AbstractIncomingMessage) -> Mapping[str, Any]:
        """The header that keeps the original sender on a copy of `raw` (empty: none)."""
        return {SENDER_HEADER: self.sender(raw) or ""}
