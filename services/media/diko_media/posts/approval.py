"""The approval page behind the link in the e-mail to a company's contact person.

GET shows the post (every slide, the caption, the alt text) and where it stands: the
forms to approve it or reject it with a reason while it is a draft, who decided and
when afterwards. Mail scanners and link previews fetch every link in an e-mail, so GET
never decides anything. POST sends `post.approve` or `post.reject` to media's own queue
(the same command staff send, with `via: link`) and shows the outcome. The token in the
path is the whole authorisation: the page is never cached and never leaks it as a
referrer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from pymongo.asynchronous.database import AsyncDatabase
from starlette.requests import Request
from starlette.responses import HTMLResponse

from diko_media import store
from diko_media.podcast.page import berlin_date
from diko_media.posts.drafting import consent_of
from diko_media.signing import LinkExpired, LinkInvalid, Signer
from diko_shared.contract.media import ApprovePost, RejectPost
from diko_shared.messaging.publisher import Publisher
from diko_shared.text import finalize

log = logging.getLogger(__name__)

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
}
#: Who decided, as the post's history and staff's tools name it.
CONTACT = "Ansprechperson des Betriebs (Link in der E-Mail)"
TIMEOUT_S = 15.0
KIND_TITLES = {
    "azubi_gesucht": "Instagram-Beitrag „Azubi gesucht“",
    "success": "Instagram-Beitrag „Platz besetzt“",
    "episode": "Instagram-Beitrag „Neue Podcastfolge“",
    "presentation": "Instagram-Beitrag „Wir stellen vor“",
    "fair": "Instagram-Beitrag „Bewerberbörse“",
}

#: The page's heading, by the post's state.
TITLES = {
    "draft": "Ihr Beitrag wartet auf Ihre Freigabe",
    "approved": "Ihr Beitrag ist freigegeben",
    "scheduled": "Ihr Beitrag ist freigegeben",
    "publishing": "Ihr Beitrag ist freigegeben",
    "failed": "Ihr Beitrag ist freigegeben",
    "published": "Ihr Beitrag ist veröffentlicht",
    "rejected": "Ihr Beitrag wurde abgelehnt",
    "withheld": "Ihr Beitrag wird nicht veröffentlicht",
}

ENVIRONMENT = Environment(
    loader=PackageLoader("diko_media.posts", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default=True),
    undefined=StrictUndefined,
    finalize=finalize,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass
class Page:
    title: str
    status: int = 200
    message: str = ""
    tone: str = "state"
    post: dict[str, Any] | None = None
    slides: list[dict[str, Any]] = field(default_factory=list)
    can_decide: bool = False
    publish_note: str = ""
    kit_url: str = ""
    kind_title: str = ""

    @property
    def slide_count(self) -> int:
        return len(self.slides)


def where_it_stands(post: dict[str, Any]) -> tuple[str, str]:
    """A sentence about the post's state, and its tone."""
    status = post["status"]
    approval = post.get("approval") or {}
    if status == "draft":
        return "", "state"
    if status in ("approved", "scheduled", "publishing"):
        by = "von Ihnen" if approval.get("via") == "link" else "von DIKO Altmark"
        when = f" am {berlin_date(approval['at'])}" if approval.get("at") else ""
        later = ""
        if status == "scheduled" and post.get("publish_at"):
            later = f" Er erscheint am {berlin_date(post['publish_at'])} auf Instagram."
        return f"Dieser Beitrag wurde{when} {by} freigegeben.{later}", "state"
    if status == "published":
        instagram = post.get("instagram") or {}
        when = berlin_date(instagram["published_at"]) if instagram.get("published_at") else ""
        return f"Dieser Beitrag ist seit dem {when} auf Instagram veröffentlicht.", "state"
    if status == "rejected":
        reason = (post.get("rejection") or {}).get("reason", "")
        return f"Dieser Beitrag wurde abgelehnt. Grund: {reason}", "warn"
    if status == "withheld":
        return (
            "Dieser Beitrag wird nicht veröffentlicht: Die Einwilligung in Beiträge in sozialen "
            "Medien wurde widerrufen.",
            "warn",
        )
    return (
        "Dieser Beitrag ist freigegeben, konnte aber noch nicht veröffentlicht werden; "
        "DIKO Altmark kümmert sich darum.",
        "warn",
    )


class ApprovalPages:
    def __init__(
        self, db: AsyncDatabase, approvals: Signer, kits: Signer, publisher: Publisher
    ) -> None:
        self.db = db
        self.approvals = approvals
        self.kits = kits
        self.publisher = publisher

    async def show(self, request: Request) -> HTMLResponse:
        post = await self._post_of(request)
        if isinstance(post, Page):
            return _html(post)
        return _html(await self._page(post))

    async def decide(self, request: Request) -> HTMLResponse:
        post = await self._post_of(request)
        if isinstance(post, Page):
            return _html(post)
        form = await request.form()
        action = str(form.get("action", ""))
        reason = str(form.get("reason", "")).strip()
        if post["status"] != "draft":
            return _html(await self._page(post))
        if action == "reject" and len(reason) < 3:
            page = await self._page(post, "Bitte schreiben Sie uns kurz, was wir ändern sollen.")
            page.tone, page.status = "warn", 400
            return _html(page)
        if action == "approve":
            command: Any = ApprovePost(post_id=post["_id"], approved_by=CONTACT, via="link")
        elif action == "reject":
            command = RejectPost(
                post_id=post["_id"], reason=reason[:1000], rejected_by=CONTACT, via="link"
            )
        else:
            return _html(await self._page(post, "Bitte wählen Sie „Freigeben“ oder „Ablehnen“."))
        try:
            answer = await self.publisher.request(command, subject=post["_id"], timeout=TIMEOUT_S)
        except TimeoutError:
            page = Page(
                "Ihre Entscheidung ist unterwegs",
                message="Wir haben sie erhalten, die Bestätigung dauert aber länger als sonst. "
                "Laden Sie diese Seite in ein paar Minuten neu.",
                tone="warn",
                status=202,
            )
            return _html(page)
        except Exception as exc:  # noqa: BLE001 - the broker is away: say so, keep nothing
            log.warning("could not send the decision", extra={"error": repr(exc)})
            page = Page(
                "Gerade nicht möglich",
                message="Ihre Entscheidung konnte nicht übermittelt werden. Bitte versuchen "
                "Sie es in ein paar Minuten noch einmal.",
                tone="warn",
                status=503,
            )
            return _html(page)
        fresh = await store.find_post(self.db, post["_id"]) or post
        if answer.get("ok"):
            thanks = (
                "Danke! Sie haben den Beitrag freigegeben. Wir sagen Ihnen Bescheid, wenn er "
                "erscheint."
                if action == "approve"
                else "Danke! Wir haben Ihren Grund erhalten und melden uns mit einem neuen Entwurf."
            )
            return _html(await self._page(fresh, thanks))
        error = (answer.get("error") or {}).get("message", "Das hat nicht geklappt.")
        page = await self._page(fresh, error)
        page.tone = "warn"
        return _html(page)

    async def _post_of(self, request: Request) -> dict[str, Any] | Page:
        token = request.path_params["token"]
        try:
            post_id = self.approvals.read(token)
        except LinkExpired as expired:
            post = await store.find_post(self.db, expired.subject) if expired.subject else None
            message = "Der Link in Ihrer E-Mail ist nicht mehr gültig."
            if post is not None:
                standing, _ = where_it_stands(post)
                message += " " + (standing or "Der Beitrag wartet noch auf eine Freigabe.")
            message += " Bitte wenden Sie sich an DIKO Altmark, wenn Sie etwas ändern möchten."
            return Page("Link abgelaufen", message=message, tone="warn", status=410)
        except LinkInvalid:
            return Page(
                "Link ungültig",
                message="Dieser Link ist unvollständig oder gehört nicht zu DIKO Altmark. Bitte "
                "öffnen Sie ihn direkt aus der E-Mail.",
                tone="warn",
                status=404,
            )
        post = await store.find_post(self.db, post_id)
        if post is None:
            return Page(
                "Beitrag nicht gefunden",
                message="Diesen Beitrag gibt es nicht mehr.",
                tone="warn",
                status=404,
            )
        return post

    async def _page(self, post: dict[str, Any], thanks: str = "") -> Page:
        """The page for the post as it stands; `thanks` replaces the sentence about its state
        right after the contact person decided (or says what went wrong)."""
        company = (
            await store.find_company(self.db, post["company_id"])
            if post.get("company_id")
            else None
        )
        standing, tone = where_it_stands(post)
        if thanks and post["status"] == "rejected":
            reason = (post.get("rejection") or {}).get("reason", "")
            thanks = f"{thanks} Ihr Grund: {reason}" if reason else thanks
        consent = consent_of(post, company)
        publish_note = (
            "Nach Ihrer Freigabe veröffentlicht DIKO Altmark den Beitrag auf seinem "
            "Instagram-Kanal."
            if consent in ("given", "not_needed")
            else "Veröffentlichen wird DIKO Altmark ihn erst, wenn Ihre Einwilligung in "
            "Beiträge in sozialen Medien vorliegt."
        )
        slides = [
            {"url": f"../{post['_id']}/{n}.png", "alt": s["alt_text"], "height": s["height"]}
            for n, s in enumerate(post.get("slides") or [], 1)
        ]
        return Page(
            TITLES.get(post["status"], "Ihr Beitrag"),
            message=thanks or standing,
            tone="state" if thanks else tone,
            post=post,
            slides=slides,
            can_decide=post["status"] == "draft",
            publish_note=publish_note,
            kit_url=f"../paket/{self.kits.token(post['_id'])}",
            kind_title=KIND_TITLES.get(post["kind"], "Instagram-Beitrag"),
        )


def _html(page: Page) -> HTMLResponse:
    html = ENVIRONMENT.get_template("approval.html").render(page=page, brand_root="../../brand")
    return HTMLResponse(html, status_code=page.status, headers=HEADERS)
