"""The message names fixed by CONTRACTS.md, by owner: the only names the catalogue may use.

Some are not served yet; a name is added to the catalogue (with its models and a
handler in its owner) when its service learns it. An incompatible change gets a new
name ending in `.v2`, served beside the old one for a while.
"""

from __future__ import annotations

FIXED: dict[str, dict[str, tuple[str, ...]]] = {
    "companies": {
        "command": (
            "company.register",
            "company.update",
            "company.merge",
            "company.record_consultation",
            "company.set_consent",
            "position.open",
            "position.update",
            "position.close",
            # v1.1
            "position.reopen",
            "contact.add",
            "contact.update",
            "contact.remove",
            "contact.erase",
            "company.scan_duplicates",
        ),
        "query": (
            "company.get",
            "company.search",
            "position.get",
            "position.search",
            # v1.1
            "company.history",
            "contact.export",
            # named by the project (docs/contract.md): the digital-presence score over time
            "company.presence_history",
        ),
        "event": (
            "company.registered",
            "company.updated",
            "company.merged",
            "company.duplicate_suspected",
            "company.consultation_recorded",
            "company.consent_changed",
            "position.opened",
            "position.updated",
            "position.closed",
            "position.filled",
            # v1.1
            "position.reopened",
            "contact.added",
            "contact.updated",
            "contact.removed",
            "contact.erased",
            "consultation.follow_up_due",
        ),
    },
    "matching": {
        "command": (
            "applicant.register",
            "applicant.update",
            "applicant.withdraw",
            "applicant.erase",
            "match.run",
            "match.decide",
            "fair.plan",
        ),
        "query": (
            "applicant.get",
            "applicant.export",
            "match.shortlist",
            "match.explain",
            "fair.get",
        ),
        "event": (
            "applicant.registered",
            "applicant.updated",
            "applicant.withdrawn",
            "applicant.erased",
            "match.proposed",
            "match.accepted",
            "match.declined",
            "match.run_completed",
            "fair.planned",
            # v1.1
            "match.withdrawn",
        ),
    },
    "notifications": {
        "command": (
            "staff.register",
            "staff.update",
            "staff.subscribe",
            "notification.send",
            # v1.1
            "staff.preferences",
            "staff.erase",
        ),
        "query": (
            "notification.deliveries",
            # v1.1
            "staff.export",
            # named by the project (docs/contract.md): a staff member with preferences
            "staff.get",
        ),
        "event": (
            "notification.sent",
            "notification.failed",
            "digest.sent",
            # v1.1
            "staff.erased",
        ),
    },
    "media": {
        "command": (
            "episode.create",
            "episode.update",
            "episode.schedule",
            "episode.publish",
            "post.draft",
            "post.approve",
            "post.reject",
            "post.schedule",
            "presentation.publish",
            "presentation.unpublish",
        ),
        "query": ("episode.get", "post.get", "post.kit"),
        "event": (
            "episode.published",
            "post.drafted",
            "post.approved",
            "post.published",
            "post.failed",
            "presentation.published",
            "site.rebuilt",
            # v1.1
            "episode.updated",
            "episode.scheduled",
            "post.rejected",
            "post.scheduled",
            "presentation.unpublished",
            # named by the project (docs/contract.md): a post taken out of the queue
            "post.withheld",
        ),
    },
}


def fixed_kind(type_: str) -> tuple[str, str] | None:
    """(owner, kind) of a fixed name, or None if CONTRACTS.md does not name it."""
    for owner, kinds in FIXED.items():
        for kind, names in kinds.items():
            if type_ in names:
                return owner, kind
    return None
