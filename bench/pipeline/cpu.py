"""CPU time of processes and of the machine, read the same way on every side of a run."""

from __future__ import annotations

import os
import resource
from pathlib import Path


def process_cpu(pid: int) -> float:
    """User and system CPU seconds of a process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """User and system CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_times() -> tuple[float, float]:
    """CPU time of all cores since boot, in clock ticks: (busy, total), from /proc/stat."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    total = sum(ticks[:8])  # guest time is counted in user time already
    return total - idle, total


def scheduled(pid: int) -> tuple[float, float]:
    """Seconds the threads of a process ran and waited for a CPU while runnable, so far.

    From the scheduler's own accounting (`/proc/<pid>/task/*/schedstat`, nanoseconds):
    what is neither is time the process waited for something else (a reply, a message).
    """
    running = waiting = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            ran, waited, _ = (task / "schedstat").read_text().split()
        except (OSError, ValueError):
            continue  # the thread ended meanwhile
        running += int(ran)
        waiting += int(waited)
    return running / 1e9, waiting / 1e9
