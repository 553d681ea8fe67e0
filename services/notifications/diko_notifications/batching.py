"""Database calls that many concurrent sends make at about the same time, made as one.

A fan-out or a digest run has many SMTP conversations in flight; each takes its
delivery's lease, reads the record under it, records the attempt and gives the lease
back. Made one by one, those are four round trips per e-mail (4,000 for a digest run of
1,000 people, each one work for FerretDB on the same two cores). A `Batcher` lets each
conversation keep its own order of steps (the record is written before the lease goes)
while the calls that wait at the same moment travel together: whatever arrives while one
call is on its way goes in the next one, as a group commit does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: The most items one database call takes (FerretDB answers big `$in` lists slowly).
BATCH_LIMIT = 200


class Batcher(Generic[T, R]):
    """`await batcher(item)` → its result, from one call of `run` for every item waiting."""

    def __init__(
        self, run: Callable[[Sequence[T]], Awaitable[Sequence[R]]], limit: int = BATCH_LIMIT
    ) -> None:
        self._run = run
        self._limit = limit
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def __call__(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._waiting:
            await asyncio.sleep(0)  # the sends ready in this turn of the loop join the call
            batch, self._waiting = self._waiting[: self._limit], self._waiting[self._limit :]
            try:
                results = await self._run([item for item, _ in batch])
            except asyncio.CancelledError:
                for _, future in [*batch, *self._waiting]:
                    future.cancel()
                raise
            except Exception as exc:  # noqa: BLE001 - handed to every caller
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
