"""Composition root of the companies service: every message it consumes, in one place."""

from __future__ import annotations

import asyncio

from pydantic import Field

from diko_companies import handlers, position_handlers, rights, store
from diko_shared.brand import web as brand
from diko_shared.geo import load_gazetteer
from diko_shared.service.app import Service
from diko_shared.settings import ServiceSettings, load_settings

NAME = "companies"


class CompaniesSettings(ServiceSettings):
    """The platform's settings with the companies service's own HTTP port."""

    http_port: int = Field(8001, description="Port of /healthz, /readyz, /metrics and /asyncapi")


def build(settings: CompaniesSettings | None = None) -> Service:
    settings = settings or load_settings(CompaniesSettings, "companies")
    service = Service(
        NAME,
        settings,
        description="Companies, contacts, consents, consultations and training positions; "
        "duplicates, merge and history; places taken by matches",
        indexes=store.INDEXES,
    )
    # commands: companies
    service.on_request("company.register", handlers.register_company)
    service.on_request("company.update", handlers.update_company)
    service.on_request("company.merge", handlers.merge_companies)
    service.on_request("company.scan_duplicates", handlers.scan_duplicates)
    service.on_request("company.set_consent", handlers.set_consent)
    service.on_request("company.record_consultation", handlers.record_consultation)
    # commands: contacts
    service.on_request("contact.add", handlers.add_contact)
    service.on_request("contact.update", handlers.update_contact)
    service.on_request("contact.remove", handlers.remove_contact)
    # commands: positions
    service.on_request("position.open", position_handlers.open_position)
    service.on_request("position.update", position_handlers.update_position)
    service.on_request("position.close", position_handlers.close_position)
    service.on_request("position.reopen", position_handlers.reopen_position)
    # queries
    service.on_request("company.get", handlers.get_company)
    service.on_request("company.search", handlers.search_companies)
    service.on_request("company.history", handlers.company_history)
    service.on_request("company.presence_history", handlers.presence_history)
    service.on_request("position.get", position_handlers.get_position)
    service.on_request("position.search", position_handlers.search_positions)
    # reactions
    service.on_event("match.accepted", position_handlers.take_place)
    # data-subject rights: contact persons' export and erasure, parts of the others'
    rights.RIGHTS.wire(service)
    base_url = settings.public_base_url or f"http://127.0.0.1:{settings.http_port}"
    rights.owner(base_url).wire(service)
    service.add_routes(*brand.routes())
    # due items
    service.on_due(handlers.FOLLOW_UP, handlers.follow_up_due)

    async def load_directory() -> None:
        # The gazetteer too: read on first use, it held up the first registration by ~0.5 s.
        await asyncio.to_thread(load_gazetteer)
        await handlers.DIRECTORY.refresh(service.db)

    service.on_start(load_directory)
    return service
