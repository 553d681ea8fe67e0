"""deploy/mongo/10-diko-users.js, run by Node.js against a recording stand-in for `db`.

mongosh runs the script with `db` (the server), `print` and Node's `process.env`; no
MongoDB server can be had here (no Docker; FerretDB lacks user management), so the
script runs in a Node.js VM context that gives it exactly those three and records what
it asks the server to do. What the server then does with `createUser` is MongoDB's
business; what this checks is the script's: which users, which roles, which passwords,
and that it refuses, before creating anything, what the operator must fix.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "mongo" / "10-diko-users.js"

HARNESS = r"""
const fs = require("fs");
const vm = require("vm");
const [script, existingJson, envJson] = process.argv.slice(1);
const existing = new Set(JSON.parse(existingJson));
const calls = [];
const db = {
  getSiblingDB: (name) => ({
    getUser: (user) => (existing.has(`${name}/${user}`) ? { user, db: name } : null),
    createUser: (doc) => calls.push({ op: "create", db: name, doc }),
    updateUser: (user, doc) => calls.push({ op: "update", db: name, user, doc }),
  }),
};
const context = { db, print: () => {}, process: { env: JSON.parse(envJson) } };
let error = null;
try {
  vm.runInNewContext(fs.readFileSync(script, "utf8"), context, { filename: script });
} catch (e) {
  error = String(e && e.message);
}
process.stdout.write(JSON.stringify({ error, calls }));
"""


def run(env: dict[str, str], existing: tuple[str, ...] = ()) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed (Debian: apt-get install nodejs)")
    result = subprocess.run(
        [node, "-e", HARNESS, str(SCRIPT), json.dumps(list(existing)), json.dumps(env)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def passwords(services: list[str]) -> dict[str, str]:
    return {f"MONGO_{s.upper()}_PASSWORD": f"{s}-0123456789abcdef" for s in services}


def test_creates_one_read_write_user_per_service_database(services) -> None:
    env = passwords(services)
    outcome = run(env)
    assert outcome["error"] is None
    assert sorted(outcome["calls"], key=lambda call: call["db"]) == [
        {
            "op": "create",
            "db": f"diko_{s}",
            "doc": {
                "user": s,
                "pwd": env[f"MONGO_{s.upper()}_PASSWORD"],
                "roles": [{"role": "readWrite", "db": f"diko_{s}"}],
            },
        }
        for s in services
    ]


def test_running_again_updates_existing_users(services) -> None:
    env = passwords(services)
    first = services[0]
    outcome = run(env, existing=(f"diko_{first}/{first}",))
    assert outcome["error"] is None
    ops = {call["db"]: call["op"] for call in outcome["calls"]}
    assert ops == {f"diko_{s}": "update" if s == first else "create" for s in services}
    update = next(call for call in outcome["calls"] if call["op"] == "update")
    assert update["user"] == first
    assert update["doc"]["roles"] == [{"role": "readWrite", "db": f"diko_{first}"}]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "is not set"),
        ("", "is not set"),
        ("change-me-mongo-media", "placeholder"),
        ("short", "at least 16"),
        ("p@ss:word/with?url#chars", "unescaped"),
    ],
)
def test_refuses_a_bad_password_before_creating_anything(services, value, reason) -> None:
    env = passwords(services)
    variable = f"MONGO_{services[-1].upper()}_PASSWORD"
    if value is None:
        del env[variable]
    else:
        env[variable] = value
    outcome = run(env)
    assert outcome["calls"] == [], "nothing may be created while one password is wrong"
    assert variable in outcome["error"]
    assert reason in outcome["error"]
