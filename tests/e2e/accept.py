"""Staff accept the way a person does: the link in the proposal e-mail, then the form.

The story's default sends `match.decide` itself; this follows the e-mail instead, so that
the signed link and the notifications service's pages are part of the end-to-end path.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

import httpx

from diko_shared.contract.matching import GetShortlist
from diko_shared.story import Decide, Story, StoryResult
from harness.bus import Bus
from harness.mailpit import Mailpit
from harness.waiting import eventually

ACCEPT_LINE = re.compile(r"Vorschlag annehmen: (\S+)")
FORM = re.compile(r'<form method="post"(?: action="([^"]*)")?>')


async def proposal_mail(mailpit: Mailpit, result: StoryResult) -> dict[str, Any]:
    """The proposal e-mail to the story's staff member, in full."""

    async def found() -> list[dict[str, Any]]:
        mails = await mailpit.search(f"to:{result.staff_email}")
        return [m for m in mails if "Vorschlag" in m["Subject"]]

    [summary] = await eventually(found, timeout=30, what="the proposal e-mail")
    return await mailpit.message(summary["ID"])


async def candidate_status(bus: Bus, result: StoryResult) -> str:
    shortlist = await bus.ok(GetShortlist(position_id=result.position_id))
    [status] = [
        c["status"]
        for c in shortlist["candidates"]
        if c["applicant"]["applicant_id"] == result.applicant_id
    ]
    return str(status)


def accept_by_link(mailpit: Mailpit, bus: Bus) -> Decide:
    """GET the accept link (a confirmation page, no decision yet), then POST its form."""

    async def decide(story: Story) -> None:
        result = story.result
        mail = await proposal_mail(mailpit, result)
        links = ACCEPT_LINE.findall(mail["Text"])
        assert links, mail["Text"]
        async with httpx.AsyncClient(timeout=10) as http:
            pages = [(link, await http.get(link)) for link in links]
            [(link, page)] = [(u, p) for u, p in pages if result.proposal_id in p.text]
            assert page.status_code == 200, page.text
            assert page.headers["cache-control"] == "no-store"
            form = FORM.search(page.text)
            assert form is not None, page.text
            assert "Vorschlag annehmen" in page.text

            # Opening the link (as a mail scanner would) decided nothing.
            def ours(data: dict[str, Any]) -> bool:
                return data.get("proposal_id") == result.proposal_id

            assert story.watch.count("match.accepted", ours) == 0
            assert await candidate_status(bus, result) == "proposed"

            answer = await http.post(urljoin(link, form.group(1) or ""))
        assert answer.status_code == 200, answer.text
        assert "Vorschlag angenommen" in answer.text

    return decide
