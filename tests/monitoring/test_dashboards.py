"""Grafana's dashboards and provisioning, checked as Grafana would load them.

- The dashboards are the ones deploy/monitoring/dashboards.py writes today.
- Grafana's file provider (pkg/services/provisioning/dashboards) reads every `*.json`
  under the provider's path, needs a title, takes the uid (at most 40 characters of
  letters, digits, `-` and `_`) as the dashboard's identity, refuses two files with one
  uid or title, and ignores a saved `id`. The data source is referred to by its uid.
- Each dashboard is type-checked against Grafana's own schema of the classic dashboard
  model (`@grafana/schema`, the version of the Grafana image compose runs), so an
  unknown or misspelt property is an error, as are missing required ones.
- Every query is valid PromQL (promtool parses it as a recording rule).
Whether the queries return data from real services is test_prometheus_live.py's.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml
from monitoring.tools import (
    DASHBOARDS,
    MONITORING,
    PROVISIONING,
    as_promql,
    compose,
    dashboards,
    grafana_version,
    node_tools,
    promtool,
    queries,
)

UID = re.compile(r"[A-Za-z0-9_-]{1,40}")
SERVICES = ("companies", "matching", "notifications", "media")


def test_the_dashboards_are_the_ones_the_generator_writes() -> None:
    sys.path.insert(0, str(MONITORING))
    try:
        import dashboards as generator  # deploy/monitoring/dashboards.py
    finally:
        sys.path.remove(str(MONITORING))
    expected = dict(generator.dashboards())
    assert sorted(expected) == sorted(p.name for p in DASHBOARDS.glob("*.json"))
    for name, document in expected.items():
        committed = (DASHBOARDS / name).read_text(encoding="utf-8")
        assert committed == generator.render(document), (
            f"{name} is stale: run `python3 deploy/monitoring/dashboards.py`"
        )


def test_one_dashboard_per_service_and_one_for_the_broker() -> None:
    found = {document["uid"]: document["title"] for document in dashboards().values()}
    assert set(found) == {*(f"diko-{s}" for s in SERVICES), "diko-rabbitmq"}


def test_the_provider_reads_the_folder_compose_mounts() -> None:
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "diko.yml").read_text())
    assert provider["apiVersion"] == 1
    (only,) = provider["providers"]
    assert only["type"] == "file"
    path = only["options"]["path"]
    volumes = compose()["services"]["grafana"]["volumes"]
    assert f"./deploy/monitoring/grafana/dashboards:{path}:ro" in volumes
    assert "./deploy/monitoring/grafana/provisioning:/etc/grafana/provisioning:ro" in volumes


def test_every_panel_uses_the_provisioned_data_source() -> None:
    sources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    (source,) = sources["datasources"]
    assert (source["type"], source["url"]) == ("prometheus", "http://prometheus:9090")
    wanted = {"type": "prometheus", "uid": source["uid"]}
    for name, document in dashboards().items():
        for panel in document["panels"]:
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == wanted, f"{name}: {panel['title']}"
            for target in panel["targets"]:
                assert target["datasource"] == wanted, f"{name}: {panel['title']}"


def test_uids_and_titles_are_what_the_file_provider_accepts() -> None:
    uids, titles = [], []
    for name, document in dashboards().items():
        assert UID.fullmatch(document["uid"]), f"{name}: uid {document['uid']!r}"
        assert document["title"], f"{name} has no title"
        assert document.get("id") is None, f"{name} carries a database id"
        uids.append(document["uid"])
        titles.append(document["title"])
    assert len(set(uids)) == len(uids), "two dashboards share a uid"
    assert len(set(titles)) == len(titles), "two dashboards share a title"


def test_panels_fit_the_grid_without_overlapping() -> None:
    for name, document in dashboards().items():
        taken: set[tuple[int, int]] = set()
        ids = [panel["id"] for panel in document["panels"]]
        assert len(set(ids)) == len(ids), f"{name}: panel ids repeat"
        for panel in document["panels"]:
            box = panel["gridPos"]
            assert box["x"] >= 0, f"{name}: {panel['title']}"
            assert box["x"] + box["w"] <= 24, f"{name}: {panel['title']}"
            cells = {
                (x, y)
                for x in range(box["x"], box["x"] + box["w"])
                for y in range(box["y"], box["y"] + box["h"])
            }
            assert not cells & taken, f"{name}: {panel['title']} overlaps another panel"
            taken |= cells
            refs = [target["refId"] for target in panel.get("targets", [])]
            assert len(set(refs)) == len(refs), f"{name}: {panel['title']}: refIds repeat"


def test_the_dashboards_fit_grafanas_own_dashboard_schema(tmp_path: Path) -> None:
    tools = node_tools(grafana_version())
    lines = [
        'import type { Dashboard } from "@grafana/schema/dist/types/raw/dashboard/x/'
        'dashboard_types.gen";',
        "// JSON holds an enum's value: compare with the values' strings, strictly otherwise.",
        "type Json<T> = T extends string ? `${T}` : T extends (infer U)[] ? Json<U>[]"
        " : T extends object ? { [K in keyof T]: Json<T[K]> } : T;",
    ]
    for index, (name, document) in enumerate(dashboards().items()):
        lines.append(f"// {name}")
        lines.append(f"export const dashboard{index}: Json<Dashboard> = {json.dumps(document)};")
    check = tools / "dashboards_check.ts"
    check.write_text("\n".join(lines) + "\n")
    bogus = tools / "bogus_check.ts"
    document = next(iter(dashboards().values()))
    bogus.write_text(
        "\n".join(
            [
                *lines[:3],
                f"export const d: Json<Dashboard> = {json.dumps({**document, 'titel': 'x'})};",
            ]
        )
    )
    tsc = [
        "node",
        str(tools / "node_modules" / "typescript" / "bin" / "tsc"),
        "--noEmit",
        "--strict",
        "--skipLibCheck",
        "--lib",
        "es2020",
        "--target",
        "es2020",
        "--module",
        "commonjs",
        "--moduleResolution",
        "node",
    ]
    checked = subprocess.run(
        [*tsc, check.name], cwd=tools, capture_output=True, text=True, timeout=300
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    refused = subprocess.run(
        [*tsc, bogus.name], cwd=tools, capture_output=True, text=True, timeout=300
    )
    assert refused.returncode != 0, "the schema check must catch an unknown property"
    assert "'\"titel\"' does not exist" in refused.stdout


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    rules = [
        {"record": f"diko_dashboard:query_{number}", "expr": as_promql(expr)}
        for number, (_, expr) in enumerate(
            query for document in dashboards().values() for query in queries(document)
        )
    ]
    assert len(rules) > 40
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    checked = promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
