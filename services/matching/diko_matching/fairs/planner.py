"""Planning a fair in a worker process.

A plan takes up to its time limit (a minute by default) of solid CPU in HiGHS, which
would stall the service's event loop and compete with its message handling for the
interpreter. It runs in a separate process instead, spawned on first use and kept for
the next plan. HiGHS writes the odd diagnostic line straight to the process's standard
output, where the service writes its JSON logs; the worker's standard output goes to
/dev/null. The worker dies with the service: a service killed outright (SIGKILL, the
kernel's out-of-memory killer) would otherwise leave it waiting for work for good,
outside a container's process namespace.
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from diko_shared.messaging.errors import TransientError

#: prctl(2) option: the signal the kernel sends this process when its parent dies.
PR_SET_PDEATHSIG = 1


def _start_worker(service_pid: int) -> None:
    """Die with the service (Linux), and point standard output at /dev/null."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != service_pid:  # the service died before the line above
            os._exit(0)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def plan_dict(instance: dict[str, Any], time_limit: float) -> dict[str, Any]:
    """`plan_fair` on a JSON instance; the plan's JSON form (runs in the worker)."""
    from diko_matching.engine.fair import FairInstance, plan_fair

    inst = FairInstance.parse(instance)
    return plan_fair(inst, time_limit=time_limit).to_dict(inst)


class Planner:
    """One worker process, started when the first fair is planned."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def executor(self) -> ProcessPoolExecutor:
        """The worker's pool, started on first use."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
        return self._pool

    async def plan(self, instance: dict[str, Any], time_limit: float) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        pool = self.executor()
        try:
            return await loop.run_in_executor(pool, plan_dict, instance, time_limit)
        except BrokenProcessPool as exc:
            self._pool = None
            raise TransientError("the planning process died; the plan is tried again") from exc

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
