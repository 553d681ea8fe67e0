"""Composition root of the companies service: every message it consumes, in one place."""

from __future__ import annotations

from pydantic import Field

from diko_companies import handlers, store
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.service.app import Service
from diko_shared.settings import ServiceSettings, load_settings

NAME = "companies"


class CompaniesSettings(ServiceSettings):
    """The platform's settings with the companies service's own HTTP port."""

    http_port: int = Field(8001, description="Port of /healthz, /readyz, /metrics and /asyncapi")


def build(settings: CompaniesSettings | None = None) -> Service:
    service = Service(
        NAME,
        settings or load_settings(CompaniesSettings, "companies"),
        description="Companies, their contacts and training positions; places taken by matches",
        indexes=store.INDEXES,
    )
    # commands
    service.on_request("company.register", handlers.register_company)
    service.on_request("position.open", handlers.open_position)
    # queries
    service.on_request("company.get", handlers.get_company)
    service.on_request("position.search", handlers.search_positions)
    # reactions
    service.on_event("match.accepted", handlers.take_place)
    # the rest of the contract, answered with unknown_type until served
    served = {s.spec.type for s in service.subscriptions}
    for spec in CATALOGUE.owned_by(NAME):
        if spec.is_request and spec.type not in served:
            service.on_request(spec.type, handlers.not_served_yet)
    return service
