"""`diko stack status` and `diko dlq` as operators run them, against the real stack."""

from __future__ import annotations

from harness.cli import diko
from harness.processes import ServiceProcess, free_port
from harness.stack import SessionStack

SERVICES = ("companies", "matching", "notifications", "media")


def test_stack_status_is_ok_when_everything_answers(
    stack: SessionStack, testsvc: ServiceProcess
) -> None:
    urls = {f"DIKO_{name.upper()}_URL": testsvc.base_url for name in SERVICES}
    result = diko(stack, "stack", "status", env={"DIKO_MAILPIT_URL": stack.mailpit_url, **urls})
    assert result.returncode == 0, result.stdout + result.stderr
    for component in ("RabbitMQ", "database", "Mailpit", *SERVICES):
        assert component in result.stdout
    assert "down" not in result.stdout


def test_stack_status_names_what_is_down_and_exits_1(
    stack: SessionStack, testsvc: ServiceProcess
) -> None:
    urls = {f"DIKO_{name.upper()}_URL": testsvc.base_url for name in SERVICES}
    urls["DIKO_MEDIA_URL"] = f"http://127.0.0.1:{free_port()}"
    result = diko(stack, "stack", "status", env=urls)
    assert result.returncode == 1
    media = next(line for line in result.stdout.splitlines() if "media" in line)
    assert "down: ConnectError" in media


def test_stack_status_without_services_checks_broker_and_database(stack: SessionStack) -> None:
    result = diko(stack, "stack", "status", "--no-services")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "companies" not in result.stdout


def test_dlq_commands_name_a_queue_that_does_not_exist(stack: SessionStack) -> None:
    for command in (["show", "nobody"], ["replay", "nobody"], ["purge", "nobody", "--yes"]):
        result = diko(stack, "dlq", *command)
        assert result.returncode == 2
        assert "no dead-letter queue 'nobody.dlq'" in result.stderr
        assert "Traceback" not in result.stderr


def test_an_unreachable_broker_is_one_line_not_a_trace(stack: SessionStack) -> None:
    dead = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    result = diko(stack, "dlq", "list", env={"DIKO_AMQP_URL": dead})
    assert result.returncode == 1
    assert "cannot reach RabbitMQ" in result.stderr
    assert "Traceback" not in result.stderr
