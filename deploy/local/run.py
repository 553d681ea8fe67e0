#!/usr/bin/env python3
"""Run diko's services as OS processes against the local stack (`make run|up|down`).

Standard library only, like stack.py. A service is a directory `services/<name>/` with a
`pyproject.toml` and a package `diko_<name>` that has a `__main__.py`; it is started as
`.venv/bin/python -m diko_<name>` with the environment of `.local/stack.env` plus
`DIKO_HTTP_PORT`, logged in to the broker as its own user (`DIKO_AMQP_URL`), and counts
as up when `GET /healthz` answers 200.

    python3 deploy/local/run.py run    # foreground; Ctrl-C (SIGINT) or SIGTERM stops all
    python3 deploy/local/run.py up     # detached; pid files and logs in .local/run/
    python3 deploy/local/run.py down   # stop what `up` (or a `run` elsewhere) started

`DIKO_RUN_PORT_OFFSET` shifts every HTTP port (e.g. 100: companies on 8101), so that a
second checkout can run its services beside the first.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

from processes import (
    ProcessError,
    http_status,
    log_tail,
    port_open,
    read_pid,
    spawn,
    stop_pid,
    wait_until,
)

REPO = Path(__file__).resolve().parents[2]
RUN_DIR = REPO / ".local" / "run"
STACK_ENV = REPO / ".local" / "stack.env"
#: The broker users' passwords, written by `make stack` (deploy/local/stack.py).
BROKER_PASSWORDS = REPO / ".local" / "rabbitmq" / "users"
VENV_PYTHON = REPO / ".venv" / "bin" / "python"

# The HTTP ports of the known services (issue 2); a service not listed gets 8005 on.
SERVICE_PORTS = {"companies": 8001, "matching": 8002, "notifications": 8003, "media": 8004}
FIRST_EXTRA_PORT = 8005
HEALTH_TIMEOUT = 90.0  # a cold start imports FastStream, pydantic and builds indexes
STOP_TIMEOUT = 20.0


class RunError(Exception):
    """A failure the operator can act on: printed without a traceback."""


def say(message: str) -> None:
    """Progress line for the operator."""
    print(f"run: {message}", flush=True)


@dataclass(frozen=True)
class Service:
    """One service of this checkout and where it listens."""

    name: str
    port: int

    @property
    def module(self) -> str:
        """The importable package, started with `python -m`."""
        return f"diko_{self.name}"

    @property
    def pid_file(self) -> Path:
        return RUN_DIR / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return RUN_DIR / f"{self.name}.log"

    @property
    def marker(self) -> str:
        """Text in the process's command line: this checkout's venv running this module.

        Matched against /proc/<pid>/cmdline, so the pid file of another clone or a
        recycled pid is never mistaken for ours.
        """
        return f"{VENV_PYTHON} -m {self.module}"


def port_offset() -> int:
    """DIKO_RUN_PORT_OFFSET, validated."""
    raw = os.environ.get("DIKO_RUN_PORT_OFFSET", "0").strip() or "0"
    if not raw.isdigit() or int(raw) > 50000:
        raise RunError(f"DIKO_RUN_PORT_OFFSET={raw!r} is not a small non-negative number")
    return int(raw)


def discover() -> tuple[list[Service], list[str]]:
    """The runnable services under services/, and a note for each one that is not yet.

    A service directory without `diko_<name>/__main__.py` (or `src/diko_<name>/...`) is
    being written; it is listed as skipped instead of failing the whole run.
    """
    offset = port_offset()
    services: list[Service] = []
    skipped: list[str] = []
    extra_port = FIRST_EXTRA_PORT
    for pyproject in sorted(REPO.glob("services/*/pyproject.toml")):
        root = pyproject.parent
        name = root.name
        module = f"diko_{name}"
        if not any((base / module / "__main__.py").exists() for base in (root, root / "src")):
            skipped.append(f"{name} (no {module}/__main__.py yet)")
            continue
        port = SERVICE_PORTS.get(name)
        if port is None:
            port, extra_port = extra_port, extra_port + 1
        services.append(Service(name, port + offset))
    return services, skipped


def read_stack_env() -> dict[str, str]:
    """The KEY=value lines of `.local/stack.env`, written by `make stack`."""
    if not STACK_ENV.exists():
        raise RunError(f"{STACK_ENV.relative_to(REPO)} is missing: run `make stack` first")
    values = {}
    for line in STACK_ENV.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.lstrip().startswith("#"):
            values[key.strip()] = value.strip()
    return values


def service_env(service: Service, stack_env: dict[str, str]) -> dict[str, str]:
    """The caller's environment plus the stack's addresses and the service's port.

    Every DIKO_ setting a service needs comes from stack.env, except the broker user:
    stack.env's DIKO_AMQP_URL is the operator's, and a service logs in as itself.
    """
    return {
        **os.environ,
        **stack_env,
        "DIKO_AMQP_URL": service_amqp_url(service, stack_env),
        "DIKO_HTTP_PORT": str(service.port),
        "PYTHONUNBUFFERED": "1",  # log lines reach the log file as they are written
    }


def service_amqp_url(service: Service, stack_env: dict[str, str]) -> str:
    """stack.env's broker address, logged in as the service's own user."""
    password_file = BROKER_PASSWORDS / service.name
    if not password_file.exists():
        raise RunError(
            f"the local broker has no user {service.name!r}: run `make stack`; a new service "
            "needs a user in deploy/rabbitmq/definitions.json "
            "(`.venv/bin/python -m diko_shared.messaging.access`)"
        )
    parts = urlsplit(stack_env.get("DIKO_AMQP_URL", ""))
    netloc = f"{service.name}:{password_file.read_text().strip()}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def running_pid(service: Service) -> int | None:
    """The pid of this checkout's instance of the service, if one runs."""
    return read_pid(service.pid_file, service.marker)


def start(service: Service, stack_env: dict[str, str]) -> subprocess.Popen:
    """Start one service as its own process, in its own session, logging to .local/run/."""
    if port_open(service.port):
        raise RunError(
            f"port {service.port} for {service.name} is already in use: stop that program, "
            "or shift all service ports with DIKO_RUN_PORT_OFFSET=<n>"
        )
    if not VENV_PYTHON.exists():
        raise RunError(f"{VENV_PYTHON.relative_to(REPO)} is missing: run `make venv` first")
    argv = [str(VENV_PYTHON), "-m", service.module]
    process = spawn(argv, service.log_file, cwd=REPO, env=service_env(service, stack_env))
    service.pid_file.write_text(f"{process.pid}\n")
    return process


def await_health(started: dict[Service, subprocess.Popen]) -> None:
    """Wait until every started service answers /healthz; on a failure say which and why."""
    pending = dict(started)

    def all_healthy() -> bool:
        for service, process in list(pending.items()):
            if process.poll() is not None:
                raise RunError(
                    f"{service.name} exited during start-up (exit code {process.returncode}); "
                    f"last lines of {service.log_file.relative_to(REPO)}:\n"
                    f"{log_tail(service.log_file)}"
                )
            if http_status(service.port, "/healthz", timeout=1.0) == 200:
                say(f"{service.name} is up on port {service.port}")
                del pending[service]
        return not pending

    if not wait_until(all_healthy, HEALTH_TIMEOUT, interval=0.25):
        service = next(iter(pending))
        raise RunError(
            f"{service.name} did not start within {HEALTH_TIMEOUT:.0f} s "
            f"({start_stage(service.port)}); is the stack running (`make stack-status`)? "
            f"Last lines of {service.log_file.relative_to(REPO)}:\n{log_tail(service.log_file)}"
        )


def start_stage(port: int) -> str:
    """What a starting service's /healthz says it is doing, e.g. waiting for the broker."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2.0)
    try:
        conn.request("GET", "/healthz")
        body = json.loads(conn.getresponse().read())
    except (OSError, http.client.HTTPException, ValueError):
        return "no answer on /healthz"
    finally:
        conn.close()
    return str(body.get("stage") or body.get("status") or body) if isinstance(body, dict) else "?"


def stop(service: Service) -> None:
    """SIGTERM the service (it drains and closes), SIGKILL after STOP_TIMEOUT."""
    pid = running_pid(service)
    if pid is not None:
        if not stop_pid(pid, service.marker, service.name, STOP_TIMEOUT):
            say(f"{service.name} ignored SIGTERM for {STOP_TIMEOUT:.0f} s and was killed")
        else:
            say(f"stopped {service.name}")
    service.pid_file.unlink(missing_ok=True)


def stop_recorded() -> int:
    """Stop every service that has a pid file in .local/run/ (even if its code is gone)."""
    stopped = 0
    for pid_file in sorted(RUN_DIR.glob("*.pid")):
        service = Service(pid_file.stem, 0)
        if running_pid(service) is not None:
            stop(service)
            stopped += 1
        pid_file.unlink(missing_ok=True)
    return stopped


def masked(url: str) -> str:
    """A URL with its password replaced, for printing on a shared screen."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not (sep and at and ":" in userinfo):
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"


def service_pages(port: int) -> list[str]:
    """The pages for people a running service lists at `GET /` (e.g. media's /podcast)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5.0)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        index = json.loads(response.read()) if response.status == 200 else {}
    except (OSError, http.client.HTTPException, ValueError):
        return []
    finally:
        conn.close()
    pages = index.get("pages") if isinstance(index, dict) else None
    return [str(page) for page in pages] if isinstance(pages, list) else []


def summary_lines(
    services: list[Service], stack_env: dict[str, str], pages: dict[str, list[str]]
) -> list[str]:
    """Where everything is, in two aligned columns: the stack, then each service's pages."""
    mailpit = stack_env.get("DIKO_MAILPIT_URL", "?")
    smtp = f"{stack_env.get('DIKO_SMTP_HOST', '?')}:{stack_env.get('DIKO_SMTP_PORT', '?')}"
    rows = [
        ("AMQP", f"{masked(stack_env.get('DIKO_AMQP_URL', '?'))}  (full URL in .local/stack.env)"),
        ("MongoDB", stack_env.get("DIKO_MONGO_URL", "?")),
        ("Mailpit", f"{mailpit}  (the mail; `diko mail list`; SMTP {smtp})"),
    ]
    for service in sorted(services, key=lambda s: s.name):
        base = f"http://127.0.0.1:{service.port}"
        for number, path in enumerate(pages.get(service.name) or ["/asyncapi"]):
            rows.append((service.name if number == 0 else "", f"{base}{path}"))
    if services:
        rows.append(("", "every service: /asyncapi /asyncapi.json /healthz /readyz /metrics"))
        rows.append(("logs", f"{RUN_DIR.relative_to(REPO)}/<service>.log"))
    width = max(len(label) for label, _ in rows)
    return [f"  {label:<{width}}  {value}".rstrip() for label, value in rows]


def print_summary(services: list[Service], stack_env: dict[str, str]) -> None:
    """Where everything is: the stack's addresses and each service's pages."""
    pages = {service.name: ["/asyncapi", *service_pages(service.port)] for service in services}
    print()
    print("\n".join(summary_lines(services, stack_env, pages)))
    print()


def start_all(services: list[Service], stack_env: dict[str, str]) -> None:
    """Start the services that do not run yet and wait for all of them to be healthy.

    On any failure the services started by this call are stopped again, so a failed
    `up` leaves nothing half-running behind.
    """
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    started: dict[Service, subprocess.Popen] = {}
    try:
        for service in services:
            pid = running_pid(service)
            if pid is not None:
                say(f"{service.name} already running (pid {pid})")
                continue
            say(f"starting {service.name} on port {service.port}")
            started[service] = start(service, stack_env)
        await_health(started)
    except BaseException:
        for service in started:
            stop(service)
        raise


def supervise(services: list[Service]) -> int:
    """Foreground mode: wait for Ctrl-C or SIGTERM, or for a service to die; then stop all."""
    requested: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        requested.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    say("running; Ctrl-C stops the services (the stack keeps running)")
    exit_code = 0
    while not requested:
        dead = [service for service in services if running_pid(service) is None]
        if dead:
            for service in dead:
                print(
                    f"run: {service.name} stopped unexpectedly; last lines of "
                    f"{service.log_file.relative_to(REPO)}:\n{log_tail(service.log_file)}",
                    file=sys.stderr,
                )
            exit_code = 1
            break
        time.sleep(0.5)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop short
    say("stopping the services")
    for service in services:
        stop(service)
    return exit_code


def interrupt(_signum: int, _frame: FrameType | None) -> None:
    """Turn SIGTERM into KeyboardInterrupt, so that the cleanup of Ctrl-C runs for it too."""
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    """Dispatch `run`, `up` or `down`; operator errors print a message, not a traceback."""
    parser = argparse.ArgumentParser(prog="run.py", description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=["run", "up", "down"])
    mode = parser.parse_args(argv).mode
    signal.signal(signal.SIGTERM, interrupt)  # a SIGTERM during start-up cleans up too
    try:
        if mode == "down":
            stopped = stop_recorded()
            say(f"stopped {stopped} service(s)" if stopped else "no service was running")
            return 0
        services, skipped = discover()
        for note in skipped:
            say(f"skipping {note}")
        stack_env = read_stack_env()
        if not services:
            say("no service exists yet (services/<name>/ with diko_<name>/__main__.py)")
            print_summary([], stack_env)
            return 0
        start_all(services, stack_env)
        print_summary(services, stack_env)
        if mode == "up":
            say("services run detached; `make down` stops them")
            return 0
        return supervise(services)
    except (RunError, ProcessError) as exc:
        print(f"run: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("run: interrupted; services started so far were stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
