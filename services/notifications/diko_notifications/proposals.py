"""What staff decide about on an action page: the proposal as its e-mail described it, and
where it stands.

An action link carries only the proposal id (anyone holding the link can read its
token, so it must not carry names), and the page must not ask matching before anything
is decided. So when the e-mail about `match.proposed` is sent, the service keeps, per
proposal, what the e-mail said: the applicant, the occupation, the company and the town.
It learns the decision from `match.accepted` / `match.declined` (who decided, and when)
and that the position has no place left from `position.filled`, so that a page offers
only what can still be done. It keeps all that no longer than a link can be opened
(`retention`): the names are personal data that matching owns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from diko_shared.contract.matching import MatchProposed

#: A link is signed a moment after its proposal is recorded (the mail is built, then sent).
MARGIN = timedelta(days=1)

Status = Literal["accepted", "declined"]


@dataclass(frozen=True)
class ProposalSummary:
    """One proposal as the confirmation page names it."""

    proposal_id: str
    applicant: str
    home_town: str
    occupation: str
    company: str
    town: str
    position_id: str | None = None
    start_date: str | None = None
    company_id: str | None = None


@dataclass(frozen=True)
class DecisionRecord:
    """The one decision on a proposal, as matching announced it."""

    status: Status
    decided_by: str | None
    decided_at: datetime


@dataclass(frozen=True)
class ProposalRecord:
    """Everything the service knows about a proposal: what its e-mail said, where it stands."""

    proposal_id: str
    summary: ProposalSummary | None = None
    decision: DecisionRecord | None = None
    position_filled: bool = False
    #: matching withdrew it (`match.withdrawn`): its links are revoked, with matching's words.
    withdrawn: str | None = None


def summaries(event: MatchProposed) -> list[ProposalSummary]:
    """Every proposal of the event, as its e-mail describes it."""
    return [
        ProposalSummary(
            proposal_id=proposal.proposal_id,
            applicant=proposal.applicant.name,
            home_town=proposal.applicant.home_town,
            occupation=proposal.position.occupation.name,
            company=proposal.position.company_name,
            town=proposal.position.town,
            position_id=proposal.position.position_id,
            start_date=proposal.position.start_date.isoformat(),
            company_id=proposal.position.company_id,
        )
        for proposal in event.proposals
    ]


def retention(link_ttl: timedelta) -> timedelta:
    """How long a summary is kept after its e-mail was last built: its links' life, and a day."""
    return link_ttl + MARGIN
