"""What the monitoring tests share: the files under deploy/monitoring and the tools.

promtool comes with Debian's `prometheus` package, which `make test` installs
(`stack.py up --test-tools`). TypeScript and Grafana's own schema package come from npm
into `.local/node-tools/`, in the version of the Grafana image compose runs.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "deploy" / "monitoring"
PROMETHEUS_YML = MONITORING / "prometheus" / "prometheus.yml"
ALERTS = MONITORING / "prometheus" / "alerts.yml"
ALERT_TESTS = MONITORING / "prometheus" / "alerts.test.yml"
DASHBOARDS = MONITORING / "grafana" / "dashboards"
PROVISIONING = MONITORING / "grafana" / "provisioning"
COMPOSE = REPO / "docker-compose.yml"
NODE_TOOLS = REPO / ".local" / "node-tools"
TYPESCRIPT = "5.9.3"


def binary(name: str) -> str:
    """A Prometheus binary; `make test` installs them (Debian's prometheus package)."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} is missing: `make test` installs Debian's prometheus package "
            "(python3 deploy/local/stack.py up --test-tools)"
        )
    return found


def promtool(*args: str, cwd: Path = MONITORING) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def grafana_version() -> str:
    """The version of the Grafana image compose runs, e.g. 12.3.1."""
    image = compose()["services"]["grafana"]["image"]
    match = re.fullmatch(r"grafana/grafana:(\d+\.\d+\.\d+)", image)
    assert match, f"pin the Grafana image to a version: {image}"
    return match[1]


def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> dashboard, as Grafana's file provider reads them (every *.json)."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARDS.glob("*.json"))
    }


def queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query of a dashboard."""
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def as_promql(expr: str, rate_interval: str = "1m") -> str:
    """A dashboard query with Grafana's interval variable replaced, as Grafana sends it."""
    return expr.replace("$__rate_interval", rate_interval)


def node_tools(grafana: str) -> Path:
    """TypeScript and @grafana/schema (the Grafana version compose runs), installed once."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("Node.js and npm are needed to check the dashboards against Grafana's schema")
    stamp = NODE_TOOLS / "versions"
    wanted = f"typescript {TYPESCRIPT}, @grafana/schema {grafana}\n"
    if not (stamp.exists() and stamp.read_text() == wanted):
        NODE_TOOLS.mkdir(parents=True, exist_ok=True)
        (NODE_TOOLS / "package.json").write_text('{"private": true}\n')
        done = subprocess.run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
                f"typescript@{TYPESCRIPT}",
                f"@grafana/schema@{grafana}",
            ],
            cwd=NODE_TOOLS,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"npm install failed:\n{done.stdout}\n{done.stderr}"
        stamp.write_text(wanted)
    return NODE_TOOLS
