"""A small client of the Instagram Graph API's content publishing, as Meta documents it.

Publishing is three steps: create a media container (`POST /<ig-user>/media` with the
JPEG's public `image_url`, the caption and the alt text; a carousel first creates one
container per image with `is_carousel_item=true`, then the carousel's with
`media_type=CAROUSEL` and the `children`), wait until `GET /<container>?fields=status_code`
says `FINISHED`, and `POST /<ig-user>/media_publish` with `creation_id`. The account may
publish only so many containers in 24 hours: `GET /<ig-user>/content_publishing_limit`
tells how many it has used.

Errors come as `{"error": {"message", "type", "code", "error_subcode", "is_transient",
"fbtrace_id", …}}`; `classify` turns one into what media does next.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

# httpx logs each request's URL at INFO; GET requests carry the access token in it.
logging.getLogger("httpx").setLevel(logging.WARNING)

TIMEOUT_S = 30.0


class GraphError(Exception):
    """An error answer of the Graph API (or no answer at all: `error` is then made up)."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(error.get("message", f"HTTP {status}"))
        self.status = status
        self.error = error

    @property
    def code(self) -> int | None:
        value = self.error.get("code")
        return value if isinstance(value, int) else None

    @property
    def subcode(self) -> int | None:
        value = self.error.get("error_subcode")
        return value if isinstance(value, int) else None

    def summary(self) -> dict[str, str | int | bool | None]:
        keys = ("message", "type", "code", "error_subcode", "is_transient", "fbtrace_id")
        return {k: self.error.get(k) for k in keys if k in self.error}


@dataclass(frozen=True)
class Limit:
    used: int
    total: int
    window_s: int


class Graph:
    """The calls media makes, for one Instagram professional account."""

    def __init__(self, base_url: str, user_id: str, token: str) -> None:
        self.base = base_url.rstrip("/")
        self.user_id = user_id
        self._token = token

    @property
    def configured(self) -> bool:
        return bool(self.user_id and self._token)

    async def _call(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        data = {**params, "access_token": self._token}
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
                if method == "GET":
                    response = await client.get(f"{self.base}/{path}", params=data)
                else:
                    response = await client.post(f"{self.base}/{path}", data=data)
        except httpx.HTTPError as exc:
            raise GraphError(
                0, {"message": f"no answer: {type(exc).__name__}", "is_transient": True}
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 400 or "error" in body:
            error = body.get("error") if isinstance(body.get("error"), dict) else {}
            if not error:
                error = {"message": f"HTTP {response.status_code}", "is_transient": True}
            raise GraphError(response.status_code, error)
        return body

    async def publishing_limit(self) -> Limit:
        body = await self._call(
            "GET", f"{self.user_id}/content_publishing_limit", {"fields": "quota_usage,config"}
        )
        entry = (body.get("data") or [{}])[0]
        config = entry.get("config") or {}
        return Limit(
            used=int(entry.get("quota_usage", 0)),
            total=int(config.get("quota_total", 50)),
            window_s=int(config.get("quota_duration", 86400)),
        )

    async def create_image(
        self, image_url: str, *, caption: str | None, alt_text: str, carousel_item: bool
    ) -> str:
        params: dict[str, Any] = {"image_url": image_url, "alt_text": alt_text}
        if carousel_item:
            params["is_carousel_item"] = "true"
        if caption is not None:
            params["caption"] = caption
        return str((await self._call("POST", f"{self.user_id}/media", params))["id"])

    async def create_carousel(self, children: list[str], *, caption: str) -> str:
        params = {"media_type": "CAROUSEL", "children": ",".join(children), "caption": caption}
        return str((await self._call("POST", f"{self.user_id}/media", params))["id"])

    async def status(self, container_id: str) -> str:
        body = await self._call("GET", container_id, {"fields": "status_code"})
        return str(body.get("status_code", ""))

    async def publish(self, container_id: str) -> str:
        body = await self._call(
            "POST", f"{self.user_id}/media_publish", {"creation_id": container_id}
        )
        return str(body["id"])

    async def permalink(self, media_id: str) -> str | None:
        body = await self._call("GET", media_id, {"fields": "permalink"})
        value = body.get("permalink")
        return str(value) if value else None


@dataclass(frozen=True)
class Decision:
    """What to do after an error: the failure code, German reason, whether to retry."""

    code: str
    reason: str
    retry: bool
    recreate: bool = False


TOKEN = {190, 102}
PERMISSION = {10, *range(200, 300)}
THROTTLED = {4, 17, 32, 613, 80001, 80002}
PUBLISHING_LIMIT_SUBCODE = 2207042
#: Subcodes Meta documents as "generate a new container and try again".
RECREATE = {2207020, 2207032, 2207053}
#: Subcodes of media Instagram will not take (size, format, aspect ratio).
MEDIA = {2207004, 2207005, 2207009, 2207010, 2207026, 2207052}


def classify(error: GraphError) -> Decision:
    code, sub = error.code, error.subcode
    message = error.error.get("message", "")
    if code in TOKEN or (error.error.get("type") == "OAuthException" and code is None):
        return Decision(
            "token_expired",
            "Der Zugangsschlüssel für Instagram ist abgelaufen oder ungültig "
            f"(Graph API: {message}). Bitte erneuern Sie ihn (DIKO_INSTAGRAM_TOKEN) und planen "
            "Sie den Beitrag neu ein.",
            retry=False,
        )
    if code in PERMISSION:
        return Decision(
            "permission_denied",
            "Dem Zugang fehlt die Berechtigung zum Veröffentlichen auf Instagram "
            f"(Graph API: {message}).",
            retry=False,
        )
    if sub == PUBLISHING_LIMIT_SUBCODE:
        return Decision(
            "publishing_limit",
            "Das Instagram-Konto hat in den letzten 24 Stunden so viele Beiträge "
            "veröffentlicht, wie die Graph API erlaubt; der Beitrag wird später veröffentlicht.",
            retry=True,
        )
    if code in THROTTLED:
        return Decision(
            "rate_limited",
            f"Die Graph API bremst gerade (zu viele Aufrufe: {message}); media versucht es "
            "später noch einmal.",
            retry=True,
        )
    if sub in RECREATE:
        return Decision(
            "container_error",
            f"Instagram konnte den Beitrag nicht vorbereiten ({message}); media legt ihn neu an.",
            retry=True,
            recreate=True,
        )
    if sub in MEDIA:
        return Decision(
            "media_rejected",
            f"Instagram nimmt das Bild nicht an ({message}).",
            retry=False,
        )
    if error.error.get("is_transient") or code in (1, 2, -1, -2) or error.status >= 500:
        return Decision(
            "graph_error",
            f"Die Graph API ist gerade gestört ({message}); media versucht es später noch einmal.",
            retry=True,
        )
    return Decision("graph_error", f"Die Graph API lehnt den Beitrag ab ({message}).", retry=False)
