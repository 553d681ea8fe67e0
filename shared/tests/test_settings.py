"""Settings: parsed from DIKO_* variables; a bad one is named, its value never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from diko_shared.settings import ServiceSettings, SettingsError, load_settings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)  # no .local/stack.env
    for name in ("DIKO_AMQP_URL", "DIKO_MONGO_URL", "DIKO_RETRY_DELAYS_MS", "DIKO_PREFETCH"):
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
