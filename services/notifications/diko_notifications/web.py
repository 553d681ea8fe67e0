"""The pages behind the accept/decline links in e-mails.

GET only shows a confirmation form, naming the applicant and the position as the
e-mail did (`proposals.py`): mail scanners and link previews fetch every link in an
e-mail, and must not decide anything. POST sends `match.decide` to matching and
shows its answer. The token in the path is the whole authorisation, so the pages are
never cached and never leak it as a referrer.
"""

from __future__ import annotations

import logging

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from starlette.requests import Request
from starlette.responses import HTMLResponse

from diko_notifications import domain, store
from diko_notifications.domain import Action, ActionLinks, LinkExpired, LinkInvalid, Page
from diko_notifications.proposals import ProposalSummary
from diko_notifications.render import render_page
from diko_shared.contract.matching import DecideMatch
from diko_shared.messaging.publisher import Publisher

log = logging.getLogger(__name__)

ACTION_PATH = "/actions/{token}"
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
}


class ActionPages:
    """GET: the confirmation form; POST: the decision, sent to matching."""

    def __init__(
        self, links: ActionLinks, publisher: Publisher, db: AsyncDatabase, timeout_s: float
    ) -> None:
        self._links = links
        self._publisher = publisher
        self._db = db
        self._timeout_s = timeout_s

    async def confirm(self, request: Request) -> HTMLResponse:
        action = self._action(request)
        if isinstance(action, Page):
            return _page(action)
        html = render_page(
            "action_confirm.html",
            {
                "title": domain.CONFIRM_BUTTON[action.decision],
                "proposal_id": action.proposal_id,
                "proposal": await self._summary(action.proposal_id),
                "decision": action.decision,
                "verb": domain.CONFIRM_VERB[action.decision],
                "button": domain.CONFIRM_BUTTON[action.decision],
            },
        )
        return HTMLResponse(html, headers=HEADERS)

    async def decide(self, request: Request) -> HTMLResponse:
        action = self._action(request)
        if isinstance(action, Page):
            return _page(action)
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
        return _page(domain.decision_page(reply))

    async def _summary(self, proposal_id: str) -> ProposalSummary | None:
        """What the e-mail said about the proposal; None if it is not (or no longer) kept,
        or the database does not answer: the page still works, with the id alone."""
        try:
            return await store.find_proposal(self._db, proposal_id)
        except PyMongoError as exc:
            log.warning("could not read the proposal", extra={"error": repr(exc)})
            return None

    def _action(self, request: Request) -> Action | Page:
        try:
            return self._links.read(request.path_params["token"])
        except LinkExpired:
            return domain.LINK_EXPIRED
        except LinkInvalid:
            return domain.LINK_INVALID


def _page(page: Page) -> HTMLResponse:
    html = render_page(
        "action_result.html",
        {"title": page.title, "message": page.message, "detail": page.detail},
    )
    return HTMLResponse(html, status_code=page.status, headers=HEADERS)
