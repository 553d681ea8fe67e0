"""Reading bounces that come back after the relay took a mail (RFC 3464, RFC 3463).

SMTP refusals during the conversation are handled where the mail is sent (`sending`).
A relay that accepts a mail and fails to deliver it later sends a delivery status
notification to the envelope sender instead: a `multipart/report` whose
`message/delivery-status` part names each recipient with its `Action` and `Status`, and
whose third part returns the original message or its headers. Whatever reads that
mailbox (a relay's pipe, a fetchmail script, an integrator) sends it on as
`notification.record_bounce`; this module turns it into one `Bounce` per recipient.

The delivery is found by the original's `X-Diko-Delivery` header, or by its Message-ID,
which notifications derives from the delivery id (`<dlv_…@domain>`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_string
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

from diko_shared.contract.envelope import ErrorDetail
from diko_shared.contract.notifications import RecordBounce
from diko_shared.messaging.errors import Invalid

#: A delivery id in a Message-ID or header.
_DELIVERY = re.compile(r"\b(dlv_[0-9a-f]{20})\b")
#: An enhanced status code (RFC 3463) at the start of a `Status` field or in a diagnostic.
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
#: Actions of a delivery status notification that are no failure (RFC 3464, 2.3.3).
_NOT_FAILED = {"delivered", "relayed", "expanded"}


@dataclass(frozen=True)
class Bounce:
    """One recipient's failure as the relay reported it."""

    email: str
    status: str  # 5.1.1
    diagnostic: str
    delivery_id: str | None

    @property
    def permanent(self) -> bool:
        return self.status.startswith("5.")

    @property
    def error(self) -> str:
        """What the delivery log says: the status and the receiving server's words."""
        return f"{self.status} {self.diagnostic}".strip() if self.diagnostic else self.status


def read(command: RecordBounce) -> list[Bounce]:
    """The failures a `notification.record_bounce` names (a report may name several)."""
    if command.report is None:
        assert command.email is not None
        assert command.status is not None
        return [
            Bounce(
                command.email,
                command.status,
                _one_line(command.diagnostic or ""),
                command.delivery_id or _delivery_in(command.message_id or ""),
            )
        ]
    return from_report(command.report)


def from_report(report: str) -> list[Bounce]:
    """Each failed recipient of a delivery status notification; a clear error if it is none."""
    message = message_from_string(report, policy=compat32)
    status_part = _part(message, "message/delivery-status")
    if status_part is None:
        raise _invalid(
            "Der Bericht ist keine Zustellstatusmeldung: Ihm fehlt der Teil "
            "„message/delivery-status“ (RFC 3464).",
            "kein message/delivery-status",
        )
    blocks = _status_blocks(status_part)
    delivery_id = _delivery_of_original(message)
    found: list[Bounce] = []
    for block in blocks[1:]:  # the first block is about the whole message
        action = (block.get("Action") or "").strip().lower()
        email = _address(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
        status = _STATUS.search(block.get("Status") or "")
        if not email or action in _NOT_FAILED or status is None:
            continue
        found.append(
            Bounce(
                email,
                status.group(0),
                _one_line(block.get("Diagnostic-Code") or ""),
                delivery_id,
            )
        )
    if not found:
        raise _invalid(
            "Der Bericht nennt keinen Empfänger, dem nicht zugestellt werden konnte "
            "(„Final-Recipient“ mit „Action: failed“ oder „delayed“ und einem „Status“).",
            "kein fehlgeschlagener Empfänger",
        )
    return found


def _part(message: Message, content_type: str) -> Message | None:
    for part in message.walk():
        if part.get_content_type() == content_type:
            return part
    return None


def _status_blocks(part: Message) -> list[Message]:
    """The blocks of a `message/delivery-status` part (the parser may or may not split it)."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        return [block for block in payload if isinstance(block, Message)]
    text = payload if isinstance(payload, str) else ""
    parser = HeaderParser(policy=compat32)
    chunks = re.split(r"\r?\n\s*\r?\n", text.strip())
    return [parser.parsestr(chunk + "\n") for chunk in chunks if chunk.strip()]


def _delivery_of_original(message: Message) -> str | None:
    """The delivery id from the returned original: its headers or its Message-ID."""
    for content_type in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
        part = _part(message, content_type)
        if part is None:
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            original: Message = payload[0]
        else:
            text = payload if isinstance(payload, str) else ""
            original = HeaderParser(policy=compat32).parsestr(text.lstrip())
        for header in ("X-Diko-Delivery", "Message-ID"):
            found = _delivery_in(str(original.get(header) or ""))
            if found:
                return found
    return None


def _delivery_in(text: str) -> str | None:
    found = _DELIVERY.search(text)
    return found.group(1) if found else None


def _address(field: str) -> str:
    """`rfc822; info@example.org` → `info@example.org` (other address types: none)."""
    kind, _, address = field.partition(";")
    if not address:
        kind, address = "rfc822", kind
    if kind.strip().lower() != "rfc822":
        return ""
    return address.strip().strip("<>").strip()


def _one_line(text: str) -> str:
    return " ".join(text.split())[:500]


def _invalid(message: str, problem: str) -> Invalid:
    return Invalid(message, [ErrorDetail(field="data.report", problem=problem)])
