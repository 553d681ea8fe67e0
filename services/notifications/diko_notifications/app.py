"""Composition root of the notifications service: every subscription and route in one place."""

from __future__ import annotations

from datetime import timedelta

from starlette.routing import Route

from diko_notifications import store
from diko_notifications.domain import ActionLinks
from diko_notifications.handlers import Handlers
from diko_notifications.mail import SmtpMailer
from diko_notifications.settings import NotificationsSettings, load_settings
from diko_notifications.web import ACTION_PATH, ActionPages
from diko_shared.brand import web as brand
from diko_shared.service.app import Service

SERVICE = "notifications"
DESCRIPTION = (
    "E-mails to staff about match proposals (with signed links to accept or decline), "
    "filled positions and new podcast episodes; staff, subscriptions and the delivery log."
)
#: How long the action page waits for matching's answer before saying it is on its way.
DECIDE_TIMEOUT_S = 15.0
#: A lease outlives the SMTP conversation it guards by this margin.
LEASE_MARGIN = timedelta(seconds=15)


def build(settings: NotificationsSettings | None = None) -> Service:
    settings = settings or load_settings()
    service = Service(SERVICE, settings, description=DESCRIPTION, indexes=store.INDEXES)
    links = ActionLinks(
        settings.link_secret.get_secret_value(),
        settings.base_url,
        timedelta(days=settings.link_ttl_days),
    )

    handlers = Handlers(
        links=links,
        mailer=SmtpMailer(settings),
        publisher=service.publisher,
        sender=settings.mail_from,
        sender_address=settings.sender_address,
        max_attempts=settings.max_attempts,
        lease=timedelta(seconds=settings.smtp_timeout_s) + LEASE_MARGIN,
        metrics=service.metrics,
    )
    service.on_request("staff.register", handlers.register_staff)
    service.on_request("staff.subscribe", handlers.subscribe)
    service.on_request("notification.deliveries", handlers.list_deliveries)
    service.on_event("match.proposed", handlers.notify)
    service.on_event("position.filled", handlers.notify)
    service.on_event("episode.published", handlers.notify)
    service.on_event("match.accepted", handlers.record_decision)
    service.on_event("match.declined", handlers.record_decision)
    service.hourly(lambda: handlers.forget_expired_proposals(service.db))

    pages = ActionPages(links, service.publisher, service.db, timeout_s=DECIDE_TIMEOUT_S)
    service.add_routes(
        Route(ACTION_PATH, pages.confirm, methods=["GET"]),
        Route(ACTION_PATH, pages.decide, methods=["POST"]),
        *brand.routes(),
    )
    return service
