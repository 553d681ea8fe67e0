"""The fixed message names, by owner (docs/contract.md): the only names the catalogue may use.

They are the contract's v1 names and its v1.1 additions, and the few the project named
itself in the same pattern (marked where they stand; docs/contract.md lists them). Some
are not served yet; a name is added to the catalogue (with its models and a handler in
its owner) when its service learns it, and until then `PURPOSE` says what it is for. An
incompatible change gets a new name ending in `.v2`, served beside the old one for a while.
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
            "company.history",
            "contact.export",
            # named by the project, in the same pattern: the digital-presence score over time
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
            "staff.preferences",
            "staff.erase",
        ),
        "query": (
            "notification.deliveries",
            "staff.export",
        ),
        "event": (
            "notification.sent",
            "notification.failed",
            "digest.sent",
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
            "episode.updated",
            "episode.scheduled",
            "post.rejected",
            "post.scheduled",
            "presentation.unpublished",
        ),
    },
}


#: What each fixed name is for, shown for the names not served yet (the served ones have
#: their catalogue summary).
PURPOSE: dict[str, str] = {
    # companies
    "company.update": "Change a company's name, address, industry or website.",
    "company.merge": "Merge two records of one company into one.",
    "company.record_consultation": "Record a consultation on a company's digital presence.",
    "company.set_consent": "Record what a company agreed to be shown (posts, podcast, site).",
    "position.update": "Change a position's places, start or description.",
    "position.close": "Close a position that is no longer offered.",
    "position.reopen": "Open a closed or filled position again.",
    "contact.add": "Add a contact person to a company.",
    "contact.update": "Change a contact person's details.",
    "contact.remove": "Remove a contact person from a company.",
    "contact.erase": "Erase a contact person's personal data.",
    "company.scan_duplicates": "Look for companies registered twice.",
    "company.search": "Find companies.",
    "position.get": "A position.",
    "company.history": "What happened to a company, in order.",
    "contact.export": "Everything kept about a contact person (data access request).",
    "company.updated": "A company's details changed.",
    "company.merged": "Two records of one company were merged.",
    "company.duplicate_suspected": "Two records may be the same company.",
    "company.consultation_recorded": "A consultation was recorded.",
    "company.consent_changed": "What a company agreed to be shown changed.",
    "position.closed": "A position was closed.",
    "position.reopened": "A position was opened again.",
    "contact.added": "A contact person was added.",
    "contact.updated": "A contact person's details changed.",
    "contact.removed": "A contact person was removed.",
    "contact.erased": "A contact person's personal data was erased.",
    "consultation.follow_up_due": "A consultation's follow-up is due.",
    # matching
    "applicant.update": "Change what an applicant wants or can reach.",
    "applicant.withdraw": "An applicant leaves the search.",
    "applicant.erase": "Erase an applicant's personal data everywhere.",
    "match.run": "Assign applicants to positions in one stable run.",
    "fair.plan": "Plan the interview schedule of an applicant fair.",
    "applicant.export": "Everything kept about an applicant (data access request).",
    "match.explain": "Why a pair scores as it does.",
    "fair.get": "A planned applicant fair.",
    "applicant.updated": "An applicant's wishes or reach changed.",
    "applicant.withdrawn": "An applicant left the search.",
    "applicant.erased": "An applicant's personal data was erased.",
    "match.run_completed": "A stable assignment run finished.",
    "fair.planned": "An applicant fair's schedule was planned.",
    "match.withdrawn": "A proposal can no longer be accepted.",
    # notifications
    "staff.update": "Change a staff member's name, address or role.",
    "notification.send": "Send staff an e-mail about something else than an event.",
    "staff.preferences": "Choose how a staff member gets e-mails (at once or as a digest).",
    "staff.erase": "Erase a staff member's personal data.",
    "staff.export": "Everything kept about a staff member (data access request).",
    "digest.sent": "A digest e-mail was sent.",
    "staff.erased": "A staff member's personal data was erased.",
    # media
    "episode.update": "Change an episode's title, description or audio.",
    "episode.schedule": "Publish an episode at a given time.",
    "post.draft": "Draft a post from a layout.",
    "post.approve": "Approve a drafted post.",
    "post.reject": "Reject a drafted post.",
    "post.schedule": "Publish an approved post at a given time.",
    "presentation.publish": "Publish a company's presentation on the website.",
    "presentation.unpublish": "Take a company's presentation off the website.",
    "post.kit": "A post's images and caption, ready for a company to copy.",
    "post.approved": "A post was approved.",
    "post.published": "A post was published on Instagram.",
    "post.failed": "A post could not be published.",
    "presentation.published": "A company's presentation is on the website.",
    "site.rebuilt": "The website was rebuilt.",
    "episode.updated": "An episode changed.",
    "episode.scheduled": "An episode was scheduled.",
    "post.rejected": "A post was rejected.",
    "post.scheduled": "A post was scheduled.",
    "presentation.unpublished": "A company's presentation was taken off the website.",
}


def fixed_kind(type_: str) -> tuple[str, str] | None:
    """(owner, kind) of a fixed name, or None if it is not one."""
    for owner, kinds in FIXED.items():
        for kind, names in kinds.items():
            if type_ in names:
                return owner, kind
    return None
