"""Composition root of the notifications service: every subscription and route in one place."""

from __future__ import annotations

from datetime import timedelta

from starlette.routing import Route

from diko_notifications import rights, store
from diko_notifications.domain import ActionLinks
from diko_notifications.handlers import Handlers
from diko_notifications.links import PreferenceLinks
from diko_notifications.mail import SmtpMailer
from diko_notifications.preference_pages import (
    PREFERENCES_PATH,
    UNSUBSCRIBE_PATH,
    PreferencePages,
)
from diko_notifications.scheduled import Scheduled
from diko_notifications.sending import Postman
from diko_notifications.settings import NotificationsSettings, load_settings
from diko_notifications.web import ACTION_PATH, ActionPages
from diko_shared.brand import web as brand
from diko_shared.service.app import Service

SERVICE = "notifications"
DESCRIPTION = (
    "E-mails to the staff responsible (proposals with signed accept/decline links, filled "
    "positions, follow-ups, fairs), to companies' contact persons and applicants "
    "(placements, fair timetables), and notices other services ask for; preferences, "
    "quiet hours, daily digests, unsubscribing, bounces and the delivery log."
)
#: How long the action page waits for matching's answer before saying it is on its way.
DECIDE_TIMEOUT_S = 15.0
#: A lease outlives the SMTP conversation it guards by this margin.
LEASE_MARGIN = timedelta(seconds=15)


def build(settings: NotificationsSettings | None = None) -> Service:
    settings = settings or load_settings()
    service = Service(SERVICE, settings, description=DESCRIPTION, indexes=store.INDEXES)
    secret = settings.link_secret.get_secret_value()
    links = ActionLinks(secret, settings.base_url, timedelta(days=settings.link_ttl_days))
    preference_links = PreferenceLinks(secret, settings.base_url)
    mailer = SmtpMailer(settings)
    postman = Postman(
        mailer,
        preference_links,
        sender=settings.mail_from,
        sender_address=settings.sender_address,
        max_attempts=settings.max_attempts,
        lease=timedelta(seconds=settings.smtp_timeout_s) + LEASE_MARGIN,
        parallel=settings.smtp_connections * 2,
        clock=service.clock,
        metrics=service.metrics,
    )
    handlers = Handlers(
        links=links,
        postman=postman,
        publisher=service.publisher,
        clock=service.clock,
        team_email=settings.team_email,
        team_name=settings.team_name,
        retention=timedelta(days=settings.delivery_retention_days),
    )
    scheduled = Scheduled(handlers, service.metrics)

    service.on_request("staff.register", handlers.register_staff)
    service.on_request("staff.update", handlers.update_staff)
    service.on_request("staff.get", handlers.get_staff)
    service.on_request("staff.subscribe", handlers.subscribe)
    service.on_request("staff.preferences", handlers.set_preferences)
    service.on_request("notification.send", handlers.send_notice)
    service.on_request("notification.deliveries", handlers.list_deliveries)
    service.on_request("notification.record_bounce", handlers.record_bounce)

    service.on_event("match.proposed", handlers.notify)
    service.on_event("position.filled", handlers.notify)
    service.on_event("episode.published", handlers.notify)
    service.on_event("fair.planned", handlers.notify)
    service.on_event("consultation.follow_up_due", handlers.notify)
    service.on_event("match.accepted", handlers.record_decision)
    service.on_event("match.declined", handlers.record_decision)
    service.on_event("match.withdrawn", handlers.withdraw)
    service.on_event("applicant.withdrawn", handlers.applicant_withdrawn)
    service.on_event("applicant.updated", handlers.applicant_updated)
    service.on_event("company.registered", handlers.keep_company)
    service.on_event("company.updated", handlers.keep_company)
    service.on_event("company.merged", handlers.company_merged)
    service.on_event("contact.added", handlers.keep_contact)
    service.on_event("contact.updated", handlers.keep_contact)
    service.on_event("contact.removed", handlers.forget_contact)
    service.on_event("company.consent_changed", handlers.consent_changed)

    service.on_due("digest", scheduled.digest)
    service.on_due("release", scheduled.release)
    service.on_due("retention", scheduled.retention)
    service.on_due("placement", handlers.placement)
    service.on_start(lambda: handlers.start(service.db))
    service.on_stop(mailer.close)
    # data-subject rights: staff members' export and erasure, parts of the others'
    rights.RIGHTS.wire(service)
    rights.owner(settings.base_url).wire(service)

    pages = ActionPages(links, service.publisher, service.db, timeout_s=DECIDE_TIMEOUT_S)
    preference_pages = PreferencePages(preference_links, service.publisher, service.db)
    service.add_routes(
        Route(ACTION_PATH, pages.confirm, methods=["GET"]),
        Route(ACTION_PATH, pages.decide, methods=["POST"]),
        Route(PREFERENCES_PATH, preference_pages.show, methods=["GET"]),
        Route(PREFERENCES_PATH, preference_pages.save, methods=["POST"]),
        Route(UNSUBSCRIBE_PATH, preference_pages.ask, methods=["GET"]),
        Route(UNSUBSCRIBE_PATH, preference_pages.one_click, methods=["POST"]),
        *brand.routes(),
    )
    return service
