"""A loopback TCP relay to a real server, whose plug a test can pull and put back.

A service connected through it loses its broker or database the way it would when the
server goes away: open connections drop and new ones are refused, while the real server
keeps serving every other process of the test session. The relay can also keep back
what the server answers (`hold_answers`): a broker that takes a publish and never
confirms it. The relay runs its own event loop in a thread, so that it forwards while
the test blocks (e.g. in `process.wait`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from harness.processes import free_port


class Plug:
    """Listens on 127.0.0.1:`port` and relays every connection to `target_host:target_port`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        #: Cleared while the server's answers are kept back (used in the relay's loop only).
        self._answering = asyncio.Event()
        self._answering.set()

    @classmethod
    def to(cls, url: str) -> Plug:
        """A plug in front of the server of `url` (amqp://… or mongodb://…)."""
        parts = urlsplit(url)
        if not (parts.hostname and parts.port):
            raise ValueError(f"{url!r} names no host and port")
        return cls(parts.hostname, parts.port)

    def url(self, url: str) -> str:
        """`url` with its host and port replaced by this plug's."""
        parts = urlsplit(url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{self.port}" if userinfo else f"127.0.0.1:{self.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    def __enter__(self) -> Plug:
        self._thread.start()
        self.put_in()
        return self

    def __exit__(self, *exc: object) -> None:
        self.pull()
        self._run(self._end_relays())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def put_in(self) -> None:
        """Listen again: new connections reach the server."""
        self._run(self._listen())

    def pull(self) -> None:
        """Stop listening and cut every open connection: the server is away."""
        self._run(self._cut())

    def hold_answers(self) -> None:
        """Keep back whatever the servers send from now on; what clients send still goes."""
        self._run(self._gate(False))

    def answer(self) -> None:
        """Let the servers' answers through again, those kept back first."""
        self._run(self._gate(True))

    async def _gate(self, open_: bool) -> None:
        if open_:
            self._answering.set()
        else:
            self._answering.clear()

    def _run(self, work: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=30)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _end_relays(self) -> None:
        """Cancel the relays still running, so that none is destroyed pending with the loop."""
        relays = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for relay in relays:
            relay.cancel()
        await asyncio.gather(*relays, return_exceptions=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer),
            self._pipe(up_reader, writer, self._answering),
            return_exceptions=True,
        )

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        gate: asyncio.Event | None = None,
    ) -> None:
        try:
            while chunk := await reader.read(65536):
                if gate is not None:
                    await gate.wait()
                writer.write(chunk)
                await writer.drain()
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.transport.abort()
