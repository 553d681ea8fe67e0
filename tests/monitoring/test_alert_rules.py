"""The Prometheus configuration and alert rules, checked and unit-tested with promtool.

`promtool test rules` runs deploy/monitoring/prometheus/alerts.test.yml: every alert
fires on the series that should set it off, after its `for`, and stays quiet on normal
ones. What runs against real services and a real broker is in test_prometheus_live.py.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from monitoring.tools import ALERT_TESTS, ALERTS, MONITORING, PROMETHEUS_YML, promtool

#: What each alert must watch, by the wording of issue 11.
REQUIRED_ALERTS = {
    "DeadLettersWaiting": "rabbitmq_detailed_queue_messages",
    "QueueWithoutConsumer": "rabbitmq_detailed_queue_consumers",
    "OutboxBacklogGrowing": "diko_outbox_backlog",
    "MailDeliveryFailed": "diko_mail_attempts_total",
    "MailRelayTrouble": "diko_mail_attempts_total",
    "ServiceNotReady": "diko_ready",
    "ServiceDown": 'up{job="diko"}',
    "BrokerDown": 'up{job="rabbitmq"}',
    "BrokerMemoryAlarm": "rabbitmq_alarms_memory_used_watermark",
    "BrokerDiskAlarm": "rabbitmq_alarms_free_disk_space_watermark",
    "ForgedOrForbiddenMessages": "diko_dead_lettered_total",
}


def rules() -> dict[str, dict]:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def test_the_prometheus_configuration_is_valid() -> None:
    checked = promtool("check", "config", str(PROMETHEUS_YML))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "1 rule files found" in checked.stdout


def test_the_alert_rules_are_valid() -> None:
    checked = promtool("check", "rules", str(ALERTS))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_alert_rules_pass_their_unit_tests() -> None:
    tested = promtool("test", "rules", str(ALERT_TESTS), cwd=ALERT_TESTS.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_a_wrong_expectation_fails_the_unit_tests(tmp_path: Path) -> None:
    """The unit tests can fail: an alert expected at the wrong time is reported."""
    text = ALERT_TESTS.read_text(encoding="utf-8")
    wrong = text.replace(
        "      - eval_time: 2m\n        alertname: DeadLettersWaiting\n        exp_alerts: []",
        "      - eval_time: 2m\n        alertname: DeadLettersWaiting\n        exp_alerts:\n"
        "          - exp_labels: {severity: warning, queue: companies.dlq}",
        1,
    )
    assert wrong != text
    (tmp_path / "alerts.yml").write_text(ALERTS.read_text(encoding="utf-8"))
    (tmp_path / "wrong.test.yml").write_text(wrong)
    tested = promtool("test", "rules", "wrong.test.yml", cwd=tmp_path)
    assert tested.returncode != 0
    assert "DeadLettersWaiting" in tested.stdout + tested.stderr


def test_every_alert_the_issue_asks_for_exists_and_is_unit_tested() -> None:
    found = rules()
    tests = ALERT_TESTS.read_text(encoding="utf-8")
    for name, watches in REQUIRED_ALERTS.items():
        assert name in found, f"no alert {name}"
        assert watches in " ".join(found[name]["expr"].split()), f"{name} watches {watches}"
        assert f"alertname: {name}" in tests, f"{name} has no unit test"


def test_every_alert_says_what_happened_and_what_to_do() -> None:
    for name, rule in rules().items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"], name
        assert len(rule["annotations"]["description"]) > 40, name


def test_compose_mounts_the_configuration_where_it_names_the_rules() -> None:
    config = yaml.safe_load(PROMETHEUS_YML.read_text(encoding="utf-8"))
    assert config["rule_files"] == ["alerts.yml"]
    compose = yaml.safe_load((MONITORING.parents[1] / "docker-compose.yml").read_text())
    volumes = compose["services"]["prometheus"]["volumes"]
    assert (
        "./deploy/monitoring/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in volumes
    )
    assert "./deploy/monitoring/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in volumes
