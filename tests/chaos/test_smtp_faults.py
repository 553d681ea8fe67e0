"""The chaos run's SMTP server: relays to Mailpit, and fails as armed (harness/smtpfaults.py).

Spoken to with aiosmtplib, the client notifications uses, so that each fault reaches it
as the exception notifications classifies: 550 permanent, 451 and a hang-up temporary.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from email.message import EmailMessage

import aiosmtplib
import pytest

from harness.mailpit import Mailpit
from harness.smtpfaults import FaultySmtp
from harness.stack import SessionStack
from harness.waiting import eventually

pytestmark = pytest.mark.stack


@pytest.fixture
async def smtp(stack: SessionStack) -> AsyncIterator[FaultySmtp]:
    async with FaultySmtp(stack.base["DIKO_SMTP_HOST"], int(stack.base["DIKO_SMTP_PORT"])) as own:
        yield own


def _mail(to: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "diko@diko.example"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{secrets.token_hex(8)}@diko.example>"
    message.set_content("Guten Tag,\n.\n..eine Zeile mit Punkt am Anfang.\n")
    return message


async def _send(smtp: FaultySmtp, message: EmailMessage) -> None:
    await aiosmtplib.send(message, hostname="127.0.0.1", port=smtp.port, timeout=20)


async def test_a_message_is_relayed_to_mailpit_unchanged(
    smtp: FaultySmtp, mailpit: Mailpit
) -> None:
    to = f"empfang-{secrets.token_hex(3)}@diko.example"
    message = _mail(to, "Weitergeleitet")
    await _send(smtp, message)
    [found] = await mailpit.wait_for(f"to:{to}")
    assert found["MessageID"] == message["Message-ID"].strip("<>")
    full = await mailpit.message(found["ID"])
    # the lines starting with a dot arrive as written (dot-stuffing undone)
    assert full["Text"].replace("\r\n", "\n").strip() == message.get_content().strip()
    assert smtp.counts == {"relayed": 1}


async def test_armed_faults_hit_the_next_messages_in_turn_and_nothing_is_relayed(
    smtp: FaultySmtp, mailpit: Mailpit
) -> None:
    to = f"stoerung-{secrets.token_hex(3)}@diko.example"
    smtp.arm("tempfail", count=2)
    smtp.arm("drop")
    for _ in range(2):
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await _send(smtp, _mail(to, "Später"))
        assert refused.value.code == 451
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await _send(smtp, _mail(to, "Aufgelegt"))
    assert smtp.unspent == 0
    await _send(smtp, _mail(to, "Wieder da"))
    [found] = await mailpit.wait_for(f"to:{to}")
    assert found["Subject"] == "Wieder da"
    assert smtp.counts == {"tempfail": 2, "drop": 1, "relayed": 1}


async def test_a_slow_answer_comes_late_and_a_refused_address_gets_550(
    smtp: FaultySmtp, mailpit: Mailpit
) -> None:
    to = f"langsam-{secrets.token_hex(3)}@diko.example"
    smtp.refused = frozenset({f"abgelehnt-{to}"})
    smtp.arm("slow", delay=1.5)
    began = time.monotonic()
    await _send(smtp, _mail(to, "Langsam"))
    assert time.monotonic() - began >= 1.5
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await _send(smtp, _mail(f"abgelehnt-{to}", "Nie"))
    assert [r.code for r in refused.value.recipients] == [550]
    await mailpit.wait_for(f"to:{to}")
    assert await mailpit.search(f"to:abgelehnt-{to}") == []
    assert smtp.counts == {"slow": 1, "relayed": 1, "refused": 1}


async def test_a_sender_that_hangs_up_while_a_slow_answer_waits_gets_nothing_relayed(
    smtp: FaultySmtp, mailpit: Mailpit
) -> None:
    """A sender killed while it waits for the answer must not find its mail delivered: its
    retry would send it a second time, which is no fault of the sender's."""
    to = f"aufgelegt-{secrets.token_hex(3)}@diko.example"
    smtp.arm("slow", delay=3.0)
    reader, writer = await asyncio.open_connection("127.0.0.1", smtp.port)
    for line in ("EHLO test", "MAIL FROM:<diko@diko.example>", f"RCPT TO:<{to}>", "DATA"):
        writer.write(f"{line}\r\n".encode())
    writer.write(f"To: {to}\r\nSubject: Nie\r\n\r\nText\r\n.\r\n".encode())
    await writer.drain()

    heard = bytearray()

    async def waiting_for_the_answer() -> bool:
        if b"354" not in heard:
            heard.extend(await reader.read(4096))
        return smtp.counts["slow"] == 1

    async def ended() -> bool:
        return smtp.conversations == 0

    await eventually(waiting_for_the_answer, what="the slow fault holding the answer")
    writer.close()
    await eventually(ended, what="the conversation ended")
    assert smtp.counts == {"slow": 1}
    await _send(smtp, _mail(to, "Danach"))
    [found] = await mailpit.wait_for(f"to:{to}")
    assert found["Subject"] == "Danach"
