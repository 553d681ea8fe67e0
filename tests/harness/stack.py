"""The local stack as the tests use it: addresses, an isolated virtual host, and restarts."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pymongo import MongoClient

REPO = Path(__file__).resolve().parents[2]
STACK_ENV = REPO / ".local" / "stack.env"
STACK_SCRIPT = REPO / "deploy" / "local" / "stack.py"
REQUIRED = (
    "DIKO_AMQP_URL",
    "DIKO_MONGO_URL",
    "DIKO_SMTP_HOST",
    "DIKO_SMTP_PORT",
    "DIKO_MAILPIT_URL",
)


class StackMissing(RuntimeError):
    """The local stack is not running or not configured."""


def read_stack_env() -> dict[str, str]:
    """`.local/stack.env`, overridden by `DIKO_*` variables of the environment."""
    values: dict[str, str] = {}
    if STACK_ENV.exists():
        for line in STACK_ENV.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip()
    values.update({k: v for k, v in os.environ.items() if k.startswith("DIKO_")})
    missing = [k for k in REQUIRED if not values.get(k)]
    if missing:
        raise StackMissing(
            f"{', '.join(missing)} not set: start the local stack with `make stack` "
            "(the tests run against the real RabbitMQ, FerretDB and Mailpit)"
        )
    return values


def ctl(*args: str, timeout: float = 120.0) -> str:
    """Run rabbitmqctl against the local node."""
    result = subprocess.run(
        [sys.executable, str(STACK_SCRIPT), "ctl", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr or result.stdout}")
    return result.stdout


def restart(component: str, timeout: float = 180.0) -> None:
    """Restart a component of the local stack (keeping its data) and wait until it answers."""
    subprocess.run(
        [sys.executable, str(STACK_SCRIPT), "restart", component],
        check=True,
        timeout=timeout,
        capture_output=True,
    )


def _with_vhost(url: str, vhost: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + vhost, parts.query, parts.fragment))


@dataclass
class SessionStack:
    """One test session's slice of the stack: its own virtual host and database names."""

    base: dict[str, str]
    vhost: str
    db_prefix: str
    created: bool = field(default=False)

    @classmethod
    def create(cls) -> SessionStack:
        base = read_stack_env()
        token = secrets.token_hex(4)
        stack = cls(base=base, vhost=f"diko-test-{token}", db_prefix=f"t{token}")
        user = urlsplit(base["DIKO_AMQP_URL"]).username or "diko"
        ctl("add_vhost", stack.vhost)
        ctl("set_permissions", "-p", stack.vhost, user, ".*", ".*", ".*")
        stack.created = True
        return stack

    def __enter__(self) -> SessionStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    def destroy(self) -> None:
        """Delete the virtual host and drop the databases this stack's services used."""
        if self.created:
            ctl("delete_vhost", self.vhost)
            self.created = False
            with MongoClient(self.mongo_url, timeoutMS=30_000) as client:
                for name in client.list_database_names():
                    if name.startswith(self.db_prefix + "_"):
                        client.drop_database(name)

    @property
    def amqp_url(self) -> str:
        return _with_vhost(self.base["DIKO_AMQP_URL"], self.vhost)

    @property
    def mongo_url(self) -> str:
        return self.base["DIKO_MONGO_URL"]

    @property
    def mailpit_url(self) -> str:
        return self.base["DIKO_MAILPIT_URL"].rstrip("/")

    def database(self, service: str) -> str:
        return f"{self.db_prefix}_{service}"

    def service_env(self, service: str, **overrides: str) -> dict[str, str]:
        """Environment of a service process: this session's addresses, quick retries and leases."""
        env = {
            "DIKO_AMQP_URL": self.amqp_url,
            "DIKO_MONGO_URL": self.mongo_url,
            "DIKO_MONGO_DATABASE": self.database(service),
            "DIKO_SMTP_HOST": self.base["DIKO_SMTP_HOST"],
            "DIKO_SMTP_PORT": self.base["DIKO_SMTP_PORT"],
            "DIKO_MAILPIT_URL": self.mailpit_url,
            "DIKO_RETRY_DELAYS_MS": "200,500",
            "DIKO_OUTBOX_LEASE_S": "2",
            "DIKO_OUTBOX_SWEEP_S": "0.3",
            "DIKO_DUE_POLL_S": "0.3",
            "DIKO_LOG_LEVEL": "INFO",
        }
        env.update(overrides)
        return env
