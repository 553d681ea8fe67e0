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
        "DIKO_AMQP_PASSWORD",
        "DIKO_MONGO_PASSWORD",
        "DIKO_AMQP_URL_FILE",
        "DIKO_AMQP_PASSWORD_FILE",
        "DIKO_MONGO_PASSWORD_FILE",
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


# -- secrets from files ------------------------------------------------------------------


def test_any_setting_can_come_from_a_file_as_docker_secrets_are_given(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "amqp-url"
    secret.write_text("amqp://matching:from-a-file@rabbitmq:5672/diko\n")
    env.setenv("DIKO_AMQP_URL_FILE", str(secret))
    env.setenv("DIKO_MONGO_URL", "mongodb://h/")
    settings = load_settings(ServiceSettings, "matching")
    assert settings.amqp_url == "amqp://matching:from-a-file@rabbitmq:5672/diko"


def test_a_password_file_goes_into_the_url_quoted(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "amqp").write_text("pa ss/wörd\n")
    (tmp_path / "mongo").write_text("mongo-secret")
    env.setenv("DIKO_AMQP_URL", "amqp://matching@rabbitmq:5672/diko")
    env.setenv("DIKO_AMQP_PASSWORD_FILE", str(tmp_path / "amqp"))
    env.setenv("DIKO_MONGO_URL", "mongodb://matching@mongo:27017/diko_matching")
    env.setenv("DIKO_MONGO_PASSWORD_FILE", str(tmp_path / "mongo"))
    settings = load_settings(ServiceSettings, "matching")
    assert settings.amqp_url == "amqp://matching:pa%20ss%2Fw%C3%B6rd@rabbitmq:5672/diko"
    assert settings.mongo_url == "mongodb://matching:mongo-secret@mongo:27017/diko_matching"
    shown = repr(settings)
    assert "pa%20ss" not in shown
    assert "mongo-secret" not in shown


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (
            {"DIKO_AMQP_PASSWORD": "x" * 20, "DIKO_AMQP_PASSWORD_FILE": "{dir}/pw"},
            "DIKO_AMQP_PASSWORD and DIKO_AMQP_PASSWORD_FILE are both set",
        ),
        ({"DIKO_AMQP_PASSWORD_FILE": "{dir}/missing"}, "DIKO_AMQP_PASSWORD_FILE: cannot read"),
        (
            {"DIKO_AMQP_URL": "amqp://u:in-url@h/diko", "DIKO_AMQP_PASSWORD": "y" * 20},
            "DIKO_AMQP_URL carries a password and one is given separately too",
        ),
        ({"DIKO_AMQP_PASSWORD": "change-me-rabbitmq"}, "change-me placeholder"),
    ],
)
def test_a_secret_given_wrongly_is_named_and_not_shown(
    env: pytest.MonkeyPatch, tmp_path: Path, variables: dict[str, str], expected: str
) -> None:
    (tmp_path / "pw").write_text("file-secret-value\n")
    env.setenv("DIKO_AMQP_URL", "amqp://matching@rabbitmq:5672/diko")
    env.setenv("DIKO_MONGO_URL", "mongodb://h/")
    for name, value in variables.items():
        env.setenv(name, value.format(dir=tmp_path))
    with pytest.raises(SettingsError) as failed:
        load_settings(ServiceSettings, "matching")
    message = str(failed.value)
    assert expected in message
    for secret in ("file-secret-value", "x" * 20, "y" * 20, "in-url"):
        assert secret not in message
