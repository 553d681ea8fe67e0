"""`diko stack status` and `diko dlq` as operators run them, against the real stack."""

from __future__ import annotations

import re
from pathlib import Path

from harness.cli import diko
from harness.plug import Plug
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
    media = f"http://127.0.0.1:{free_port()}"
    urls["DIKO_MEDIA_URL"] = media
    result = diko(stack, "stack", "status", env=urls)
    assert result.returncode == 1
    assert f"media {media} down: nothing listens at this address" in screen(result.stdout)


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


def screen(output: str) -> str:
    """What a table says, with its rules gone and white space folded (cells may wrap)."""
    return " ".join(re.sub(r"[─━│┃┏┓┗┛┡┩╇╈┳┻┣┫╋└┘┌┐├┤┬┴┼]", " ", output).split())


def test_stack_status_says_why_a_service_is_not_ready(
    stack: SessionStack, testsvc: ServiceProcess
) -> None:
    own_url = stack.amqp_url_as("testsvc")
    with Plug.to(own_url) as plug:
        cut_off = ServiceProcess(
            "testsvc-status",
            "testsvc",
            None,
            stack.service_env("testsvc", DIKO_AMQP_URL=plug.url(own_url)),
            pythonpath=(Path(__file__).resolve().parent,),
        )
        cut_off.start()
        try:
            plug.pull()
            urls = {f"DIKO_{name.upper()}_URL": testsvc.base_url for name in SERVICES}
            urls["DIKO_MATCHING_URL"] = cut_off.base_url
            result = diko(stack, "stack", "status", env={**urls, "COLUMNS": "80"})
        finally:
            cut_off.stop()
    assert result.returncode == 1, result.stdout
    assert result.stderr == ""
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    shown = screen(result.stdout)
    assert "matching http://127.0.0.1:" in shown
    assert "not ready broker: unavailable: connection lost" in shown, shown
    assert "ReadTimeout" not in shown


def test_stack_status_with_the_stack_away_names_each_part_without_stray_lines(
    stack: SessionStack,
) -> None:
    amqp, mongo = free_port(), free_port()
    env = {
        "DIKO_AMQP_URL": f"amqp://diko:secret@127.0.0.1:{amqp}/diko",
        "DIKO_MONGO_URL": f"mongodb://127.0.0.1:{mongo}/",
        "DIKO_MAILPIT_URL": f"http://127.0.0.1:{free_port()}",
        "COLUMNS": "80",
        **{f"DIKO_{name.upper()}_URL": f"http://127.0.0.1:{free_port()}" for name in SERVICES},
    }
    result = diko(stack, "stack", "status", env=env)
    assert result.returncode == 1
    assert result.stderr == "", "a library's log line leaked: " + result.stderr
    shown = screen(result.stdout)
    assert f"RabbitMQ 127.0.0.1:{amqp}/diko down: connection refused" in shown, shown
    assert f"database mongodb://127.0.0.1:{mongo}/ down: " in shown, shown
    assert f"127.0.0.1:{mongo}: [Errno 111]" in shown, shown
    assert shown.count("down: nothing listens at this address") == 1 + len(SERVICES), shown
