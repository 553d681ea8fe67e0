"""What staff decide about on an action page: the proposal as its e-mail described it.

An action link carries only the proposal id (anyone holding the link can read its
token, so it must not carry names), and the page must not ask matching before anything
is decided. So when the e-mail about `match.proposed` is sent, the service keeps, per
proposal, what the e-mail said: the applicant, the occupation, the company and the town.
It keeps that no longer than a link can be opened (`retention`): the names are personal
data that matching owns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from diko_shared.contract.matching import MatchProposed

#: A link is signed a moment after its proposal is recorded (the mail is built, then sent).
MARGIN = timedelta(days=1)


@dataclass(frozen=True)
class ProposalSummary:
    """One proposal as the confirmation page names it."""

    proposal_id: str
    applicant: str
    home_town: str
    occupation: str
    company: str
    town: str


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
        )
        for proposal in event.proposals
    ]


def retention(link_ttl: timedelta) -> timedelta:
    """How long a summary is kept after its e-mail was last built: its links' life, and a day."""
    return link_ttl + MARGIN
