"""What becomes of a delivery: its Message-ID, the fate after each SMTP attempt, and when
its event goes to the dead-letter queue. Pure rules, tested without a server.

A delivery is sent, refused for good, or failed for now. Failed for now, it is retried
with the platform's delays; still failing on the last retry, it is recorded as failed
and its event is dead-lettered rather than acknowledged, so that a replay from the
dead-letter queue tries it again in a new round. Sent or refused, it is never tried again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from diko_shared.contract.envelope import ErrorCode
from diko_shared.messaging.errors import DomainError

DeliveryStatus = Literal["pending", "held", "digest", "sent", "failed", "suppressed"]


def message_id(delivery_id: str, sender_address: str) -> str:
    """The Message-ID of a delivery: the same on every attempt, so a repeat can be dropped."""
    return f"<{delivery_id}@{sender_address.rpartition('@')[2]}>"


@dataclass(frozen=True)
class SendResult:
    """How one SMTP attempt ended: handed over, refused for good, or failed for now."""

    outcome: Literal["sent", "permanent", "temporary"]
    detail: str = ""


@dataclass(frozen=True)
class Fate:
    """A delivery's state after an attempt, and whether the message must come back.

    `round_from` is the number of attempts made before the current round of retries: a
    replay from the dead-letter queue starts a new round with the platform's full retries.
    """

    status: DeliveryStatus
    attempts: int
    error: str | None
    retry: bool = False
    permanent: bool = False
    round_from: int = 0

    @property
    def final(self) -> bool:
        """Sent or failed (or, for a notice, suppressed): nothing more will happen to it."""
        return self.status in ("sent", "failed", "suppressed")

    @property
    def waiting(self) -> bool:
        """Held for quiet hours or waiting for a digest: its time will come."""
        return self.status in ("held", "digest")

    @property
    def exhausted(self) -> bool:
        """Failed for a temporary reason until the last retry: a replay may still send it."""
        return self.status == "failed" and not self.permanent

    @property
    def to_send(self) -> bool:
        """Whether to try (again): pending or exhausted; never once sent or refused for good."""
        return self.status == "pending" or self.exhausted


def after_attempt(result: SendResult, before: Fate, max_attempts: int) -> Fate:
    """Sent; failed for good (5xx); or pending and retried, until the round's attempts are used up.

    A temporary failure on the last attempt the platform would make is recorded as a
    failure (not permanent), so that staff and operators see it in the delivery log and as
    `notification.failed`; the event then goes to the dead-letter queue, and a replay of
    it tries the delivery again in a new round.
    """
    round_from = before.attempts if before.exhausted else before.round_from
    attempts = before.attempts + 1
    if result.outcome == "sent":
        return Fate("sent", attempts, None, round_from=round_from)
    if result.outcome == "permanent":
        return Fate("failed", attempts, result.detail, permanent=True, round_from=round_from)
    if attempts - round_from >= max_attempts:
        return Fate("failed", attempts, result.detail, round_from=round_from)
    return Fate("pending", attempts, result.detail, retry=True, round_from=round_from)


class Undelivered(DomainError):
    """E-mails of an event that kept failing for a temporary reason until the last retry.

    Final for this round: the event is dead-lettered (reason `internal`, a fault on our
    side rather than the sender's) instead of acknowledged, so that
    `diko dlq replay notifications` sends the e-mails once the mail server is back.
    """

    code = ErrorCode.INTERNAL


def undelivered(exhausted: Mapping[str, str], unfinished: Sequence[str]) -> Undelivered:
    """Why an event goes to the dead-letter queue, and what the operator does about it."""
    failures = "; ".join(f"{staff_id}: {error}" for staff_id, error in exhausted.items())
    waiting = f"; {len(unfinished)} more not delivered yet" if unfinished else ""
    return Undelivered(
        f"{len(exhausted)} e-mail(s) still failing after the last retry ({failures}){waiting}; "
        "once the mail server is back: diko dlq replay notifications"
    )
