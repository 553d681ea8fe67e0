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
import email.generator
import email.policy
import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

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
) -> EmailMessage:
    """multipart/mixed (when there are attachments) around multipart/alternative: plain text
    first, then the preferred HTML part, which is multipart/related with the brand's logo
    as an inline image (`cid:` in the HTML).

    With an unsubscribe URL, the message carries `List-Unsubscribe` and
    `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): a mail client's
    unsubscribe button then POSTs to it, without opening a page.
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = Address(display_name=to_name, addr_spec=to_address)
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for name, value in headers.items():
        message[name] = value
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    html = message.get_payload()[1]
    html.add_related(
        LOGO,
        maintype="image",
        subtype="png",
        cid=f"<{LOGO_CID}>",
        disposition="inline",
        filename="diko-altmark.png",
    )
    for attachment in attachments:
        message.add_attachment(
            attachment.content,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=attachment.filename,
        )
    return message


#: How messages are written out: as SMTP wants them, with header lines up to RFC 5322's
#: limit, so that a long `List-Unsubscribe` URL stays one URL instead of being turned
#: into encoded words (which mail clients would not recognise as a link).
WIRE_POLICY = email.policy.SMTP.clone(max_line_length=998)


def flatten(message: EmailMessage) -> bytes:
    with io.BytesIO() as out:
        email.generator.BytesGenerator(out, policy=WIRE_POLICY).flatten(message)
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

    async def send(self, message: EmailMessage, sender: str) -> SendResult:
        async with self._slots:
            for _ in range(2):
                try:
                    client, reused = await self._client()
                except (SMTPException, OSError) as exc:
                    return SendResult("temporary", _describe(exc))
                result, healthy, reset = await self._conversation(client, message, sender)
                await self._give_back(client, healthy, reset)
                if result is not None:
                    return result
                if not reused:
                    break
            return SendResult("temporary", "the SMTP server closed the connection")

    async def _conversation(
        self, client: aiosmtplib.SMTP, message: EmailMessage, sender: str
    ) -> tuple[SendResult | None, bool, bool]:
        """(result, connection healthy, needs RSET); result None: the server had closed a
        kept connection before this message, so it is tried once on a fresh one."""
        try:
            await client.sendmail(
                sender,
                [a.addr_spec for a in message["To"].addresses],
                flatten(message),
                timeout=self._timeout,
            )
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
