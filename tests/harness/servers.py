"""A RabbitMQ node and a FerretDB of a run's own, for runs that restart or pause them.

The chaos run restarts the broker and the document store and stops the store with SIGSTOP.
On the stack every other test shares, that kills their pooled connections and channels
(a later module met `AutoReconnect` in the whole suite). So it brings up servers of its
own with `deploy/local/stack.py` (the same binaries, config and provisioning as the
checkout's stack): on free ports, a node name of their own, their data, logs and pid
files under `.local/servers/<name>/` (`DIKO_STACK_HOME`), stopped and deleted at the end.
Mailpit stays the checkout's: nothing restarts it, and the run reads only its own
addresses there.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys

from diko_shared.contract.senders import OPERATOR
from harness.processes import free_port
from harness.stack import REPO, STACK_SCRIPT, SessionStack, read_stack_env, url_as

#: Where the runs' own servers keep their state, one directory each.
SERVERS_DIR = REPO / ".local" / "servers"
#: A node's first boot and the import of the deployment's definitions (a loaded machine).
START_TIMEOUT_S = 600.0
#: A restart: `rabbitmqctl stop` (60 s at most, then signals) and a boot.
RESTART_TIMEOUT_S = 600.0


class OwnServers:
    """RabbitMQ and FerretDB started for one run, stopped and deleted when it ends.

    Use as a context manager; `session()` gives the run's `SessionStack` on them."""

    def __init__(self, label: str) -> None:
        self.name = f"{label}-{secrets.token_hex(3)}"
        self.home = SERVERS_DIR / self.name
        self.amqp_port = free_port()
        self.mongo_port = free_port()
        #: Ports the stack script needs to have (Mailpit's are never used: not started).
        self.env = {
            "DIKO_STACK_HOME": str(self.home),
            "DIKO_STACK_RABBIT_NODE": f"{self.name}@localhost",
            "DIKO_STACK_AMQP_PORT": str(self.amqp_port),
            "DIKO_STACK_DIST_PORT": str(free_port()),
            "DIKO_STACK_METRICS_PORT": str(free_port()),
            "DIKO_STACK_MONGO_PORT": str(self.mongo_port),
            "DIKO_STACK_SMTP_PORT": str(free_port()),
            "DIKO_STACK_MAILPIT_PORT": str(free_port()),
        }

    def __enter__(self) -> OwnServers:
        try:
            self.script("up", "rabbitmq", "ferretdb", timeout=START_TIMEOUT_S)
        except BaseException:
            with contextlib.suppress(Exception):  # the start's failure is the one to see
                self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop both servers and delete their directory."""
        self.script("down", "--purge", timeout=RESTART_TIMEOUT_S)

    def script(self, *args: str, timeout: float) -> str:
        """`deploy/local/stack.py ARGS` aimed at these servers; its own words if it fails."""
        done = subprocess.run(
            [sys.executable, str(STACK_SCRIPT), *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"stack.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def restart(self, component: str) -> None:
        """Restart `rabbitmq` or `ferretdb` (keeping its data) and wait until it answers."""
        self.script("restart", component, timeout=RESTART_TIMEOUT_S)

    def signal_store(self, signum: signal.Signals) -> None:
        """Send FerretDB a signal (SIGSTOP: every query hangs; SIGCONT: it goes on)."""
        pid_file = self.home / "ferretdb" / "ferretdb.pid"
        os.kill(int(pid_file.read_text().split()[0]), signum)

    def base(self) -> dict[str, str]:
        """The checkout's stack settings with these servers' broker and store in them."""
        base = read_stack_env()
        amqp = f"amqp://127.0.0.1:{self.amqp_port}/diko"
        base["DIKO_AMQP_URL"] = url_as(amqp, OPERATOR)
        base["DIKO_MONGO_URL"] = f"mongodb://127.0.0.1:{self.mongo_port}/"
        return base

    def session(self) -> SessionStack:
        """A fresh virtual host and database names on these servers (destroy it before
        the servers stop)."""
        return SessionStack.create(base=self.base(), stack_env=self.env)
