"""Derived ids are exactly the name-based UUIDs they always were: stored ids must not change."""

from __future__ import annotations

import random
import uuid

import pytest

from diko_shared.messaging.derived import DERIVED_IDS, derived_id, derived_uuid

NAMES = [
    "",
    "companies.company.register|ops|1b0e6c1e-0f6a-4d7e-9a55-8f0c2d1e3b4a|out|0",
    "matching.proposed|#0f3a|prp|Lüneburger Straße 7",
    "due|site.build|2026-12-06T03:00:00Z",
    "Ärztin (m/w/d) – Öffnungszeiten ½ 🚜",
    "x" * 5000,
]


@pytest.mark.parametrize("name", NAMES)
def test_a_derived_uuid_is_uuid5_of_its_name(name: str) -> None:
    assert derived_uuid(name) == str(uuid.uuid5(DERIVED_IDS, name))
    assert uuid.UUID(derived_uuid(name)).version == 5


@pytest.mark.parametrize("name", NAMES)
def test_a_derived_id_is_its_prefix_and_twenty_hex_digits_of_uuid5(name: str) -> None:
    assert derived_id("cmp", name) == f"cmp_{uuid.uuid5(DERIVED_IDS, name).hex[:20]}"


def test_random_names_derive_what_uuid5_derives() -> None:
    rng = random.Random(20261206)
    for _ in range(2000):
        name = "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randrange(0, 80)))
        assert derived_uuid(name) == str(uuid.uuid5(DERIVED_IDS, name))
