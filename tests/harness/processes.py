"""Service processes started by tests: real OS processes, killed and restarted for real."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx

from harness.stack import REPO

LOG_DIR = REPO / ".local" / "test-logs"
#: How long `stop` waits after SIGTERM before it kills: a service must be gone by then.
KILL_TIMEOUT_S = 30.0
START_LINE = "\n--- start {} ---"

T = TypeVar("T")


def run_until_stopped(
    main: Coroutine[Any, Any, T],
    stopped: str,
    run: Callable[[Coroutine[Any, Any, T]], T] = asyncio.run,
) -> T:
    """Run a script's main coroutine (a benchmark, the chaos run) with `run`. SIGTERM
    cancels it, so that its `finally` blocks stop the processes and servers it started
    (Python's default for SIGTERM ends the script at once, and they outlived it); the
    script then exits with `stopped`."""

    async def cancellable() -> T:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await main

    try:
        return run(cancellable())
    except asyncio.CancelledError:
        sys.exit(stopped)


def free_port() -> int:
    """A TCP port nobody listens on now, so that concurrent test sessions do not collide."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServiceProcess:
    """`python -m <module>` with its own environment, HTTP port and log file."""

    def __init__(
        self,
        name: str,
        module: str,
        port: int | None,
        env: dict[str, str],
        *,
        pythonpath: tuple[Path, ...] = (),
    ) -> None:
        self.name = name
        self.module = module
        self.port = port or free_port()
        self.env = {**os.environ, **env, "DIKO_HTTP_PORT": str(self.port)}
        if pythonpath:
            paths = [str(p) for p in pythonpath]
            self.env["PYTHONPATH"] = os.pathsep.join([*paths, self.env.get("PYTHONPATH", "")])
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"{name}-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, extra_env: dict[str, str] | None = None, timeout: float = 90.0) -> None:
        """Launch the process and wait until it is ready."""
        self.launch(extra_env=extra_env)
        self.wait_ready(timeout)

    def launch(self, *, extra_env: dict[str, str] | None = None) -> None:
        """Start the process and return at once (it may still be waiting for the stack)."""
        env = {**self.env, **(extra_env or {})}
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"{START_LINE.format(self.starts)}\n".encode())
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def ready(self) -> bool:
        """/readyz answers 200 now."""
        try:
            return httpx.get(f"{self.base_url}/readyz", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Wait until /readyz answers 200; fail with the log tail if the process dies or hangs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.tail()}"
                )
            if self.ready():
                return
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready within {timeout:.0f} s:\n{self.tail()}")

    def wait_exit(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no acknowledgements, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        """SIGTERM and wait for a graceful shutdown; SIGKILL if it hangs."""
        self.terminate()

    def terminate(self, timeout: float = KILL_TIMEOUT_S) -> int | None:
        """SIGTERM; the exit status if the process ended within `timeout`, else None.

        A process that is still there after `timeout` is killed (and None returned), so
        that a test about prompt shutdown fails instead of leaving it behind.
        """
        if self.process is None:
            return None
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def log_of_last_start(self) -> str:
        """What the process logged since it was last started."""
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace")
        return text.rsplit(START_LINE.format(self.starts), 1)[-1]

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.get(f"{self.base_url}{path}", timeout=10.0, **kwargs)  # type: ignore[arg-type]

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample of /metrics (0 if absent)."""
        from prometheus_client.parser import text_string_to_metric_families

        total = 0.0
        for family in text_string_to_metric_families(self.get("/metrics").text):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    total += sample.value
        return total

    def tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
