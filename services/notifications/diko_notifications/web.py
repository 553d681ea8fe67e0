"""The pages behind the accept/decline links in e-mails.

GET shows where the proposal stands, naming the applicant and the position as the
e-mail did (`proposals.py`): a confirmation form while the decision is open, who decided
and when once it is taken. Mail scanners and link previews fetch every link in an
e-mail, so GET never decides anything. POST sends `match.decide` to matching, unless the
service already knows the proposal is decided, and shows the outcome: after matching's
answer it waits a moment for the decision's event, which says who took it and when.
The token in the path is the whole authorisation, so the pages are never cached and
never leak it as a referrer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from starlette.requests import Request
from starlette.responses import HTMLResponse

from diko_notifications import domain, store
from diko_notifications.domain import Action, ActionLinks, LinkExpired, LinkInvalid, Page, Viewer
from diko_notifications.proposals import ProposalRecord
from diko_notifications.render import render_page
from diko_shared.contract.matching import DecideMatch
from diko_shared.messaging.publisher import Publisher

log = logging.getLogger(__name__)

ACTION_PATH = "/actions/{token}"
#: The action pages live at /actions/{token}: the brand's files are one level up.
BRAND_ROOT = "../brand"
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
}
#: How long a POST waits, after matching answered, for the decision's event to arrive.
EVENT_WAIT_S = 5.0
EVENT_POLL_S = 0.1


class ActionPages:
    """GET: where the proposal stands (and the form, while open); POST: the decision."""

    def __init__(
        self, links: ActionLinks, publisher: Publisher, db: AsyncDatabase, timeout_s: float
    ) -> None:
        self._links = links
        self._publisher = publisher
        self._db = db
        self._timeout_s = timeout_s

    async def confirm(self, request: Request) -> HTMLResponse:
        action = await self._action(request)
        if isinstance(action, Page):
            return _page(action)
        record = await self._record(action.proposal_id)
        return _page(domain.confirm_page(record, await self._viewer(action, record)))

    async def decide(self, request: Request) -> HTMLResponse:
        action = await self._action(request)
        if isinstance(action, Page):
            return _page(action)
        record = await self._record(action.proposal_id)
        settled = domain.settled_page(record, await self._viewer(action, record))
        if settled is not None:
            return _page(settled)
        command = DecideMatch(
            proposal_id=action.proposal_id, decision=action.decision, decided_by=action.staff_id
        )
        try:
            reply = await self._publisher.request(
                command, subject=action.proposal_id, timeout=self._timeout_s
            )
        except TimeoutError:
            return _page(domain.UNCONFIRMED)
        except Exception as exc:  # noqa: BLE001 - the broker is unreachable: try again later
            log.warning("could not send match.decide", extra={"error": repr(exc)})
            return _page(domain.NOT_SENT)
        if _may_learn_more(reply):
            record = await self._await_outcome(action.proposal_id) or record
        return _page(domain.answer_page(reply, record, await self._viewer(action, record)))

    async def _record(self, proposal_id: str) -> ProposalRecord | None:
        """What the service knows about the proposal; None if nothing (not, or no longer,
        kept) or the database does not answer: the page still works, with the id alone."""
        try:
            return await store.find_proposal(self._db, proposal_id)
        except PyMongoError as exc:
            log.warning("could not read the proposal", extra={"error": repr(exc)})
            return None

    async def _await_outcome(self, proposal_id: str) -> ProposalRecord | None:
        """The record once it holds the decision (or a filled position), or None in time."""
        try:
            async with asyncio.timeout(EVENT_WAIT_S):
                while True:
                    record = await self._record(proposal_id)
                    if record is not None and (record.decision or record.position_filled):
                        return record
                    await asyncio.sleep(EVENT_POLL_S)
        except TimeoutError:
            return None

    async def _viewer(self, action: Action, record: ProposalRecord | None) -> Viewer:
        """The link's action, with the name of whoever decided (if the service knows them)."""
        names: dict[str, str] = {}
        decided_by = record.decision.decided_by if record and record.decision else None
        if decided_by and decided_by != action.staff_id:
            try:
                name = await store.staff_name(self._db, decided_by)
            except PyMongoError:
                name = None
            if name:
                names[decided_by] = name
        return Viewer(action, names)

    async def _action(self, request: Request) -> Action | Page:
        """The link's action, or the page that says why it cannot be taken."""
        try:
            return self._links.read(request.path_params["token"])
        except LinkExpired as expired:
            return await self._expired(expired)
        except LinkInvalid:
            return domain.LINK_INVALID

    async def _expired(self, expired: LinkExpired) -> Page:
        """An expired link decides nothing, but says where its proposal stands."""
        if expired.action is None:
            return domain.expired_page(None, None, self._links.lifetime)
        record = await self._record(expired.action.proposal_id)
        viewer = await self._viewer(expired.action, record)
        return domain.expired_page(record, viewer, self._links.lifetime)


def _may_learn_more(reply: Mapping[str, Any]) -> bool:
    """Matching decided (or refused as decided already): its event will say who and when."""
    return bool(reply.get("ok")) or (reply.get("error") or {}).get("code") == "conflict"


def _page(page: Page) -> HTMLResponse:
    html = render_page("action.html", {"page": page, "brand_root": BRAND_ROOT})
    return HTMLResponse(html, status_code=page.status, headers=HEADERS)
