"""The AsyncAPI documents in docs/asyncapi are the ones the catalogue generates today."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.service import asyncapi

DOCS = Path(__file__).resolve().parents[2] / "docs" / "asyncapi"
SERVICES = ("companies", "matching", "notifications", "media")


@pytest.mark.parametrize("service", SERVICES)
def test_the_committed_document_is_current(service: str) -> None:
    committed = json.loads((DOCS / f"{service}.json").read_text(encoding="utf-8"))
    assert committed == asyncapi.document(service), (
        f"docs/asyncapi/{service}.json is stale: run `make generated`"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_the_document_lists_every_message_the_service_consumes_and_emits(service: str) -> None:
    document = asyncapi.document(service)
    channels = document["channels"]  # keyed by queue (consumed) or routing key (emitted)
    for spec in CATALOGUE.owned_by(service):
        name = f"{service}.{spec.type}" if spec.is_request else spec.type
        assert channels[name]["address"] == spec.type
    for event_type in CATALOGUE.reactions(service):
        assert channels[f"{service}.on.{event_type}"]["address"] == event_type
    schemas = document["components"]["schemas"]
    assert all(f"Envelope[{s.payload.__name__}]" in schemas for s in CATALOGUE.owned_by(service))
