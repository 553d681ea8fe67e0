"""The README tells the truth: every setting a process reads and every message it serves."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.names import FIXED

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")

SETTINGS = [
    ("diko_shared.settings", "ServiceSettings"),
    ("diko_companies.app", "CompaniesSettings"),
    ("diko_matching.app", "MatchingSettings"),
    ("diko_notifications.settings", "NotificationsSettings"),
    ("diko_media.app", "MediaSettings"),
]


@pytest.mark.parametrize(("module", "name"), SETTINGS)
def test_every_setting_is_documented(module: str, name: str) -> None:
    settings: type[BaseSettings] = getattr(importlib.import_module(module), name)
    missing = [
        f"DIKO_{f.upper()}" for f in settings.model_fields if f"DIKO_{f.upper()}" not in README
    ]
    assert not missing, f"README.md does not mention {missing}"


def test_every_message_type_is_in_the_table_with_its_consumers() -> None:
    reactions = CATALOGUE.all_reactions()
    missing = []
    for spec in CATALOGUE:
        if spec.owner not in FIXED:
            continue  # a test's or benchmark's own messages, registered in this process
        consumers = ", ".join(service for service, type_ in reactions if type_ == spec.type)
        row = f"| `{spec.type}` | {spec.kind} | {spec.owner} | {consumers} |".replace("|  |", "| |")
        if row not in README:
            missing.append(row)
    assert not missing, "README.md's message table lacks or misstates:\n" + "\n".join(missing)
