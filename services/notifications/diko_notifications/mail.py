"""The SMTP adapter: compose a MIME message and hand it to the server, classifying failures.

A refusal of the recipient or of the message with a 5xx code is permanent: the same
mail will be refused again. So is a message that cannot even be built from its data
(a line break in a name that would become a header): the same data fails again.
Everything else (the server unreachable, a timeout, a 4xx, a refused login or sender,
which are faults of our configuration rather than of the mail) is temporary: the
message is retried and may pass once the fault is fixed.

Connections are kept open and reused (a small pool, one conversation per connection at
a time): a fan-out to a thousand recipients would otherwise spend most of its time
greeting the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.charset
import email.generator
import email.policy
import io
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from email import encoders
from email.errors import MessageError
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr

import aiosmtplib
from aiosmtplib import (
    SMTPDataError,
    SMTPException,
    SMTPRecipientRefused,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPServerDisconnected,
)

from diko_notifications.delivery import SendResult
from diko_notifications.domain import Attachment
from diko_notifications.render import LOGO_CID, Rendered
from diko_notifications.settings import NotificationsSettings
from diko_shared.brand import LOGO_MAIL_PNG

#: The logo travels inside each e-mail: a mail client shows it without loading anything.
LOGO = LOGO_MAIL_PNG.read_bytes()

#: What the standard library raises for data that cannot go into an e-mail: a header value
#: with CR or LF, an address it refuses. A fault in our templates is none of these: it
#: stays temporary, so that the mail goes out once the fault is fixed.
UNBUILDABLE: tuple[type[Exception], ...] = (ValueError, MessageError)


def unbuildable(exc: Exception) -> SendResult:
    """The outcome of a message that could not be built: permanent, with why."""
    return SendResult("permanent", f"the e-mail could not be built: {_describe(exc)}")


#: Both bodies are UTF-8 in base64: the standard library encodes base64 in C, while its
#: quoted-printable is pure Python and cost three times the CPU of the whole rest of a
#: message (measured with `bench.notifications`).
UTF8 = "utf-8"
#: How messages are written out: CRLF, and header lines up to RFC 5322's limit, so that a
#: long `List-Unsubscribe` URL stays one URL rather than being folded apart.
WIRE_POLICY = email.policy.compat32.clone(linesep="\r\n")
#: Encoded words in base64 (RFC 2047 „B“): the standard library's default for UTF-8 first
#: works out whether quoted-printable would be shorter, character by character in Python,
#: which cost a subject line more CPU than the whole HTML body.
HEADER_UTF8 = email.charset.Charset(UTF8)
HEADER_UTF8.header_encoding = email.charset.BASE64


class _WireGenerator(email.generator.BytesGenerator):
    """Writes a part that carries its own flattened bytes (`_flat`) as they are.

    The logo is the same in every e-mail and the largest part of it: written out once,
    not once per recipient (its base64 lines were a third of a message's CPU).
    """

    def flatten(self, msg: Message, unixfrom: bool = False, linesep: str | None = None) -> None:
        flat = getattr(msg, "_flat", None)
        if flat is not None:
            self._fp.write(flat)  # type: ignore[attr-defined]
            return
        super().flatten(msg, unixfrom, linesep)


def _logo_part() -> MIMEImage:
    """The logo as an inline image, with its bytes on the wire worked out once."""
    logo = MIMEImage(LOGO, "png")
    logo["Content-ID"] = f"<{LOGO_CID}>"
    logo["Content-Disposition"] = 'inline; filename="diko-altmark.png"'
    with io.BytesIO() as out:
        email.generator.BytesGenerator(out, policy=WIRE_POLICY).flatten(logo)
        logo._flat = out.getvalue()  # type: ignore[attr-defined]
    return logo


#: Shared by every message (never changed once built).
LOGO_PART = _logo_part()


def _canonical(text: str) -> str:
    """Text in its canonical form before base64 (RFC 2046, 4.1.1): lines end in CRLF. The
    encoder keeps line ends as they are, and a bare LF is a mail client's guess to fix."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def _one_line(name: str, value: str) -> str:
    """A header value must not carry a line break: it would end the header early."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"the {name} header would contain a line break: {value!r}")
    return value


def compose(
    rendered: Rendered,
    *,
    sender: str,
    to_name: str,
    to_address: str,
    message_id: str,
    date: datetime,
    headers: Mapping[str, str],
    unsubscribe_url: str = "",
    attachments: Sequence[Attachment] = (),
) -> Message:
    """multipart/mixed (when there are attachments) around multipart/alternative: plain text
    first, then the preferred HTML part, which is multipart/related with the brand's logo
    as an inline image (`cid:` in the HTML).

    With an unsubscribe URL, the message carries `List-Unsubscribe` and
    `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): a mail client's
    unsubscribe button then POSTs to it, without opening a page.

    Built with the standard library's `email.mime` classes (its compat32 API): the same
    message as with `EmailMessage`, at a third of the CPU, which a fan-out to a thousand
    recipients notices.
    """
    boundary = _boundary()
    alternative = MIMEMultipart("alternative", boundary=f"{boundary}a")
    alternative.attach(MIMEText(_canonical(rendered.text), "plain", UTF8))
    related = MIMEMultipart("related", boundary=f"{boundary}r")
    related.attach(MIMEText(_canonical(rendered.html), "html", UTF8))
    related.attach(LOGO_PART)
    alternative.attach(related)
    message: Message = alternative
    if attachments:
        message = MIMEMultipart("mixed", boundary=f"{boundary}m")
        message.attach(alternative)
        for attachment in attachments:
            part = MIMEBase(attachment.maintype, attachment.subtype)
            part.set_payload(attachment.content)
            encoders.encode_base64(part)
            part.add_header("Content-Disposition", "attachment", filename=attachment.filename)
            message.attach(part)
    name, address = parseaddr(sender)
    message["From"] = formataddr((name, address), charset="utf-8")
    message["To"] = formataddr((_one_line("To", to_name), _one_line("To", to_address)), "utf-8")
    message["Subject"] = Header(_one_line("Subject", rendered.subject), HEADER_UTF8)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{_one_line('List-Unsubscribe', unsubscribe_url)}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for header, value in headers.items():
        message[header] = _one_line(header, value)
    return message


def _boundary() -> str:
    """A multipart boundary that cannot occur in the parts: every part is base64, whose
    lines never hold `=_`. Chosen here, the generator need not search the whole message
    for a collision, as it does for a boundary of its own."""
    return f"=_diko_{uuid.uuid4().hex}_"


def flatten(message: Message) -> bytes:
    with io.BytesIO() as out:
        _WireGenerator(out, policy=WIRE_POLICY).flatten(message)
        return out.getvalue()


class SmtpMailer:
    """Sends messages over a few reused connections to the configured server."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self._host = settings.smtp_host
        self._port = settings.smtp_port
        self._user = settings.smtp_user or None
        self._password = settings.smtp_password.get_secret_value() or None
        self._starttls = settings.smtp_starttls
        self._timeout = settings.smtp_timeout_s
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(settings.smtp_connections)

    async def send(self, message: bytes, sender: str, recipient: str) -> SendResult:
        async with self._slots:
            for _ in range(2):
                try:
                    client, reused = await self._client()
                except (SMTPException, OSError) as exc:
                    return SendResult("temporary", _describe(exc))
                result, healthy, reset = await self._conversation(
                    client, message, sender, recipient
                )
                await self._give_back(client, healthy, reset)
                if result is not None:
                    return result
                if not reused:
                    break
            return SendResult("temporary", "the SMTP server closed the connection")

    async def _conversation(
        self, client: aiosmtplib.SMTP, message: bytes, sender: str, recipient: str
    ) -> tuple[SendResult | None, bool, bool]:
        """(result, connection healthy, needs RSET); result None: the server had closed a
        kept connection before this message, so it is tried once on a fresh one."""
        try:
            await client.sendmail(sender, [recipient], message, timeout=self._timeout)
        except SMTPRecipientsRefused as exc:
            return _worst(exc.recipients), True, True
        except (SMTPRecipientRefused, SMTPDataError) as exc:
            return _by_code(exc), True, True
        except SMTPServerDisconnected:
            return None, False, False
        except (SMTPException, OSError, TimeoutError) as exc:
            return SendResult("temporary", _describe(exc)), False, False
        return SendResult("sent"), True, False

    async def _client(self) -> tuple[aiosmtplib.SMTP, bool]:
        """A kept connection (True) or a new one (False)."""
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client, True
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            username=self._user,
            password=self._password if self._user else None,
            start_tls=self._starttls,
            timeout=self._timeout,
        )
        await client.connect()
        return client, False

    async def _give_back(self, client: aiosmtplib.SMTP, reusable: bool, reset: bool) -> None:
        """Keep a healthy connection (reset after a refusal); close a broken one."""
        if reusable and reset and client.is_connected:
            try:
                await client.rset()
            except (SMTPException, OSError, SMTPServerDisconnected):
                reusable = False
        if reusable and client.is_connected:
            self._idle.append(client)
            return
        with contextlib.suppress(Exception):
            client.close()

    async def close(self) -> None:
        while self._idle:
            client = self._idle.pop()
            with contextlib.suppress(Exception):
                await client.quit()


def _by_code(exc: SMTPResponseException) -> SendResult:
    outcome = "permanent" if 500 <= exc.code < 600 else "temporary"
    return SendResult(outcome, f"{exc.code} {exc.message}")


def _worst(refusals: list[SMTPRecipientRefused]) -> SendResult:
    """Permanent if any recipient was refused for good (we send to one at a time)."""
    results = [_by_code(refusal) for refusal in refusals]
    permanent = [r for r in results if r.outcome == "permanent"]
    return (permanent or results or [SendResult("temporary", "all recipients refused")])[0]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SMTPResponseException):
        return f"{exc.code} {exc.message}"
    return f"{type(exc).__name__}: {exc}"
