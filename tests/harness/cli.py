"""The `diko` command as operators run it: a process of the virtual environment's script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.stack import SessionStack

DIKO = Path(sys.executable).with_name("diko")


def diko(
    stack: SessionStack,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `diko ARGS` against the session's broker and database; never raises on exit codes.

    The environment holds only these addresses and `env`: no DIKO_ setting of the caller
    leaks in. Run it with `cwd` outside the checkout to keep `.local/stack.env` out too.
    """
    environment = {
        "PATH": str(DIKO.parent),
        "DIKO_AMQP_URL": stack.amqp_url,
        "DIKO_MONGO_URL": stack.mongo_url,
        **(env or {}),
    }
    return subprocess.run(
        [str(DIKO), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )
