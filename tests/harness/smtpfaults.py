"""A fault-injecting SMTP server on loopback, in front of Mailpit.

The chaos run points notifications at it. A conversation goes as with any relay (EHLO,
MAIL, RCPT, DATA), and the message is handed on to Mailpit before it is accepted, unless
a fault says otherwise:

- `refused` recipients (a set the schedule draws from the seed) get `550 5.1.1` at RCPT:
  a permanent refusal, which notifications records as a failed delivery, marks the
  address undeliverable and announces with `notification.failed`;
- an armed **tempfail** answers the next message `451 4.3.0` once its data arrived, and
  does not relay it;
- an armed **drop** closes the connection without an answer once the next message's data
  arrived, and relays nothing;
- an armed **slow** answers the next message `delay` seconds late (relayed, then `250`);
  a client that hangs up meanwhile (a sender killed while it waits) gets nothing relayed.

Faults are armed at the schedule's moments and hit the next messages to arrive, `count`
of them each, in the order armed: so every fault of the schedule hits a message, however
fast or slow the load is at that moment.

What is not injected is the one case no sender can tell apart from a lost answer: the
relay took the message and the connection dropped before the `250` (notifications' README,
"the one gap"). Every fault here happens before the relay, so that "each e-mail in
Mailpit exactly once" is what notifications must achieve, not luck.

Our own few lines of asyncio rather than aiosmtpd: the faults need the conversation at
the level of its lines (no answer at all, an answer seconds late), which aiosmtpd's
handler hooks do not expose, and the subset aiosmtplib speaks is small.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field

import aiosmtplib

HOSTNAME = "chaos-smtp.diko.test"
#: Longest line we accept (RFC 5321 allows 1000 octets per line).
MAX_LINE = 64 * 1024


@dataclass
class Armed:
    """A fault waiting for the next `count` messages: tempfail, drop or slow (`delay` s)."""

    kind: str
    count: int = 1
    delay: float = 0.0


@dataclass
class FaultySmtp:
    """Listens on 127.0.0.1; relays to `relay_host:relay_port` unless a fault says otherwise."""

    relay_host: str
    relay_port: int
    refused: frozenset[str] = frozenset()
    armed: list[Armed] = field(default_factory=list)
    #: What happened, by kind: relayed, refused, tempfail, drop, slow, relay_failed.
    counts: Counter[str] = field(default_factory=Counter)
    port: int = 0
    _server: asyncio.Server | None = None
    _conversations: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._converse, "127.0.0.1", 0, limit=MAX_LINE)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and end the conversations still open (a client's kept ones)."""
        for task in list(self._conversations):
            task.cancel()
        await asyncio.gather(*self._conversations, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def __aenter__(self) -> FaultySmtp:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def arm(self, kind: str, count: int = 1, delay: float = 0.0) -> None:
        self.armed.append(Armed(kind, count, delay))

    @property
    def conversations(self) -> int:
        """Conversations still open."""
        return len(self._conversations)

    @property
    def unspent(self) -> int:
        """Messages armed faults still wait for."""
        return sum(a.count for a in self.armed)

    def next_fault(self) -> Armed | None:
        """The fault for the message that just arrived, if one is armed."""
        if not self.armed:
            return None
        fault = self.armed[0]
        fault.count -= 1
        if fault.count <= 0:
            self.armed.pop(0)
        self.counts[fault.kind] += 1
        return fault

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conversation = _Conversation(self, reader, writer)
        task = asyncio.current_task()
        if task is not None:
            self._conversations.add(task)
        try:
            await conversation.run()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away; nothing was relayed for an unfinished message
        except asyncio.CancelledError:
            pass  # the server closes
        finally:
            if task is not None:
                self._conversations.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


class _Dropped(Exception):
    """The drop fault: end the conversation without another word."""


class _Conversation:
    """One SMTP session: the commands aiosmtplib sends, in order."""

    def __init__(
        self, server: FaultySmtp, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.sender = ""
        self.recipients: list[str] = []

    async def answer(self, *lines: str) -> None:
        text = "".join(
            f"{line[:3]}{'-' if i < len(lines) - 1 else ' '}{line[4:]}\r\n"
            for i, line in enumerate(lines)
        )
        self.writer.write(text.encode())
        await self.writer.drain()

    async def run(self) -> None:
        await self.answer(f"220 {HOSTNAME} ESMTP diko chaos")
        while line := await self.reader.readline():
            command, _, argument = line.decode("ascii", "replace").rstrip("\r\n").partition(" ")
            verb = command.upper()
            if verb == "EHLO":
                await self.answer(f"250 {HOSTNAME}", "250 8BITMIME", "250 SIZE 52428800")
            elif verb == "HELO":
                await self.answer(f"250 {HOSTNAME}")
            elif verb == "MAIL":
                self.sender, self.recipients = _address(argument), []
                await self.answer("250 2.1.0 OK")
            elif verb == "RCPT":
                await self._recipient(_address(argument))
            elif verb == "DATA":
                try:
                    await self._data()
                except _Dropped:
                    return
            elif verb == "RSET":
                self.sender, self.recipients = "", []
                await self.answer("250 2.0.0 OK")
            elif verb == "NOOP":
                await self.answer("250 2.0.0 OK")
            elif verb == "QUIT":
                await self.answer("221 2.0.0 Bye")
                return
            else:
                await self.answer("502 5.5.2 command not implemented")

    async def _recipient(self, recipient: str) -> None:
        if recipient.lower() in self.server.refused:
            self.server.counts["refused"] += 1
            await self.answer("550 5.1.1 mailbox unavailable (chaos: refused for good)")
            return
        self.recipients.append(recipient)
        await self.answer("250 2.1.5 OK")

    async def _data(self) -> None:
        if not self.recipients:
            await self.answer("554 5.5.1 no valid recipients")
            return
        await self.answer("354 end data with <CR><LF>.<CR><LF>")
        lines: list[bytes] = []
        while (line := await self.reader.readuntil(b"\n")) not in (b".\r\n", b".\n"):
            lines.append(line[1:] if line.startswith(b"..") else line)
        fault = self.server.next_fault()
        if fault is not None and fault.kind == "drop":
            raise _Dropped
        if fault is not None and fault.kind == "tempfail":
            await self.answer("451 4.3.0 try again later (chaos: temporary failure)")
            return
        if fault is not None and fault.kind == "slow" and await self._hangs_up(fault.delay):
            raise _Dropped
        try:
            await aiosmtplib.send(
                b"".join(lines),
                sender=self.sender,
                recipients=self.recipients,
                hostname=self.server.relay_host,
                port=self.server.relay_port,
                timeout=20,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            self.server.counts["relay_failed"] += 1
            await self.answer(f"451 4.4.1 relay to Mailpit failed: {type(exc).__name__}")
            return
        self.server.counts["relayed"] += 1
        await self.answer("250 2.0.0 OK: relayed")

    async def _hangs_up(self, delay: float) -> bool:
        """Wait `delay` seconds before answering; True if the client went away meanwhile
        (a killed sender): then nothing is relayed, as with every fault here."""
        try:
            gone = await asyncio.wait_for(self.reader.read(1), delay)
        except TimeoutError:
            return False
        return gone == b""


def _address(argument: str) -> str:
    """The address of `FROM:<a@b> SIZE=…` or `TO:<a@b>`."""
    _, _, rest = argument.partition(":")
    return rest.strip().split(" ", 1)[0].strip("<>")
