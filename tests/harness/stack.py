"""The local stack as the tests use it: addresses, an isolated virtual host, and restarts.

Every test session gets a virtual host of its own, provisioned like production: the
broker users of diko (one per service, `operator`, an integrator `integrator-tests`)
with the rights `diko_shared.messaging.access` computes, and the whole topology. Tests
act under those identities: a service process logs in as its service, `stack.amqp_url`
is the operator's (the `diko` command line), and `harness.bus` picks the sender of each
message it publishes. Only `harness`, a user that exists in test virtual hosts alone,
may do anything there: the tests' eyes (taps, dead-letter queues) and their hands for
setting up what no production user may (a queue declared by an older version).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from pymongo import MongoClient

from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.senders import INTEGRATOR_PREFIX, OPERATOR
from diko_shared.messaging.access import EVERYTHING, Definitions, Grant, grants

REPO = Path(__file__).resolve().parents[2]
STACK_ENV = REPO / ".local" / "stack.env"
STACK_SCRIPT = REPO / "deploy" / "local" / "stack.py"
#: The broker users' passwords of this checkout, one file each (written by `make stack`
#: for the deployment's users, by the harness for the test-only ones).
PASSWORDS = REPO / ".local" / "rabbitmq" / "users"
#: The tests' own user, with every right in test virtual hosts and none in `diko`.
HARNESS_USER = "harness"
#: An integrator as another system would be: `integrator-tests`.
TEST_INTEGRATOR = f"{INTEGRATOR_PREFIX}tests"
#: The retry delays of service processes started by tests (quick).
TEST_RETRY_DELAYS_MS = (200, 500)
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


def ctl(
    *args: str,
    timeout: float = 120.0,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run rabbitmqctl against the local node (another one with the `env` of its stack, see
    `harness.servers`)."""
    result = subprocess.run(
        [sys.executable, str(STACK_SCRIPT), "ctl", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=None if env is None else {**os.environ, **env},
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


def password(user: str) -> str:
    """The password of a broker user of this checkout: random on first use, then kept."""
    path = PASSWORDS / user
    if not path.exists():
        PASSWORDS.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another session wrote it a moment ago
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(24) + "\n")
    for _ in range(100):  # a concurrent writer may not have written its line yet
        if value := path.read_text().strip():
            return value
        time.sleep(0.05)
    raise RuntimeError(f"{path} stays empty")


def url_as(url: str, user: str, vhost: str | None = None) -> str:
    """`url` logged in as `user` (with its password), on `vhost` if given."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user, safe='')}:{quote(password(user), safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    path = "/" + vhost if vhost is not None else parts.path
    return urlunsplit((parts.scheme, netloc, path, parts.query, parts.fragment))


def harness_grant() -> Grant:
    """The tests' own user: every right, in test virtual hosts only."""
    return Grant(
        HARNESS_USER,
        configure=EVERYTHING,
        write=EVERYTHING,
        read=EVERYTHING,
        what="the test harness: taps, dead letters, setting up faults",
    )


@dataclass
class SessionStack:
    """One test session's slice of the stack: its own virtual host and database names."""

    base: dict[str, str]
    vhost: str
    db_prefix: str
    created: bool = field(default=False)
    #: The services whose broker users have their rights in this virtual host.
    services: tuple[str, ...] = ()
    #: The environment that points deploy/local/stack.py at the servers of `base` when they
    #: are not the checkout's stack (`harness.servers.OwnServers`); None: the checkout's.
    stack_env: Mapping[str, str] | None = None
    #: Files of this session's service processes (media's website), removed with it.
    scratch: Path | None = None

    @classmethod
    def create(
        cls,
        *,
        provision: bool = True,
        base: Mapping[str, str] | None = None,
        stack_env: Mapping[str, str] | None = None,
    ) -> SessionStack:
        """A fresh virtual host with diko's users and rights and, if `provision`, its topology.

        Without the topology, a test can first set up what an older version left behind.
        `base` and `stack_env`: other servers than the checkout's stack (a chaos run's own).
        """
        token = secrets.token_hex(4)
        stack = cls(
            base=dict(base) if base is not None else read_stack_env(),
            vhost=f"diko-test-{token}",
            db_prefix=f"t{token}",
            stack_env=stack_env,
        )
        stack.created = True
        try:
            stack.import_definitions(topology=provision)
        except BaseException:
            with contextlib.suppress(Exception):
                stack.destroy()
            raise
        return stack

    def definitions(self) -> Definitions:
        """The users and rights of production (every service the catalogue knows), the
        test integrator and the harness, with the topology of the tests' retry delays."""
        services = tuple(CATALOGUE.services())
        users = [*grants(["tests"], monitor=False, services=services), harness_grant()]
        return Definitions(self.vhost, TEST_RETRY_DELAYS_MS, users, services)

    def import_definitions(self, *, topology: bool = True) -> None:
        """Create the users (global to the node), the virtual host, its rights and topology."""
        definitions = self.definitions()
        document = definitions.document({g.user: password(g.user) for g in definitions.users})
        if not topology:
            for key in ("exchanges", "queues", "bindings"):
                document[key] = []
        self.ctl("import_definitions", stdin=json.dumps(document))
        self.services = tuple(definitions.services)

    def __enter__(self) -> SessionStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    def destroy(self) -> None:
        """Delete the virtual host, drop the databases this stack's services used and
        remove their files."""
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None
        if self.created:
            self.ctl("delete_vhost", self.vhost)
            self.created = False
            with MongoClient(self.mongo_url, timeoutMS=30_000) as client:
                for name in client.list_database_names():
                    if name.startswith(self.db_prefix + "_"):
                        client.drop_database(name)

    def ctl(self, *args: str, timeout: float = 120.0, stdin: str | None = None) -> str:
        """rabbitmqctl against this stack's broker node."""
        return ctl(*args, timeout=timeout, stdin=stdin, env=self.stack_env)

    @property
    def amqp_url(self) -> str:
        """The operator's: what the `diko` command line logs in as."""
        return self.amqp_url_as(OPERATOR)

    def amqp_url_as(self, user: str) -> str:
        """This session's virtual host, logged in as `user` (a service, `operator`, …)."""
        return url_as(self.base["DIKO_AMQP_URL"], user, self.vhost)

    @property
    def mongo_url(self) -> str:
        return self.base["DIKO_MONGO_URL"]

    @property
    def mailpit_url(self) -> str:
        return self.base["DIKO_MAILPIT_URL"].rstrip("/")

    def database(self, service: str) -> str:
        return f"{self.db_prefix}_{service}"

    def _scratch(self) -> Path:
        if self.scratch is None:
            self.scratch = Path(tempfile.mkdtemp(prefix=f"diko-{self.db_prefix}-"))
        return self.scratch

    def service_env(self, service: str, **overrides: str) -> dict[str, str]:
        """Environment of a service process: this session's addresses, quick retries and leases."""
        if service not in self.services:
            raise RuntimeError(
                f"{service!r} has no broker user in {self.vhost}: its contract module must be "
                "imported before the session's stack is made (e.g. in the suite's conftest.py)"
            )
        env = {
            "DIKO_AMQP_URL": self.amqp_url_as(service),
            "DIKO_MONGO_URL": self.mongo_url,
            "DIKO_MONGO_DATABASE": self.database(service),
            "DIKO_SMTP_HOST": self.base["DIKO_SMTP_HOST"],
            "DIKO_SMTP_PORT": self.base["DIKO_SMTP_PORT"],
            "DIKO_MAILPIT_URL": self.mailpit_url,
            "DIKO_RETRY_DELAYS_MS": ",".join(map(str, TEST_RETRY_DELAYS_MS)),
            "DIKO_OUTBOX_LEASE_S": "2",
            "DIKO_OUTBOX_SWEEP_S": "0.3",
            "DIKO_DUE_POLL_S": "0.3",
            "DIKO_LOG_LEVEL": "INFO",
        }
        if service == "media":
            # Not media's default (a folder in the temporary directory that outlives every
            # run) but one in the session's scratch folder, removed with the session.
            env["DIKO_SITE_DIR"] = str(self._scratch() / f"site-{service}")
        env.update(overrides)
        return env
