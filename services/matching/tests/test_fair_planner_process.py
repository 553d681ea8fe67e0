"""The fair's planning process dies with the service that started it.

A service killed outright (SIGKILL) cannot shut its pool down, and its worker must not
outlive it. (A clean-clone run once left a worker waiting for work after its service
had stopped; that case was not reproduced here. The kernel's parent-death signal,
which the worker now asks for, covers every way its service can end.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SERVICE = """
import os, sys
from diko_matching.fairs.planner import Planner
worker = Planner().executor().submit(os.getpid).result()
print(worker, flush=True)
sys.stdin.read()
"""
BOUND_S = 30


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped by init, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_the_worker_dies_when_the_service_is_killed() -> None:
    service = subprocess.Popen(
        [sys.executable, "-c", SERVICE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert service.stdout is not None
    worker = int(service.stdout.readline())
    try:
        assert alive(worker)
        service.send_signal(signal.SIGKILL)
        service.wait(BOUND_S)
        deadline = time.monotonic() + BOUND_S
        while alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)  # another process's state: nothing to wait on but polling
        assert not alive(worker), f"the planning process {worker} outlived its service"
    finally:
        service.kill()
        if alive(worker):
            os.kill(worker, signal.SIGKILL)
