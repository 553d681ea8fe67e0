"""Settings: parsed from DIKO_* variables; a bad one is named, its value never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from diko_shared.settings import ServiceSettings, SettingsError, load_settings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)  # no .local/stack.env
    for name in (
        "DIKO_AMQP_URL",
        "DIKO_MONGO_URL",
        "DIKO_RETRY_DELAYS_MS",
        "DIKO_PREFETCH",
        "DIKO_LOG_LEVEL",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_retry_delays_are_a_comma_separated_list(env: pytest.MonkeyPatch) -> None:
    env.setenv("DIKO_AMQP_URL", "amqp://u:p@h/diko")
    env.setenv("DIKO_MONGO_URL", "mongodb://h/")
    env.setenv("DIKO_RETRY_DELAYS_MS", "100, 2000,30000")
    settings = ServiceSettings()
    assert settings.retry_delays_ms == [100, 2000, 30000]
    assert settings.max_attempts == 4


def test_a_missing_or_invalid_setting_is_named_without_its_value(env: pytest.MonkeyPatch) -> None:
    env.setenv("DIKO_AMQP_URL", "amqp://diko:s3cret-pw@rabbitmq/diko")
    env.setenv("DIKO_PREFETCH", "0")
    with pytest.raises(SettingsError) as failed:
        load_settings(ServiceSettings, "companies")
    message = str(failed.value)
    assert message.startswith("companies cannot start")
    assert "DIKO_MONGO_URL" in message
    assert "DIKO_PREFETCH" in message
    assert "s3cret-pw" not in message


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DIKO_RETRY_DELAYS_MS", "abc", "milliseconds separated by commas"),
        ("DIKO_RETRY_DELAYS_MS", "100,-5", "milliseconds separated by commas"),
        ("DIKO_RETRY_DELAYS_MS", "0", "greater than or equal to 1"),
        ("DIKO_RETRY_DELAYS_MS", ",", "at least 1 item"),
        ("DIKO_LOG_LEVEL", "LOUD", "'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
    ],
)
def test_a_bad_value_is_refused_with_what_is_expected_and_not_echoed(
    env: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    env.setenv("DIKO_AMQP_URL", "amqp://u:p@h/diko")
    env.setenv("DIKO_MONGO_URL", "mongodb://h/")
    env.setenv(name, value)
    with pytest.raises(SettingsError) as failed:
        load_settings(ServiceSettings, "media")
    message = str(failed.value)
    assert name in message
    assert expected in message
    assert repr(value) not in message


def test_the_log_level_is_read_in_any_case(env: pytest.MonkeyPatch) -> None:
    env.setenv("DIKO_AMQP_URL", "amqp://u:p@h/diko")
    env.setenv("DIKO_MONGO_URL", "mongodb://h/")
    env.setenv("DIKO_LOG_LEVEL", " warning")
    assert load_settings(ServiceSettings, "media").log_level == "WARNING"


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("DIKO_AMQP_URL", "amqp://diko:change-me-rabbitmq@rabbitmq:5672/diko"),
        ("DIKO_MONGO_URL", "mongodb://media:change-me-mongo-media@mongo:27017/diko_media"),
    ],
)
def test_a_password_left_at_the_env_example_placeholder_is_refused(
    env: pytest.MonkeyPatch, name: str, url: str
) -> None:
    env.setenv("DIKO_AMQP_URL", "amqp://diko:9f3e1c@rabbitmq:5672/diko")
    env.setenv("DIKO_MONGO_URL", "mongodb://media:51ab0e@mongo:27017/diko_media")
    load_settings(ServiceSettings, "media")
    env.setenv(name, url)
    with pytest.raises(SettingsError, match=f"{name}: .*change-me placeholder"):
        load_settings(ServiceSettings, "media")
