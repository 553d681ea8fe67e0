"""The daily digest: everything pending for one staff member, grouped by kind and counted.

Proposals are listed only while they can still be decided (not decided, withdrawn or
on a filled position), each with fresh accept/decline links; a digest with nothing left
in it is not sent. Pure: the handler loads the items and the proposals' state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from diko_notifications import domain, letters
from diko_notifications.domain import ActionLinks, Letter, PositionGroup, german_date, number_word
from diko_notifications.proposals import ProposalRecord
from diko_notifications.recipients import Recipient
from diko_shared.contract.companies import FollowUpDue, PositionFilled
from diko_shared.contract.matching import FairPlanned, MatchProposed, Proposal
from diko_shared.contract.media import EpisodePublished
from diko_shared.contract.notifications import SendNotification

#: The sections of a digest, in this order, with their titles.
SECTIONS = (
    ("match.proposed", "Vermittlungsvorschläge", "ein Vorschlag", "Vorschläge"),
    ("consultation.follow_up_due", "Wiedervorlagen", "eine Wiedervorlage", "Wiedervorlagen"),
    ("fair.planned", "Bewerberbörsen", "eine Bewerberbörse", "Bewerberbörsen"),
    ("position.filled", "Besetzte Ausbildungsstellen", "eine besetzte Stelle", "besetzte Stellen"),
    ("notice", "Hinweise", "ein Hinweis", "Hinweise"),
    ("episode.published", "Podcast", "eine neue Podcastfolge", "neue Podcastfolgen"),
)


@dataclass(frozen=True)
class Entry:
    title: str
    lines: Sequence[str]
    url: str = ""
    link_label: str = ""


@dataclass(frozen=True)
class Section:
    kind: str
    title: str
    count: int
    groups: Sequence[PositionGroup] = ()
    entries: Sequence[Entry] = ()


def open_proposals(event: MatchProposed, records: Mapping[str, ProposalRecord]) -> list[Proposal]:
    """The proposals of an event that can still be decided."""
    open_ = []
    for proposal in event.proposals:
        record = records.get(proposal.proposal_id)
        if record is not None and (
            record.decision is not None or record.withdrawn or record.position_filled
        ):
            continue
        open_.append(proposal)
    return open_


def _entry(kind: str, payload: Any) -> Entry:
    if isinstance(payload, PositionFilled):
        return Entry(
            domain.filled_subject(payload).removeprefix("Ausbildungsstelle besetzt: "),
            [f"Beginn am {german_date(payload.start_date)}"],
        )
    if isinstance(payload, FollowUpDue):
        lines = [f"Beratung vom {german_date(payload.held_on)}: {', '.join(payload.topics)}"]
        if payload.next_steps:
            lines.append(f"Nächste Schritte: {payload.next_steps.strip()}")
        if payload.contact:
            contact = payload.contact
            reach = ", ".join(x for x in (contact.phone, contact.email) if x)
            lines.append(f"Ansprechperson: {contact.name}" + (f" ({reach})" if reach else ""))
        return Entry(payload.company_name, lines)
    if isinstance(payload, FairPlanned):
        facts = letters.fair_facts(payload)
        summary = payload.summary
        lines = [f"{facts['day']}" + (f", {facts['venue']}" if facts["venue"] else "")]
        lines.append(
            f"{summary.companies} Betriebe, {summary.applicants} Bewerber/innen, "
            f"{summary.interviews} Gespräche"
        )
        return Entry(payload.title, lines)
    if isinstance(payload, EpisodePublished):
        lines = [(payload.description or "").strip()] if payload.description else []
        return Entry(
            f"„{payload.title}“",
            lines,
            url=payload.audio_url or payload.page_url or "",
            link_label="Folge anhören" if payload.audio_url else "Zum Podcast",
        )
    if isinstance(payload, SendNotification):
        action = payload.action
        return Entry(
            payload.subject,
            [p.strip() for p in payload.paragraphs if p.strip()],
            url=action.url if action else "",
            link_label=action.label if action else "",
        )
    raise TypeError(f"no digest entry for {kind}")


def digest_letter(
    recipient: Recipient,
    items: Sequence[tuple[str, Any]],
    records: Mapping[str, ProposalRecord],
    links: ActionLinks,
    day: date,
    hour: int,
) -> tuple[Letter | None, dict[str, int]]:
    """The digest of `items` (kind, payload), or None when nothing in it is still news."""
    sections: list[Section] = []
    counts: dict[str, int] = {}
    for kind, title, _one, _many in SECTIONS:
        payloads = [payload for k, payload in items if k == kind]
        if not payloads:
            continue
        if kind == "match.proposed":
            proposals = [p for event in payloads for p in open_proposals(event, records)]
            if not proposals:
                continue
            merged = MatchProposed(trigger="position", subject_id="digest", proposals=proposals)
            groups = domain.proposal_letter(merged, recipient, links).values["groups"]
            sections.append(Section(kind, title, len(proposals), groups=groups))
            counts[kind] = len(proposals)
        else:
            entries = [_entry(kind, payload) for payload in payloads]
            sections.append(Section(kind, title, len(entries), entries=entries))
            counts[kind] = len(entries)
    if not sections:
        return None, {}
    parts = []
    for kind, _, one, many in SECTIONS:
        if kind in counts:
            n = counts[kind]
            parts.append(one if n == 1 else f"{number_word(n)} {many}")
    summary = _join(parts)
    return (
        Letter(
            template="digest",
            subject=f"Ihre Übersicht vom {german_date(day)}: {summary}",
            kind="digest",
            values={
                "day": german_date(day),
                "summary": summary,
                "sections": sections,
                "hour": hour,
                "link_lifetime": links.lifetime,
            },
        ),
        counts,
    )


def _join(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " und " + parts[-1]
