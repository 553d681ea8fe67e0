"""Process and port helpers shared by `stack.py` and `run.py` (standard library only).

Both scripts start long-running servers detached from the terminal, remember them in
pid files, and must never wait without a deadline; these are the few pieces they share.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


class ProcessError(Exception):
    """A process that could not be stopped even with SIGKILL."""


def pid_alive(pid: int, marker: str) -> bool:
    """True when `pid` runs and its command line contains `marker`.

    The marker (a path inside this checkout) guards against a recycled pid and against
    the same program started by another clone of the repository.
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state == "Z":
        reap(pid)
        return False
    return marker in cmdline


def reap(pid: int) -> None:
    """Collect the exit status of a child of ours so that it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def read_pid(pid_file: Path, marker: str) -> int | None:
    """The live pid recorded in `pid_file`; a stale file is removed."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if pid_alive(pid, marker):
        return pid
    pid_file.unlink(missing_ok=True)
    return None


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; returns the last result."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def stop_pid(pid: int, marker: str, name: str, timeout: float) -> bool:
    """SIGTERM, wait up to `timeout` for the exit, then SIGKILL: a stop that cannot hang.

    Returns True when the process stopped on SIGTERM, False when it had to be killed.
    """
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    if wait_until(lambda: not pid_alive(pid, marker), timeout):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if not wait_until(lambda: not pid_alive(pid, marker), 10.0):
        raise ProcessError(f"{name} (pid {pid}) survived SIGKILL")
    return False


def spawn(
    argv: Sequence[str], log_file: Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Start a long-running server detached from this process and the terminal.

    A new session keeps the terminal's Ctrl-C from reaching it (its owner decides how
    to stop it); its output is appended to `log_file` so a failed start can be explained.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        log.write(f"{START_MARKER}{stamp} start: {' '.join(argv)}\n".encode())
        log.flush()
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )


START_MARKER = "\n==== "


def log_tail(path: Path, lines: int = 25) -> str:
    """The last lines of a log since the latest `spawn` into it, indented, for errors.

    Logs are appended to across restarts; lines of an earlier run would only mislead.
    """
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"    (no log at {path})"
    start = text.rfind(START_MARKER)
    if start >= 0:
        text = text[start + 1 :]
    tail = text.rstrip().splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in tail) or "    (log is empty)"


def port_open(port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def http_status(port: int, path: str, timeout: float = 2.0) -> int | None:
    """Status of GET http://127.0.0.1:`port``path`, or None when nothing answers.

    http.client rather than urllib: urllib would honour an http_proxy variable and send
    a loopback request to a proxy.
    """
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()
