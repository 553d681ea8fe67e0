#!/usr/bin/env python3
"""The local diko stack: RabbitMQ, FerretDB (SQLite backend) and Mailpit on 127.0.0.1.

Standard library only, because it runs before any virtualenv exists. Everything lives
under `.local/` in the checkout (binaries, sources, data, logs, pid files), so two
clones on one machine do not share state; their ports and RabbitMQ node name come from
`DIKO_STACK_*` environment variables (see `SETTINGS`) and are remembered in
`.local/stack-settings.json` so that later commands find the same stack.

`DIKO_STACK_HOME` puts a second stack of the same checkout in another directory (its
data, logs, pid files, settings and stack.env; the binaries and the broker users'
passwords stay the checkout's): the chaos run starts a RabbitMQ node and a FerretDB of
its own that way, to restart them without touching the stack the other tests share.

    python3 deploy/local/stack.py up [rabbitmq ferretdb mailpit] | down [--purge] | status
    python3 deploy/local/stack.py restart rabbitmq|ferretdb|mailpit
    python3 deploy/local/stack.py ctl ARGS...     # rabbitmqctl against the local node

`up` is idempotent: what is built is reused, what runs is detected (pid file plus a
probe of its port) and left alone, so a second run takes seconds. It writes the
addresses to `.local/stack.env` for scripts, tests and services.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from amqp_probe import amqp_login
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
LOCAL = REPO / ".local"
BIN = LOCAL / "bin"
SRC = LOCAL / "src"
#: The stack's own state: data, logs, pid files, settings (`.local` unless DIKO_STACK_HOME
#: names another directory, relative to the checkout or absolute).
STATE = REPO / (os.environ.get("DIKO_STACK_HOME", "").strip() or ".local")
LOG = STATE / "log"
STACK_ENV = STATE / "stack.env"
SETTINGS_FILE = STATE / "stack-settings.json"

RABBIT_HOME = STATE / "rabbitmq"  # HOME of the node and of rabbitmqctl: the Erlang cookie
RABBIT_SBIN = Path("/usr/lib/rabbitmq/bin")
#: One password file per broker user (mode 0600, random on first use); the test harness
#: keeps the passwords of its own users here too.
RABBIT_USERS_DIR = LOCAL / "rabbitmq" / "users"
#: Users, rights and topology of the deployment (generated from the contract by
#: `python -m diko_shared.messaging.access`); imported with this checkout's passwords.
DEFINITIONS_TEMPLATE = REPO / "deploy" / "rabbitmq" / "definitions.json"
#: What the node last imported: the template's hash, to import again when it changes.
DEFINITIONS_STAMP = RABBIT_HOME / "definitions.stamp"
#: The node's config file as last started, to restart a node whose config is older.
RABBIT_CONFIG_STAMP = RABBIT_HOME / "config.stamp"
PASSWORD_PLACEHOLDER = re.compile(r"@@password:([A-Za-z0-9._-]+)@@")
#: Signs the accept/decline links of the notifications service on this machine.
LINK_SECRET_FILE = LOCAL / "link-secret"
RABBIT_PID_FILE = RABBIT_HOME / "rabbitmq.pid"
RABBIT_CONSOLE_LOG = LOG / "rabbitmq-console.log"
RABBIT_LOG_DIR = LOG / "rabbitmq"
#: The `diko` command line's user: what DIKO_AMQP_URL in stack.env logs in as.
AMQP_USER = "operator"
AMQP_VHOST = "diko"
#: Users of earlier versions of this script that no longer exist: `diko` was an
#: administrator with every right; `guest` is RabbitMQ's default.
RETIRED_USERS = ("diko", "guest")

FERRET_VERSION = "v1.24.2"
FERRET_MODULE = "github.com/FerretDB/FerretDB"
FERRET_SRC = SRC / f"ferretdb-{FERRET_VERSION.lstrip('v')}"
FERRET_BIN = BIN / "ferretdb"
FERRET_DIR = STATE / "ferretdb"  # --state-dir; the SQLite files are in data/
FERRET_PID_FILE = FERRET_DIR / "ferretdb.pid"
FERRET_LOG = LOG / "ferretdb.log"
# FerretDB 1.24.2's SQLite backend queries `_id` through `->'$._id'` while its unique
# index is built on `->"_id"`; SQLite then never uses the index and every lookup or
# update by _id scans the table (17 ms instead of 0.9 ms at 10,000 documents). The
# one-line patch makes both expressions identical. See deploy/local/README.md.
FERRET_ID_PATCH = (
    "internal/backends/sqlite/metadata/metadata.go",
    "\tIDColumn = DefaultColumn + \"->'$._id'\"\n",
    "\tIDColumn = DefaultColumn + \"->'_id'\"\n",
)
# Upstream answers only `{_id: <value>}` from that index; `{_id: {$in: [...]}}` reads and
# decodes the whole collection, which is how the pipeline asks whether a batch of
# delivered messages was processed before. The patch answers such a list of strings or
# ObjectIDs with `WHERE <id> IN (...)` from the index (the handler still filters every
# document it gets back). See deploy/local/README.md.
FERRET_IN_QUERY = "internal/backends/sqlite/collection.go"
FERRET_IN_PATCHES = (
    (
        FERRET_IN_QUERY,
        """\t\tswitch v.(type) {
\t\tcase string, types.ObjectID:
\t\t\twhereClause = fmt.Sprintf(` WHERE %s = ?`, metadata.IDColumn)
\t\t\targs = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}
\t\t}
\t}

\tq += whereClause
""",
        """\t\tswitch v := v.(type) {
\t\tcase string, types.ObjectID:
\t\t\twhereClause = fmt.Sprintf(` WHERE %s = ?`, metadata.IDColumn)
\t\t\targs = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}
\t\tcase *types.Document:
\t\t\twhereClause, args = idInClause(v)
\t\t}
\t}

\tq += whereClause
""",
    ),
    (  # explain tells the same: the plan names the index
        FERRET_IN_QUERY,
        """\t\tswitch v.(type) {
\t\tcase string, types.ObjectID:
\t\t\tfilterPushdown = true
""",
        """\t\tswitch v := v.(type) {
\t\tcase *types.Document:
\t\t\twhereClause, args = idInClause(v)
\t\t\tfilterPushdown = whereClause != ""
\t\tcase string, types.ObjectID:
\t\t\tfilterPushdown = true
""",
    ),
    (
        FERRET_IN_QUERY,
        "// check interfaces\n",
        """// idInClause answers `{_id: {$in: [...]}}` of strings or ObjectIDs from the _id index
// (patched in by diko). Any other condition on _id gives no clause: a scan, as upstream.
func idInClause(filter *types.Document) (string, []any) {
\tin, _ := filter.Get("$in")
\tvalues, ok := in.(*types.Array)
\tif filter.Len() != 1 || !ok || values.Len() == 0 || values.Len() > 1000 {
\t\treturn "", nil
\t}

\tmarks := make([]string, values.Len())
\targs := make([]any, values.Len())

\tfor i := range values.Len() {
\t\tvalue := must.NotFail(values.Get(i))
\t\tswitch value.(type) {
\t\tcase string, types.ObjectID:
\t\t\tmarks[i] = "?"
\t\t\targs[i] = string(must.NotFail(sjson.MarshalSingleValue(value)))
\t\tdefault:
\t\t\treturn "", nil
\t\t}
\t}

\treturn fmt.Sprintf(` WHERE %s IN (%s)`, metadata.IDColumn, strings.Join(marks, ", ")), args
}

// check interfaces
""",
    ),
)
# Every iterator, transaction and connection FerretDB opens is registered with a pprof
# profile (a stack trace each) and a finalizer, to panic on a leaked one: 8 % of its CPU
# under bench.stories. Debug builds keep the check; this one skips it.
FERRET_TRACK_PATCHES = tuple(
    (
        "internal/util/resource/resource.go",
        f"func {name}(obj any, token *Token) {{\n",
        f"func {name}(obj any, token *Token) {{\n\tif !debugbuild.Enabled {{\n\t\treturn\n\t}}\n\n",
    )
    for name in ("Track", "Untrack")
)
FERRET_PATCHES = (FERRET_ID_PATCH, *FERRET_IN_PATCHES, *FERRET_TRACK_PATCHES)
# SQLite's default `synchronous=FULL` syncs the write-ahead log at every commit: a
# quarter of FerretDB's CPU under bench.stories. NORMAL syncs at checkpoints only: a
# commit survives a crash of FerretDB or of a service, and may be lost with the last
# moments before a power failure, as with the compose deployment's standalone MongoDB,
# which syncs its journal every 100 ms.
#
# `temp_store(memory)`: FerretDB inserts a batch with one statement inside a transaction,
# so SQLite keeps a statement journal of every page that statement changes, and past
# 64 KiB it spills that journal to a temporary file, one `pwrite` a page. A journal that
# only rolls back a statement need not survive anything: kept in memory, it cut
# FerretDB's CPU for the platform's writes by a sixth (deploy/local/README.md).
FERRET_SQLITE_PRAGMAS = "?_pragma=synchronous(normal)&_pragma=temp_store(memory)"
# Go's collector at its default (GOGC=100) took a tenth of FerretDB's CPU; 200 halves
# its runs for a heap that stays near 100 MB. One scheduler thread (GOMAXPROCS=1):
# SQLite takes one write at a time, and a second thread mostly woke and spun, taking a
# core's time from the services on a two-core machine (bench.pipeline, four runs each:
# 0.65-0.72 of the honest floor with two, 0.80-0.90 with one).
FERRET_ENV = {"GOGC": "200", "GOMAXPROCS": "1"}

MAILPIT_VERSION = "v1.33.1"
MAILPIT_MODULE = "github.com/axllent/mailpit"
MAILPIT_BIN = BIN / "mailpit"
MAILPIT_SRC = SRC / f"mailpit-{MAILPIT_VERSION.lstrip('v')}"
# Mailpit's web UI is built with npm from the lock beside this script: upstream's lock
# of v1.33.1 names rapidoc 12.1.0 and sass-embedded 1.108.1, which the npm registry
# does not serve. Ours is upstream's, re-resolved with rapidoc ^9.3.4 (the range
# upstream used until v1.30); `npm ci --omit=peer` leaves out sass-embedded, an optional
# peer of the Sass plugin, which then compiles with `sass`. See deploy/local/README.md.
MAILPIT_LOCK = Path(__file__).resolve().parent / "mailpit" / "package-lock.json"
MAILPIT_UPSTREAM_LOCK_SHA256 = "b4325c24efede5de5401f88b16c1bd73cf794e979191d4c02012b71836e924f1"
MAILPIT_PACKAGE_OLD = '"rapidoc": "^12.0.0"'
MAILPIT_PACKAGE_NEW = '"rapidoc": "^9.3.4"'
MAILPIT_UI_DIST = MAILPIT_SRC / "server" / "ui" / "dist"
MAILPIT_UI_ASSETS = ("app.js", "app.css")
NODE_MIN_MAJOR = 18
MAILPIT_DIR = STATE / "mailpit"
MAILPIT_PID_FILE = MAILPIT_DIR / "mailpit.pid"
MAILPIT_LOG = LOG / "mailpit.log"

RABBIT_START_TIMEOUT = 180.0  # first boot takes ~20 s here, longer on a busy 2-core runner
SERVER_START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
CTL_TIMEOUT = 120.0
BUILD_TIMEOUT = 30 * 60.0
APT_TIMEOUT = 20 * 60.0
GO_HINT = (
    "install Go 1.22 or newer (https://go.dev/dl; `apt-get install golang` only where that "
    "is 1.22+); with GOTOOLCHAIN=auto, the default, Go fetches the newer toolchain that "
    "FerretDB and Mailpit ask for"
)


class StackError(Exception):
    """A failure the operator can act on: printed as a message and a hint, no traceback."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


def shown(path: Path) -> str:
    """A path as the operator reads it: relative to the checkout where it lies inside."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def say(message: str) -> None:
    """Progress line for the operator; flushed so that `make` output stays in order."""
    print(f"stack: {message}", flush=True)


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """Ports and node name of one stack; every value can be overridden from the environment."""

    rabbit_node: str = "diko@localhost"
    amqp_port: int = 5682
    dist_port: int = 25682
    mongo_port: int = 27027
    smtp_port: int = 1025
    mailpit_port: int = 8025
    #: RabbitMQ's Prometheus endpoint; 0: the AMQP port + 10010 (15692 by default).
    metrics_port: int = 0

    @property
    def rabbit_metrics_port(self) -> int:
        return self.metrics_port or self.amqp_port + 10010


SETTINGS = {
    "rabbit_node": "DIKO_STACK_RABBIT_NODE",
    "amqp_port": "DIKO_STACK_AMQP_PORT",
    "dist_port": "DIKO_STACK_DIST_PORT",
    "mongo_port": "DIKO_STACK_MONGO_PORT",
    "smtp_port": "DIKO_STACK_SMTP_PORT",
    "mailpit_port": "DIKO_STACK_MAILPIT_PORT",
    "metrics_port": "DIKO_STACK_METRICS_PORT",
}


def load_settings() -> Settings:
    """Environment overrides win over the settings saved by the last `up`, then defaults.

    Saving them means `down`, `status` and `ctl` reach a stack started with overrides
    even when the caller's environment no longer carries them.
    """
    values = asdict(Settings())
    previous = saved_settings()
    if previous:
        values.update(asdict(previous))
    for field, var in SETTINGS.items():
        raw = os.environ.get(var, "").strip()
        if not raw:
            continue
        if field == "rabbit_node":
            if "@" not in raw:
                raise StackError(f"{var}={raw!r} is not a node name", "use NAME@localhost")
            values[field] = raw
        elif raw.isdigit() and 0 < int(raw) < 65536:
            values[field] = int(raw)
        else:
            raise StackError(f"{var}={raw!r} is not a port number")
    return Settings(**values)


def save_settings(settings: Settings) -> None:
    """Remember what `up` used, for later commands without the environment overrides."""
    SETTINGS_FILE.write_text(json.dumps(asdict(settings), indent=2) + "\n")


def saved_settings() -> Settings | None:
    """Settings of the last `up`, if any."""
    if not SETTINGS_FILE.exists():
        return None
    try:
        saved = json.loads(SETTINGS_FILE.read_text())
        return Settings(**{k: v for k, v in saved.items() if k in SETTINGS})
    except (ValueError, TypeError) as exc:
        raise StackError(
            f"{shown(SETTINGS_FILE)} is damaged ({exc})",
            "delete it; the next `up` writes it again (set DIKO_STACK_* if you used them)",
        ) from exc


# --------------------------------------------------------------------------- processes


def stop_process(pid: int, marker: str, name: str) -> None:
    """Stop one server: SIGTERM, then SIGKILL after STOP_TIMEOUT."""
    if not stop_pid(pid, marker, name, STOP_TIMEOUT):
        say(f"{name} (pid {pid}) ignored SIGTERM for {STOP_TIMEOUT:.0f} s and was killed")


def fail_with_log(message: str, logs: Sequence[Path], hint: str) -> StackError:
    """A StackError whose message carries the tail of each relevant log."""
    parts = [message]
    for path in logs:
        parts.append(f"  last lines of {shown(path)}:\n{log_tail(path)}")
    return StackError("\n".join(parts), hint)


# --------------------------------------------------------------------------- building


class BuildJob:
    """One binary's recipe running in a background thread, so that both build at once.

    A recipe is a series of steps (commands whose output goes to the job's log); the
    step running now is kept so that a failed `up` can stop it.
    """

    def __init__(self, name: str, binary: Path, stamp: str, log: Path) -> None:
        self.name = name
        self.binary = binary
        self.stamp = stamp
        self.log = log
        self.began = time.monotonic()
        self.seconds = 0.0  # how long the recipe took, once it is done
        self.error: BaseException | None = None
        self.current: subprocess.Popen | None = None
        self.cancelled = False
        self.thread: threading.Thread | None = None

    def start(self, recipe: Callable[[BuildJob], None]) -> BuildJob:
        """Run `recipe(self)` in the background; `finish_builds` collects its outcome."""

        def body() -> None:
            try:
                recipe(self)
            except BaseException as exc:  # noqa: BLE001 - re-raised by finish_builds
                self.error = exc
            finally:
                self.seconds = time.monotonic() - self.began

        self.thread = threading.Thread(target=body, name=f"build-{self.name}", daemon=True)
        self.thread.start()
        return self

    def step(
        self,
        argv: Sequence[str],
        cwd: Path,
        env: dict[str, str] | None = None,
        hint: str = GO_HINT,
    ) -> None:
        """Run one command of the recipe into the log, with its duration; fail loudly."""
        if self.cancelled:
            raise StackError(f"building {self.name} was cancelled")
        began = time.monotonic()
        with self.log.open("ab") as out:
            out.write(f"\n==== {' '.join(argv)}\n".encode())
            out.flush()
            self.current = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                code = self.current.wait(timeout=BUILD_TIMEOUT)
            except subprocess.TimeoutExpired as exc:
                self.current.kill()
                raise fail_with_log(
                    f"building {self.name}: `{' '.join(argv[:3])}` took longer than "
                    f"{BUILD_TIMEOUT / 60:.0f} min",
                    [self.log],
                    hint,
                ) from exc
            out.write(f"==== exit {code} after {time.monotonic() - began:.1f} s\n".encode())
        if code != 0 and not self.cancelled:
            raise fail_with_log(
                f"building {self.name}: `{' '.join(argv[:3])}` failed (exit {code})",
                [self.log],
                hint,
            )
        if self.cancelled:
            raise StackError(f"building {self.name} was cancelled")

    def note(self, line: str) -> None:
        """A line of the recipe's own (a patch applied, a file checked) in the log."""
        with self.log.open("a", encoding="utf-8") as out:
            out.write(f"==== {line}\n")


def stamp_file(binary: Path) -> Path:
    """Beside each binary: the recipe it was built from, so a changed recipe rebuilds."""
    return binary.with_name(binary.name + ".stamp")


def is_built(binary: Path, stamp: str) -> bool:
    """The binary exists and was built from the current recipe."""
    marker = stamp_file(binary)
    return binary.exists() and marker.exists() and marker.read_text().strip() == stamp


def go_binary() -> str:
    """Path of `go`, or a StackError that says how to install it."""
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
    )
    if not go:
        raise StackError(
            "Go is needed to build FerretDB and Mailpit but `go` is not on PATH", GO_HINT
        )
    return go


def run_logged(
    argv: Sequence[str], log: Path, cwd: Path | None = None, timeout: float = 600.0
) -> str:
    """Run a short preparation step; its stderr goes to `log`, its stdout is returned."""
    with log.open("ab") as err:
        err.write(f"\n==== {' '.join(argv)}\n".encode())
        err.flush()
        try:
            done = subprocess.run(
                list(argv),
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=err,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise fail_with_log(f"`{' '.join(argv)}` timed out", [log], GO_HINT) from exc
    if done.returncode != 0:
        with log.open("ab") as err:
            err.write(done.stdout)  # `go mod download -json` reports its error there
        raise fail_with_log(f"`{' '.join(argv)}` failed", [log], "check the network and Go setup")
    return done.stdout.decode()


def make_writable(root: Path) -> None:
    """Module-cache copies are read-only; the patch and version file need write access."""
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)


def copy_module(go: str, module: str, version: str, target: Path, log: Path) -> None:
    """A writable copy of a Go module's source at `target` (fetched through the Go proxy)."""
    if target.exists():
        make_writable(target)
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    info = json.loads(run_logged([go, "mod", "download", "-json", f"{module}@{version}"], log))
    if not info.get("Dir"):
        raise fail_with_log(f"go mod download gave no directory for {module}", [log], GO_HINT)
    shutil.copytree(info["Dir"], target, symlinks=True)
    make_writable(target)


def replace_once(path: Path, old: str, new: str, what: str) -> None:
    """Apply a one-place patch, refusing loudly when upstream no longer has the line."""
    source = path.read_text(encoding="utf-8")
    if source.count(old) != 1:
        raise StackError(
            f"{what}: {path.name} no longer contains {old.strip()!r} exactly once",
            "review the patch in deploy/local/stack.py and deploy/local/README.md",
        )
    path.write_text(source.replace(old, new), encoding="utf-8")


def build_ferretdb(job: BuildJob) -> None:
    """Copy FerretDB's module source, add its version file, apply our patches, build.

    A plain `go install …@v1.24.2` panics at start because build/version/version.txt is
    generated by upstream's release tooling; the copy lets us write it ourselves.
    """
    go = go_binary()
    copy_module(go, FERRET_MODULE, FERRET_VERSION, FERRET_SRC, job.log)
    (FERRET_SRC / "build/version/version.txt").write_text(FERRET_VERSION + "\n")
    for file, old, new in FERRET_PATCHES:
        replace_once(FERRET_SRC / file, old, new, f"FerretDB {FERRET_VERSION}: patching {file}")
    job.step([go, "build", "-buildvcs=false", "-o", str(FERRET_BIN), "./cmd/ferretdb"], FERRET_SRC)
    version = subprocess.run(
        [str(FERRET_BIN), "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    if version.returncode != 0 or FERRET_VERSION not in version.stdout:
        output = version.stdout + version.stderr
        raise StackError(f"the built ferretdb does not report {FERRET_VERSION}:\n{output}")


def node_tools() -> tuple[str, str]:
    """`node` (18 or newer) and `npm`, which build Mailpit's web UI; else how to get them."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        raise StackError(
            "Node.js and npm are needed to build Mailpit's web UI but are not on PATH",
            "apt-get install nodejs npm (make stack does this where apt-get is available)",
        )
    done = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    major = done.stdout.strip().lstrip("v").split(".")[0]
    if not major.isdigit() or int(major) < NODE_MIN_MAJOR:
        raise StackError(
            f"Mailpit's web UI needs Node.js {NODE_MIN_MAJOR} or newer; {node} is "
            f"{done.stdout.strip() or 'unknown'}",
            "install a newer Node.js (e.g. from https://nodejs.org) and run `make stack` again",
        )
    return node, npm


def build_mailpit(job: BuildJob) -> None:
    """Mailpit from its module source with its web UI, as upstream's Dockerfile builds it.

    `go install` alone gives a binary without the UI's assets (`server/ui/dist/` is built
    by npm and embedded by `go build`), so its web page stays blank. The steps: copy the
    module, install the UI's npm packages exactly as `deploy/local/mailpit/package-lock.json`
    pins them, bundle the UI with upstream's esbuild script, then `go build` embeds it.
    """
    go = go_binary()
    node, npm = node_tools()
    copy_module(go, MAILPIT_MODULE, MAILPIT_VERSION, MAILPIT_SRC, job.log)
    upstream_lock = MAILPIT_SRC / "package-lock.json"
    digest = hashlib.sha256(upstream_lock.read_bytes()).hexdigest()
    if digest != MAILPIT_UPSTREAM_LOCK_SHA256:
        raise StackError(
            f"Mailpit {MAILPIT_VERSION}: its package-lock.json is not the one "
            f"deploy/local/mailpit/package-lock.json was made from (sha256 {digest[:12]}…)",
            "re-resolve the lock as deploy/local/README.md describes",
        )
    replace_once(
        MAILPIT_SRC / "package.json",
        MAILPIT_PACKAGE_OLD,
        MAILPIT_PACKAGE_NEW,
        f"Mailpit {MAILPIT_VERSION}: the rapidoc range",
    )
    shutil.copyfile(MAILPIT_LOCK, upstream_lock)
    job.note(f"package.json: {MAILPIT_PACKAGE_OLD} -> {MAILPIT_PACKAGE_NEW}; lock from deploy/")
    npm_env = {**os.environ, "npm_config_update_notifier": "false", "MINIFY": "true"}
    npm_hint = "check that the npm registry is reachable (npm config get registry)"
    job.step(
        [npm, "ci", "--omit=peer", "--ignore-scripts", "--no-audit", "--no-fund"],
        MAILPIT_SRC,
        npm_env,
        npm_hint,
    )
    job.step([node, "esbuild.config.mjs"], MAILPIT_SRC, npm_env, npm_hint)
    missing = [name for name in MAILPIT_UI_ASSETS if not (MAILPIT_UI_DIST / name).is_file()]
    if missing:
        raise fail_with_log(
            f"Mailpit's UI build left no {', '.join(missing)} in server/ui/dist", [job.log], ""
        )
    ldflags = f"-s -w -X {MAILPIT_MODULE}/config.Version={MAILPIT_VERSION}"
    job.step(
        [go, "build", "-buildvcs=false", "-trimpath", "-ldflags", ldflags, "-o", str(MAILPIT_BIN)],
        MAILPIT_SRC,
        {**os.environ, "CGO_ENABLED": "0"},
    )


def mailpit_stamp() -> str:
    """Mailpit's recipe: its version and the lock its web UI is built from."""
    lock = hashlib.sha256(MAILPIT_LOCK.read_bytes()).hexdigest()[:16]
    return f"mailpit {MAILPIT_VERSION} + web UI (npm lock {lock})"


FERRET_STAMP = f"ferretdb {FERRET_VERSION} + _id index, _id $in and leak-tracking patches"


def start_builds() -> list[BuildJob]:
    """Start the builds of whichever binaries are missing or stale, in parallel."""
    need_ferret = not is_built(FERRET_BIN, FERRET_STAMP)
    need_mailpit = not is_built(MAILPIT_BIN, mailpit_stamp())
    if not (need_ferret or need_mailpit):
        return []
    go_binary()
    if need_mailpit:
        node_tools()  # before minutes of work: say now what is missing
    BIN.mkdir(parents=True, exist_ok=True)
    LOG.mkdir(parents=True, exist_ok=True)
    jobs = []
    if need_mailpit:
        log = LOG / "build-mailpit.log"
        say(
            f"building Mailpit {MAILPIT_VERSION} with its web UI (npm + go, ~3 min; "
            f"log: {shown(log)})"
        )
        job = BuildJob("mailpit", MAILPIT_BIN, mailpit_stamp(), log)
        jobs.append(job.start(build_mailpit))
    if need_ferret:
        log = LOG / "build-ferretdb.log"
        say(f"building FerretDB {FERRET_VERSION}, patched (~2 min; log: {shown(log)})")
        job = BuildJob("ferretdb", FERRET_BIN, FERRET_STAMP, log)
        jobs.append(job.start(build_ferretdb))
    return jobs


def finish_builds(jobs: list[BuildJob]) -> None:
    """Wait for the builds (with a timeout), check the binaries and record their stamps."""
    deadline = time.monotonic() + BUILD_TIMEOUT
    for job in jobs:
        assert job.thread is not None
        job.thread.join(timeout=max(1.0, deadline - time.monotonic()))
        if job.thread.is_alive():
            raise fail_with_log(
                f"building {job.name} took longer than {BUILD_TIMEOUT / 60:.0f} min",
                [job.log],
                GO_HINT,
            )
        if job.error is not None:
            stamp_file(job.binary).unlink(missing_ok=True)
            raise job.error
        if not job.binary.exists():
            raise fail_with_log(f"building {job.name} left no binary", [job.log], GO_HINT)
        stamp_file(job.binary).write_text(job.stamp + "\n")
        say(f"built {shown(job.binary)} in {job.seconds:.0f} s")


def cancel_builds(jobs: list[BuildJob]) -> None:
    """Stop builds still running when `up` fails elsewhere, so none is left behind."""
    for job in jobs:
        job.cancelled = True
        process = job.current
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        if job.thread is not None:
            job.thread.join(timeout=15)


# --------------------------------------------------------------------------- RabbitMQ


def rabbit_env(settings: Settings) -> dict[str, str]:
    """Environment that makes Debian's scripts run a private node from `.local/rabbitmq`.

    The node and `rabbitmqctl` must share HOME (the Erlang cookie) and node name. The
    project's own (empty) rabbitmq-env.conf keeps /etc/rabbitmq out of the picture.
    """
    ctl_min = min(settings.dist_port + 10000, 65525)
    return {
        **os.environ,
        "HOME": str(RABBIT_HOME),
        "RABBITMQ_NODENAME": settings.rabbit_node,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(settings.amqp_port),
        "RABBITMQ_DIST_PORT": str(settings.dist_port),
        "RABBITMQ_CTL_DIST_PORT_MIN": str(ctl_min),
        "RABBITMQ_CTL_DIST_PORT_MAX": str(ctl_min + 10),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_CONF_ENV_FILE": str(RABBIT_HOME / "rabbitmq-env.conf"),
        "RABBITMQ_CONFIG_FILE": str(RABBIT_HOME / "rabbitmq"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(RABBIT_HOME / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(RABBIT_HOME / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(RABBIT_HOME / "mnesia"),
        "RABBITMQ_LOG_BASE": str(RABBIT_LOG_DIR),
        "RABBITMQ_PID_FILE": str(RABBIT_PID_FILE),
        "ERL_CRASH_DUMP": str(LOG / "erl_crash.dump"),
    }


def local_secret(path: Path, length: int = 24) -> str:
    """A secret of this checkout: random on first use, then kept in `.local/` (mode 0600).

    URL-safe, because the broker password goes into DIKO_AMQP_URL unquoted.
    """
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(length)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    return secret


def user_password(user: str) -> str:
    """The password of a broker user of this checkout (random on first use, then kept)."""
    return local_secret(RABBIT_USERS_DIR / user)


def amqp_url(settings: Settings, user: str = AMQP_USER, vhost: str = AMQP_VHOST) -> str:
    """The local broker's URL for `user` (passwords are URL-safe: no quoting needed)."""
    return f"amqp://{user}:{user_password(user)}@127.0.0.1:{settings.amqp_port}/{vhost}"


def rabbit_config(settings: Settings) -> dict[str, str]:
    """The node's config files: loopback listeners only, Prometheus metrics, no guest.

    `loopback_users = none` only lifts the loopback-only rule; the guest account itself
    is never created (definitions are imported instead) or deleted, and every user has
    a random password.
    """
    return {
        "rabbitmq.conf": (
            "# Written by deploy/local/stack.py on every start; edit the script, not this file.\n"
            f"listeners.tcp.default = 127.0.0.1:{settings.amqp_port}\n"
            "loopback_users = none\n"
            "# the node's log file is in .local/log/rabbitmq; the console would only repeat it\n"
            "log.console = false\n"
            "# Prometheus metrics, as the compose deployment's broker serves them on 15692\n"
            "prometheus.tcp.ip = 127.0.0.1\n"
            f"prometheus.tcp.port = {settings.rabbit_metrics_port}\n"
        ),
        "enabled_plugins": "[rabbitmq_prometheus].\n",
        "rabbitmq-env.conf": (
            "# Empty on purpose: keeps /etc/rabbitmq/rabbitmq-env.conf out of the local node.\n"
        ),
    }


def config_stamp(settings: Settings) -> str:
    return hashlib.sha256(json.dumps(rabbit_config(settings), sort_keys=True).encode()).hexdigest()


def write_rabbit_config(settings: Settings) -> None:
    """Write the config files and remember which config the node starts with."""
    RABBIT_HOME.mkdir(parents=True, exist_ok=True)
    RABBIT_LOG_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in rabbit_config(settings).items():
        (RABBIT_HOME / name).write_text(text)
    RABBIT_CONFIG_STAMP.write_text(config_stamp(settings) + "\n")


def rabbit_config_is_current(settings: Settings) -> bool:
    """Whether the running node was started with the config this script writes now."""
    return RABBIT_CONFIG_STAMP.exists() and RABBIT_CONFIG_STAMP.read_text().strip() == config_stamp(
        settings
    )


def rabbit_logs(settings: Settings) -> list[Path]:
    """The node's console output and its own log file, for error messages."""
    return [RABBIT_CONSOLE_LOG, RABBIT_LOG_DIR / f"{settings.rabbit_node}.log"]


def rabbitmqctl(
    settings: Settings, *args: str, stdin: str | None = None, timeout: float = CTL_TIMEOUT
) -> subprocess.CompletedProcess:
    """Run rabbitmqctl against the local node and capture its output."""
    argv = [str(RABBIT_SBIN / "rabbitmqctl"), "-n", settings.rabbit_node, *args]
    try:
        return subprocess.run(
            argv,
            input=stdin,
            capture_output=True,
            text=True,
            env=rabbit_env(settings),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise StackError(
            f"`rabbitmqctl {' '.join(args)}` did not finish in {timeout:.0f} s"
        ) from exc


#: Debian packages the stack (and, with `up --test-tools`, the tests) need, by what proves
#: each is installed. Missing ones are installed together, with one `apt-get update`.
RABBIT_PACKAGE = ("rabbitmq-server", RABBIT_SBIN / "rabbitmq-server")
BROWSER_PACKAGE = ("chromium", Path("/usr/bin/chromium"))
#: promtool checks and unit-tests the alert rules of deploy/monitoring.
PROMETHEUS_PACKAGE = ("prometheus", Path("/usr/bin/promtool"))
#: nginx checks and serves deploy/site/nginx.conf, the project website's configuration.
NGINX_PACKAGE = ("nginx", Path("/usr/sbin/nginx"))
#: Compose v1, end of life, still Debian's `docker-compose`: the tests check that it refuses
#: deploy/compose.yaml (whose secrets need Compose v2.24) rather than start it without them.
COMPOSE_V1_PACKAGE = ("docker-compose", Path("/usr/bin/docker-compose"))
TEST_PACKAGES = (BROWSER_PACKAGE, PROMETHEUS_PACKAGE, NGINX_PACKAGE, COMPOSE_V1_PACKAGE)
#: Installed without the packages they recommend: docker-compose recommends the Docker
#: engine, which neither the tests nor this machine want.
WITHOUT_RECOMMENDS = {"docker-compose"}
#: Node.js and npm build Mailpit's web UI; installed only when `node`/`npm` are missing.
NODE_PACKAGES = (("nodejs", Path("/usr/bin/node")), ("npm", Path("/usr/bin/npm")))


#: axe-core for the accessibility checks of the tests, pinned by its npm lock file.
AXE_DIR = REPO / "tests" / "harness" / "axe"
AXE_MARKER = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"


def ensure_axe() -> None:
    """`npm ci` in tests/harness/axe once; afterwards the tests need no network."""
    if AXE_MARKER.exists():
        return
    ensure_debian_packages([p for p in NODE_PACKAGES if not shutil.which(p[1].name)])
    log = LOG / "npm.log"
    say(f"installing axe-core with npm ci (log: {shown(log)})")
    with log.open("ab") as out:
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=AXE_DIR,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=APT_TIMEOUT,
            check=False,
        )
    if done.returncode != 0 or not AXE_MARKER.exists():
        raise fail_with_log("`npm ci` of axe-core failed", [log], "cd tests/harness/axe && npm ci")


def ensure_debian_packages(packages: Sequence[tuple[str, Path]]) -> None:
    """Install the Debian packages whose marker file is missing, in one apt-get run."""
    missing = [name for name, marker in packages if not marker.exists()]
    if not missing:
        return
    names = " ".join(missing)
    if not shutil.which("apt-get"):
        raise StackError(f"{names} missing and this machine has no apt-get", f"install {names}")
    if os.geteuid() == 0:
        prefix = []
    elif shutil.which("sudo"):
        prefix = ["sudo"]
    else:
        raise StackError(
            f"{names} missing; installing needs root and there is no sudo",
            f"as root: apt-get update && apt-get install -y {names}",
        )
    log = LOG / "apt.log"
    say(f"installing {names} with apt-get (~1 min; log: {shown(log)})")
    if apt_get(prefix, ["update"], log) != 0:
        # Stale package lists may still hold the packages; the install below decides.
        say("apt-get update failed (see the log); trying the install with the current lists")
    plain = [name for name in missing if name not in WITHOUT_RECOMMENDS]
    bare = [name for name in missing if name in WITHOUT_RECOMMENDS]
    for group, options in ((plain, []), (bare, ["--no-install-recommends"])):
        if group and apt_get(prefix, ["install", "-y", *options, *group], log) != 0:
            command = " ".join(["apt-get install -y", *options, *group])
            raise fail_with_log(f"`{command}` failed", [log], f"install {' '.join(group)}")
    for name, marker in packages:
        if not marker.exists():
            raise StackError(f"apt-get installed {name} but {marker} is missing")


def apt_get(prefix: list[str], args: list[str], log: Path) -> int:
    """Run one non-interactive apt-get command into `log`; its exit code (-1: timed out)."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with log.open("ab") as out:
        try:
            return subprocess.run(
                [*prefix, "apt-get", *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=APT_TIMEOUT,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:
            out.write(
                f"\n(apt-get {' '.join(args)} timed out after {APT_TIMEOUT:.0f} s)\n".encode()
            )
            return -1


def start_rabbitmq(settings: Settings) -> None:
    """Boot the node in the foreground of a detached session and wait for its listener.

    Foreground rather than `-detached` so that a node that dies during boot leaves its
    console output in `.local/log/rabbitmq-console.log`.
    """
    ensure_debian_packages([RABBIT_PACKAGE])
    write_rabbit_config(settings)
    say(f"starting RabbitMQ node {settings.rabbit_node} (~20 s)")
    process = spawn(
        [str(RABBIT_SBIN / "rabbitmq-server")],
        RABBIT_CONSOLE_LOG,
        cwd=RABBIT_HOME,
        env=rabbit_env(settings),
    )
    started = wait_until(
        lambda: process.poll() is not None or port_open(settings.amqp_port), RABBIT_START_TIMEOUT
    )
    if process.poll() is not None or not started:
        message = startup_failure("RabbitMQ", process, RABBIT_START_TIMEOUT)
        logs = rabbit_logs(settings)
        text = "".join(path.read_text(errors="replace") for path in logs if path.exists())
        if "duplicate_node_name" in text:
            hint = (
                f"another node named {settings.rabbit_node} runs on this machine (another "
                f"clone?): stop it or set {SETTINGS['rabbit_node']}=<name>@localhost"
            )
        elif "eaddrinuse" in text:
            hint = f"a port is taken: set {SETTINGS['amqp_port']} / {SETTINGS['dist_port']}"
        else:
            hint = "`python3 deploy/local/stack.py down --purge` resets the broker's data"
        raise fail_with_log(message, logs, hint)
    if not wait_until(lambda: read_pid(RABBIT_PID_FILE, str(RABBIT_HOME)) is not None, 30.0):
        raise fail_with_log("RabbitMQ did not write its pid file", rabbit_logs(settings), "")


def stop_rabbitmq(settings: Settings) -> None:
    """`rabbitmqctl stop` (a clean shutdown that syncs quorum queues), then signals."""
    pid = read_pid(RABBIT_PID_FILE, str(RABBIT_HOME))
    if pid is None:
        return
    say(f"stopping RabbitMQ (pid {pid})")
    try:
        done = rabbitmqctl(settings, "stop", str(RABBIT_PID_FILE), timeout=STOP_TIMEOUT)
        failure = (done.stderr.strip() or done.stdout.strip()) if done.returncode != 0 else ""
    except StackError as exc:  # a node too busy to finish in time (a loaded machine)
        failure = str(exc)
    if failure:
        say(f"rabbitmqctl stop failed ({failure}), signalling")
    stop_process(pid, str(RABBIT_HOME), "RabbitMQ")
    RABBIT_PID_FILE.unlink(missing_ok=True)


def ctl_step(settings: Settings, *args: str, stdin: str | None = None, tolerate: str = "") -> None:
    """One provisioning call; output containing `tolerate` (e.g. "already exists") is fine."""
    done = rabbitmqctl(settings, *args, stdin=stdin)
    output = done.stdout + done.stderr
    if done.returncode != 0 and not (tolerate and tolerate in output):
        raise fail_with_log(
            f"`rabbitmqctl {args[0]}` failed (exit {done.returncode}):\n{output.strip()}",
            rabbit_logs(settings),
            "`python3 deploy/local/stack.py down --purge` resets the broker's data",
        )


def rendered_definitions() -> tuple[str, str]:
    """The deployment's definitions with this checkout's passwords, and the template's hash."""
    template = DEFINITIONS_TEMPLATE.read_text(encoding="utf-8")
    rendered = PASSWORD_PLACEHOLDER.sub(lambda m: user_password(m[1]), template)
    return rendered, hashlib.sha256(template.encode()).hexdigest()


def definition_users() -> list[str]:
    """The users the deployment's definitions create."""
    return [user["name"] for user in json.loads(DEFINITIONS_TEMPLATE.read_text())["users"]]


def ensure_amqp_account(settings: Settings) -> None:
    """Users, rights and topology of deploy/rabbitmq/definitions.json; no `diko`, no `guest`.

    Checked over AMQP first (milliseconds): when the template is the one imported last
    (which also removed the retired users) and every user logs in, no rabbitmqctl call
    is needed.
    """
    rendered, digest = rendered_definitions()
    port = settings.amqp_port
    users = definition_users()
    current = DEFINITIONS_STAMP.exists() and DEFINITIONS_STAMP.read_text().strip() == digest
    if current and all(
        amqp_login(port, user, user_password(user), AMQP_VHOST) is None for user in users
    ):
        return
    say(f"importing {shown(DEFINITIONS_TEMPLATE)}: users {', '.join(users)}")
    ctl_step(settings, "await_startup", "--timeout", "90")
    ctl_step(settings, "import_definitions", stdin=rendered)
    existing = rabbitmqctl(settings, "list_users", "--silent").stdout.split()
    for user in RETIRED_USERS:
        if user in existing:
            ctl_step(settings, "delete_user", user, tolerate="not found")
    for user in users:
        reason = amqp_login(port, user, user_password(user), AMQP_VHOST)
        if reason:
            raise fail_with_log(f"user {user!r} cannot log in: {reason}", rabbit_logs(settings), "")
    DEFINITIONS_STAMP.write_text(digest + "\n")


def listening(port: int) -> str | None:
    """None when 127.0.0.1:`port` accepts connections, else the reason."""
    return None if port_open(port) else f"no listener on 127.0.0.1:{port}"


def rabbit_ready(settings: Settings) -> str | None:
    """None when the AMQP listener accepts connections (it opens last in the boot)."""
    return listening(settings.amqp_port)


def rabbit_healthy(settings: Settings) -> str | None:
    """None when `operator` can open its vhost (the services' users are set up with it)."""
    if not (RABBIT_USERS_DIR / AMQP_USER).exists():
        return "no users yet (run `up`)"
    return amqp_login(settings.amqp_port, AMQP_USER, user_password(AMQP_USER), AMQP_VHOST)


# --------------------------------------------------------------------------- FerretDB, Mailpit


def start_ferretdb(settings: Settings) -> None:
    """FerretDB on the SQLite backend; data stays in .local/ferretdb/data across restarts."""
    data = FERRET_DIR / "data"
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        str(FERRET_BIN),
        "--handler=sqlite",
        f"--sqlite-url=file:{data}/{FERRET_SQLITE_PRAGMAS}",
        f"--listen-addr=127.0.0.1:{settings.mongo_port}",
        f"--state-dir={FERRET_DIR}",
        "--telemetry=disable",
        "--debug-addr=-",
        "--log-level=warn",
    ]
    say("starting FerretDB")
    start_server(
        "FerretDB",
        argv,
        FERRET_LOG,
        FERRET_PID_FILE,
        lambda: ferret_ready(settings),
        env=os.environ | FERRET_ENV,
    )


def ferret_ready(settings: Settings) -> str | None:
    """None when FerretDB accepts connections (it serves as soon as it listens)."""
    return listening(settings.mongo_port)


def start_mailpit(settings: Settings) -> None:
    """Mailpit: SMTP accepting any login, the HTTP API the tests read, no update checks."""
    MAILPIT_DIR.mkdir(parents=True, exist_ok=True)
    argv = [
        str(MAILPIT_BIN),
        f"--smtp=127.0.0.1:{settings.smtp_port}",
        f"--listen=127.0.0.1:{settings.mailpit_port}",
        f"--database={MAILPIT_DIR / 'mailpit.db'}",
        "--disable-version-check",
        "--smtp-auth-accept-any",
        "--smtp-auth-allow-insecure",
        "--max=20000",  # prune only far beyond what a test run sends (default 500)
    ]
    say("starting Mailpit")
    start_server("Mailpit", argv, MAILPIT_LOG, MAILPIT_PID_FILE, lambda: mailpit_ready(settings))


def mailpit_ready(settings: Settings) -> str | None:
    """None when Mailpit's HTTP API answers and its web page has its assets."""
    for path in ("/api/v1/info", *(f"/dist/{name}" for name in MAILPIT_UI_ASSETS)):
        status = http_status(settings.mailpit_port, path)
        if status != 200:
            return f"GET {path} answered {status}"
    return None


def start_server(
    name: str,
    argv: list[str],
    log: Path,
    pid_file: Path,
    ready: Callable[[], str | None],
    env: dict[str, str] | None = None,
) -> None:
    """Spawn a Go server, record its pid and wait until it answers or dies."""
    process = spawn(argv, log, cwd=REPO, env=env)
    pid_file.write_text(f"{process.pid}\n")
    answered = wait_until(
        lambda: process.poll() is not None or ready() is None, SERVER_START_TIMEOUT
    )
    if process.poll() is not None or not answered:
        message = startup_failure(name, process, SERVER_START_TIMEOUT)
        pid_file.unlink(missing_ok=True)
        raise fail_with_log(message, [log], "see DIKO_STACK_* in deploy/local/README.md for ports")


def startup_failure(name: str, process: subprocess.Popen, timeout: float) -> str:
    """Say whether a server died during start-up or hung; a hung one is terminated."""
    code = process.poll()
    if code is not None:
        return f"{name} exited during start-up (exit code {code})"
    process.terminate()
    return f"{name} did not become ready within {timeout:.0f} s (terminated)"


# --------------------------------------------------------------------------- components


@dataclass(frozen=True)
class Component:
    """One server of the stack and how to start, stop and probe it."""

    name: str
    pid_file: Path
    marker: str  # a path inside this checkout that appears in the process's command line
    ports: tuple[str, ...]  # the Settings fields of the ports it listens on
    start: Callable[[Settings], None]
    stop: Callable[[Settings], None]
    ready: Callable[[Settings], str | None]
    healthy: Callable[[Settings], str | None]
    address: Callable[[Settings], str]
    # How to bring a running but unresponsive process back without a restart, if any.
    revive: Callable[[Settings], None] | None = None

    def pid(self) -> int | None:
        """The live pid of this checkout's instance, if it runs."""
        return read_pid(self.pid_file, self.marker)

    def require_free_ports(self, settings: Settings) -> None:
        """Refuse to start on a port another program serves, naming the override to use."""
        for field in self.ports:
            port = getattr(settings, field)
            if port_open(port):
                raise StackError(
                    f"port {port} on 127.0.0.1, wanted by {self.name}, is used by another program",
                    f"stop that program or pick another port: {SETTINGS[field]}=<port> make stack",
                )


def stop_server(pid_file: Path, marker: str, name: str) -> None:
    """Stop a server started by `start_server`."""
    pid = read_pid(pid_file, marker)
    if pid is None:
        return
    say(f"stopping {name} (pid {pid})")
    stop_process(pid, marker, name)
    pid_file.unlink(missing_ok=True)


COMPONENTS = {
    "rabbitmq": Component(
        name="rabbitmq",
        pid_file=RABBIT_PID_FILE,
        marker=str(RABBIT_HOME),
        ports=("amqp_port", "dist_port"),
        start=start_rabbitmq,
        stop=stop_rabbitmq,
        ready=rabbit_ready,
        healthy=rabbit_healthy,
        address=lambda s: (
            f"amqp://127.0.0.1:{s.amqp_port}/{AMQP_VHOST}  (node {s.rabbit_node}; "
            f"metrics http://127.0.0.1:{s.rabbit_metrics_port}/metrics)"
        ),
        # A test that died between `ctl stop_app` and `ctl start_app` leaves the node up
        # but the broker stopped; start_app is a no-op on a running broker.
        revive=lambda s: ctl_step(s, "start_app"),
    ),
    "ferretdb": Component(
        name="ferretdb",
        pid_file=FERRET_PID_FILE,
        # its state directory, not the binary: another stack of the checkout runs it too
        marker=str(FERRET_DIR),
        ports=("mongo_port",),
        start=start_ferretdb,
        stop=lambda s: stop_server(FERRET_PID_FILE, str(FERRET_DIR), "FerretDB"),
        ready=ferret_ready,
        healthy=ferret_ready,
        address=lambda s: (
            f"mongodb://127.0.0.1:{s.mongo_port}/  (SQLite in {shown(FERRET_DIR)}/data)"
        ),
    ),
    "mailpit": Component(
        name="mailpit",
        pid_file=MAILPIT_PID_FILE,
        marker=str(MAILPIT_DIR),
        ports=("smtp_port", "mailpit_port"),
        start=start_mailpit,
        stop=lambda s: stop_server(MAILPIT_PID_FILE, str(MAILPIT_DIR), "Mailpit"),
        ready=mailpit_ready,
        healthy=mailpit_ready,
        address=lambda s: (
            f"smtp://127.0.0.1:{s.smtp_port}  UI/API http://127.0.0.1:{s.mailpit_port}"
        ),
    ),
}


def ensure_running(component: Component, settings: Settings) -> None:
    """Start the component unless this checkout's instance already runs and answers."""
    pid = component.pid()
    if pid is None:
        component.require_free_ports(settings)
        component.start(settings)
        return
    reason = component.ready(settings)
    if reason and component.revive:
        say(f"{component.name} (pid {pid}) does not answer ({reason}); reviving it")
        component.revive(settings)
    if reason and not wait_until(lambda: component.ready(settings) is None, 30.0):
        raise StackError(
            f"{component.name} runs (pid {pid}) but does not answer: {reason}",
            f"python3 deploy/local/stack.py restart {component.name}",
        )
    say(f"{component.name} already running (pid {pid})")


def stack_env_lines(settings: Settings) -> list[str]:
    """The addresses every script, test and service reads, as KEY=value lines."""
    return [
        f"DIKO_AMQP_URL={amqp_url(settings)}",
        f"DIKO_RABBITMQ_METRICS_URL=http://127.0.0.1:{settings.rabbit_metrics_port}",
        f"DIKO_MONGO_URL=mongodb://127.0.0.1:{settings.mongo_port}/",
        "DIKO_SMTP_HOST=127.0.0.1",
        f"DIKO_SMTP_PORT={settings.smtp_port}",
        f"DIKO_MAILPIT_URL=http://127.0.0.1:{settings.mailpit_port}",
        f"DIKO_LINK_SECRET={local_secret(LINK_SECRET_FILE, 32)}",
    ]


def write_stack_env(settings: Settings) -> None:
    """Write `.local/stack.env` atomically, so a reader never sees half a file."""
    tmp = STACK_ENV.with_suffix(".tmp")
    tmp.write_text("\n".join(stack_env_lines(settings)) + "\n")
    tmp.chmod(0o600)
    tmp.replace(STACK_ENV)


def print_table(settings: Settings, names: Sequence[str] = tuple(COMPONENTS)) -> None:
    """What runs where, one line per component."""
    for name in names:
        print(f"  {name:<9} {COMPONENTS[name].address(settings)}")
    print(f"  env       {shown(STACK_ENV)}  (logs in {shown(LOG)}/)")


# --------------------------------------------------------------------------- commands


class StackLock:
    """An exclusive lock on `.local/stack.lock`: two `make test` runs at once must not race.

    The holder's pid is written into the file so the waiting one can say whom it waits for.
    """

    def __init__(self, timeout: float = BUILD_TIMEOUT + 10 * 60) -> None:
        self.timeout = timeout
        self.file = None

    def __enter__(self) -> StackLock:
        import fcntl

        STATE.mkdir(parents=True, exist_ok=True)
        self.file = (STATE / "stack.lock").open("a+")

        def acquired() -> bool:
            try:
                fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False

        if not acquired():
            self.file.seek(0)
            say(f"waiting for another stack.py (pid {self.file.read().strip() or '?'}) to finish")
            if not wait_until(acquired, self.timeout, interval=0.5):
                raise StackError(
                    f"another stack.py held .local/stack.lock for {self.timeout:.0f} s"
                )
        self.file.seek(0)
        self.file.truncate()
        self.file.write(str(os.getpid()))
        self.file.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()


def any_running() -> bool:
    """True when any component of this checkout runs."""
    return any(component.pid() is not None for component in COMPONENTS.values())


def cmd_up(settings: Settings, test_tools: bool = False, only: Sequence[str] = ()) -> int:
    """Provision and start everything that is not running yet, then write stack.env.

    With `test_tools`, Debian's Chromium (the tests look at pages in it) and Prometheus
    (its promtool checks the alert rules) are installed too. `only` starts just the
    components named (the chaos run's own broker and store); stack.env, which names every
    component's address, is then not written.
    """
    wanted = [name for name in COMPONENTS if not only or name in only]
    began = time.monotonic()
    previous = saved_settings()
    if previous and previous != settings and any_running():
        raise StackError(
            f"the stack of this checkout runs with other settings: {asdict(previous)}",
            "python3 deploy/local/stack.py down, then up with the new DIKO_STACK_* values",
        )
    for directory in (BIN, LOG, RABBIT_HOME, FERRET_DIR, MAILPIT_DIR):
        directory.mkdir(parents=True, exist_ok=True)
    save_settings(settings)
    for name in wanted:
        if COMPONENTS[name].pid() is None:
            COMPONENTS[name].require_free_ports(settings)  # fail before minutes of building
    packages = [RABBIT_PACKAGE, *(TEST_PACKAGES if test_tools else [])]
    if not is_built(MAILPIT_BIN, mailpit_stamp()):
        packages += [p for p in NODE_PACKAGES if not shutil.which(p[1].name)]
    ensure_debian_packages(packages)
    if test_tools:
        ensure_axe()
    jobs = start_builds()
    try:
        if "rabbitmq" in wanted:
            ensure_running(COMPONENTS["rabbitmq"], settings)
            if not rabbit_config_is_current(settings):
                say("RabbitMQ runs with an older config of this script: restarting it")
                cmd_restart(settings, "rabbitmq")
            ensure_amqp_account(settings)
        if jobs:
            say("waiting for the builds")
            finish_builds(jobs)
    finally:
        cancel_builds(jobs)
    for job in jobs:
        rebuilt = COMPONENTS[job.name]
        if rebuilt.pid() is not None:
            say(f"{job.name} runs an older binary; restarting it")
            rebuilt.stop(settings)
    for name in ("ferretdb", "mailpit"):
        if name in wanted:
            ensure_running(COMPONENTS[name], settings)
    if len(wanted) == len(COMPONENTS):
        write_stack_env(settings)
    say(f"ready in {time.monotonic() - began:.1f} s")
    print_table(settings, wanted)
    return 0


def cmd_down(settings: Settings, purge: bool) -> int:
    """Stop the servers (data stays unless `purge`)."""
    for name in ("mailpit", "ferretdb", "rabbitmq"):
        COMPONENTS[name].stop(settings)
    if purge and STATE != LOCAL:
        shutil.rmtree(STATE, ignore_errors=True)  # its state alone: passwords and binaries stay
        say(f"stopped; {shown(STATE)} removed")
    elif purge:
        for path in (RABBIT_HOME, FERRET_DIR, MAILPIT_DIR, LOG):
            shutil.rmtree(path, ignore_errors=True)
        for path in (STACK_ENV, SETTINGS_FILE, LINK_SECRET_FILE):
            path.unlink(missing_ok=True)
        say("stopped; data, logs and the secrets removed (binaries kept in .local/bin)")
    else:
        say("stopped (data kept; `down --purge` removes it)")
    return 0


def cmd_status(settings: Settings) -> int:
    """Print each component as healthy, unhealthy or stopped; non-zero if any is not healthy."""
    all_healthy = True
    for component in COMPONENTS.values():
        pid = component.pid()
        reason = component.healthy(settings) if pid else "not running"
        all_healthy = all_healthy and reason is None
        state = "healthy" if reason is None else ("UNHEALTHY" if pid else "stopped")
        detail = "" if reason is None or not pid else f"  ({reason})"
        where = component.address(settings)
        print(f"  {component.name:<9} {state:<9} pid {pid or '-'!s:<8} {where}{detail}")
    env_state = "present" if STACK_ENV.exists() else "missing (run `make stack`)"
    print(f"  env       {shown(STACK_ENV)} {env_state}")
    return 0 if all_healthy else 1


def cmd_restart(settings: Settings, name: str) -> int:
    """Stop and start one component, keeping its data; returns once it answers again."""
    component = COMPONENTS[name]
    began = time.monotonic()
    component.stop(settings)
    component.require_free_ports(settings)
    component.start(settings)
    if name == "rabbitmq":
        ensure_amqp_account(settings)
    say(f"{name} restarted in {time.monotonic() - began:.1f} s")
    return 0


def cmd_ctl(settings: Settings, args: list[str]) -> int:
    """Replace this process with rabbitmqctl aimed at the local node; its exit code is ours."""
    ctl = RABBIT_SBIN / "rabbitmqctl"
    if not ctl.exists():
        raise StackError(f"{ctl} is missing", "make stack installs RabbitMQ")
    os.execve(ctl, [str(ctl), "-n", settings.rabbit_node, *args], rabbit_env(settings))
    return 0  # not reached: execve does not return


def cmd_url(settings: Settings, user: str) -> int:
    """Print the local broker's URL for one of the deployment's users (a service's, say)."""
    if user not in definition_users():
        raise StackError(
            f"{user!r} is not a user of the local broker",
            f"one of: {', '.join(definition_users())}",
        )
    print(amqp_url(settings, user))
    return 0


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Command line of the script."""
    parser = argparse.ArgumentParser(
        prog="stack.py",
        description="diko's local stack (RabbitMQ, FerretDB, Mailpit) on 127.0.0.1 in .local/",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="provision and start everything (idempotent)")
    up.add_argument(
        "--test-tools",
        "--browser",
        dest="test_tools",
        action="store_true",
        help="also install what the tests need: Debian's Chromium and Prometheus (promtool)",
    )
    up.add_argument(
        "only",
        nargs="*",
        metavar="component",
        help="start only these (rabbitmq, ferretdb, mailpit); stack.env is then not written",
    )
    down = sub.add_parser("down", help="stop everything, keep data")
    down.add_argument(
        "--purge", action="store_true", help="also delete data, logs and the password"
    )
    sub.add_parser("status", help="show what runs; exit 1 if anything is not healthy")
    restart = sub.add_parser("restart", help="restart one component, keeping its data")
    restart.add_argument("component", choices=sorted(COMPONENTS))
    ctl = sub.add_parser("ctl", help="rabbitmqctl against the local node, e.g. `ctl stop_app`")
    ctl.add_argument("args", nargs=argparse.REMAINDER)
    url = sub.add_parser("url", help="the broker URL of one user, e.g. `url matching`")
    url.add_argument("user", nargs="?", default=AMQP_USER)
    args = parser.parse_args(argv)
    unknown = sorted(set(getattr(args, "only", ())) - set(COMPONENTS))
    if unknown:
        parser.error(f"no component {', '.join(unknown)}: one of {', '.join(sorted(COMPONENTS))}")
    return args


def main(argv: Sequence[str]) -> int:
    """Dispatch a command; operator errors print a message and hint, not a traceback."""
    args = parse_args(argv)
    try:
        settings = load_settings()
        if args.command == "status":
            return cmd_status(settings)
        if args.command == "ctl":
            return cmd_ctl(settings, args.args)
        if args.command == "url":
            return cmd_url(settings, args.user)
        with StackLock():
            if args.command == "up":
                return cmd_up(settings, args.test_tools, args.only)
            if args.command == "down":
                return cmd_down(settings, args.purge)
            return cmd_restart(settings, args.component)
    except (StackError, ProcessError) as exc:
        print(f"stack: error: {exc}", file=sys.stderr)
        if getattr(exc, "hint", ""):
            print(f"stack: hint: {exc.hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stack: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
