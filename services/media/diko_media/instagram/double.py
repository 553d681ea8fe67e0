"""A double of the Instagram Graph API's content publishing, for tests and `make run`.

The real API cannot be reached from here, so this is a small HTTP server of our own on
loopback that answers exactly the calls media makes, with Meta's shapes of answers and
errors:

- `POST /<version>/<ig-user>/media`: an image container (`image_url`, `caption`,
  `alt_text`, `is_carousel_item`) or a carousel (`media_type=CAROUSEL`, `children`). Like
  Instagram it fetches the image (it must be a JPEG, 320 to 1440 px wide, aspect ratio
  4:5 to 1.91:1) and checks the caption (2,200 characters, 30 hashtags);
- `GET /<version>/<container>?fields=status_code`: `IN_PROGRESS` for as many polls as it
  was told, then `FINISHED`; `PUBLISHED` once published; `EXPIRED` after 24 hours;
- `POST /<version>/<ig-user>/media_publish` (`creation_id`): publishes a finished
  container once (a second publish of it is refused), counting against the limit;
- `GET /<version>/<ig-user>/content_publishing_limit`: `quota_usage` and `config`;
- `GET /<version>/<media>?fields=permalink`.

Errors are `{"error": {"message", "type", "code", "error_subcode", "is_transient",
"fbtrace_id"}}`: an unknown or expired token gives code 190 (subcode 467 or 463), a
throttled call code 4, the publishing limit code 9 with subcode 2207042.

Tests steer it under `/_double/`: `fail` (the next n calls of an endpoint fail with a
named error), `expire_token`, `usage` (the limit's usage), `processing` (polls until
finished), `hold` (media_publish publishes, then keeps its answer back until `release`,
so that a test can kill the caller in between), `state` (what was created and
published) and `reset`.

    python -m diko_media.instagram.double --port 8099 --user 17841400000000001 --token …
"""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import re
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

VERSION = "v24.0"
QUOTA_TOTAL = 50
QUOTA_WINDOW_S = 86_400
CONTAINER_LIFETIME_S = 86_400
HASHTAG = re.compile(r"(?<!\w)#\w+")

ERRORS: dict[str, tuple[int, dict[str, Any]]] = {
    "token_expired": (
        400,
        {
            "message": "Error validating access token: Session has expired.",
            "type": "OAuthException",
            "code": 190,
            "error_subcode": 463,
        },
    ),
    "token_invalid": (
        400,
        {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190,
         "error_subcode": 467},
    ),
    "rate_limit": (
        400,
        {"message": "Application request limit reached", "type": "OAuthException", "code": 4,
         "is_transient": True},
    ),
    "publishing_limit": (
        400,
        {
            "message": "Application request limit reached",
            "type": "OAuthException",
            "code": 9,
            "error_subcode": 2207042,
            "is_transient": False,
            "error_user_title": "Publishing limit reached",
            "error_user_msg": "You reached maximum number of posts that is allowed to be "
            "published by Content Publishing API.",
        },
    ),
    "server": (
        500,
        {"message": "An unknown error has occurred.", "type": "OAuthException", "code": 1,
         "is_transient": True},
    ),
    "permission": (
        403,
        {"message": "(#10) Application does not have permission for this action",
         "type": "OAuthException", "code": 10},
    ),
}  # fmt: skip


def _error(status: int, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(
        {"error": {**body, "fbtrace_id": f"A{int(time.time() * 1000) % 10**12:012d}"}},
        status_code=status,
    )


def _invalid(message: str, subcode: int | None = None, title: str = "") -> JSONResponse:
    body: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": 36003 if subcode else 100,
        "is_transient": False,
    }
    if subcode:
        body["error_subcode"] = subcode
    if title:
        body["error_user_title"] = title
    return _error(400, body)


@dataclass
class Container:
    id: str
    kind: str  # IMAGE, CAROUSEL
    created: float
    image_url: str | None = None
    caption: str | None = None
    alt_text: str | None = None
    carousel_item: bool = False
    children: list[str] = field(default_factory=list)
    polls_left: int = 0
    media_id: str | None = None


@dataclass
class Double:
    """The double's state: one Instagram professional account."""

    user_id: str
    token: str
    ids: itertools.count = field(default_factory=lambda: itertools.count(17_900_000_000_000_001))
    containers: dict[str, Container] = field(default_factory=dict)
    media: dict[str, dict[str, Any]] = field(default_factory=dict)
    published: list[float] = field(default_factory=list)
    failures: dict[str, list[str]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    usage_offset: int = 0
    processing_polls: int = 0
    token_expired: bool = False
    hold: bool = False
    released: asyncio.Event = field(default_factory=asyncio.Event)
    held: int = 0

    def next_id(self) -> str:
        return str(next(self.ids))

    def usage(self) -> int:
        now = time.time()
        return self.usage_offset + sum(1 for at in self.published if now - at < QUOTA_WINDOW_S)

    def check(self, request: Request, form: dict[str, Any], endpoint: str) -> JSONResponse | None:
        """Count the call; the token, then any failure a test asked for."""
        self.calls[endpoint] = self.calls.get(endpoint, 0) + 1
        token = form.get("access_token") or request.query_params.get("access_token")
        if token != self.token:
            return _error(*ERRORS["token_invalid"])
        if self.token_expired:
            return _error(*ERRORS["token_expired"])
        queued = self.failures.get(endpoint) or self.failures.get("any")
        if queued:
            return _error(*ERRORS[queued.pop(0)])
        return None


def build(user_id: str, token: str) -> Starlette:
    double = Double(user_id, token)

    async def form_of(request: Request) -> dict[str, Any]:
        if request.method == "POST":
            return dict(await request.form())
        return dict(request.query_params)

    async def create(request: Request) -> JSONResponse:
        form = await form_of(request)
        if request.path_params["user"] != double.user_id:
            return _invalid("Unsupported post request. Object does not exist.")
        refused = double.check(request, form, "media")
        if refused is not None:
            return refused
        caption = form.get("caption")
        if caption is not None:
            if len(caption) > 2200:
                return _invalid("The caption is too long.", 2207035)
            if len(HASHTAG.findall(caption)) > 30:
                return _invalid("Too many hashtags in the caption.", 2207036)
        if form.get("media_type") == "CAROUSEL":
            children = [c for c in str(form.get("children", "")).split(",") if c]
            if not 2 <= len(children) <= 10:
                return _invalid("A carousel needs 2 to 10 children.", 2207028)
            for child in children:
                found = double.containers.get(child)
                if found is None or not found.carousel_item:
                    return _invalid(f"Child {child} is not a carousel item container.", 2207028)
            container = Container(
                double.next_id(), "CAROUSEL", time.time(), caption=caption, children=children,
                polls_left=double.processing_polls,
            )  # fmt: skip
        else:
            image_url = str(form.get("image_url", ""))
            problem = await _check_image(image_url)
            if problem is not None:
                return problem
            container = Container(
                double.next_id(),
                "IMAGE",
                time.time(),
                image_url=image_url,
                caption=caption,
                alt_text=form.get("alt_text"),
                carousel_item=form.get("is_carousel_item") == "true",
                polls_left=double.processing_polls,
            )
        double.containers[container.id] = container
        return JSONResponse({"id": container.id})

    async def read(request: Request) -> JSONResponse:
        form = await form_of(request)
        node = request.path_params["node"]
        refused = double.check(request, form, "read")
        if refused is not None:
            return refused
        fields = str(form.get("fields", ""))
        if node in double.containers:
            container = double.containers[node]
            if container.media_id:
                status = "PUBLISHED"
            elif time.time() - container.created > CONTAINER_LIFETIME_S:
                status = "EXPIRED"
            elif container.polls_left > 0:
                container.polls_left -= 1
                status = "IN_PROGRESS"
            else:
                status = "FINISHED"
            return JSONResponse({"status_code": status, "id": node})
        if node in double.media:
            media = double.media[node]
            answer: dict[str, Any] = {"id": node}
            for name in fields.split(","):
                if name in media:
                    answer[name] = media[name]
            return JSONResponse(answer)
        return _invalid(f"Unsupported get request. Object with ID '{node}' does not exist.")

    async def limit(request: Request) -> JSONResponse:
        form = await form_of(request)
        refused = double.check(request, form, "content_publishing_limit")
        if refused is not None:
            return refused
        return JSONResponse(
            {
                "data": [
                    {
                        "quota_usage": double.usage(),
                        "config": {"quota_total": QUOTA_TOTAL, "quota_duration": QUOTA_WINDOW_S},
                    }
                ]
            }
        )

    async def publish(request: Request) -> JSONResponse:
        form = await form_of(request)
        refused = double.check(request, form, "media_publish")
        if refused is not None:
            return refused
        container = double.containers.get(str(form.get("creation_id", "")))
        if container is None or container.carousel_item:
            return _invalid("The media container does not exist.", 2207027)
        if container.media_id is not None:
            return _invalid("The media has already been published.", 2207006)
        if container.polls_left > 0:
            return _invalid("Media ID is not available: the media is not ready.", 2207027)
        if double.usage() >= QUOTA_TOTAL:
            return _error(*ERRORS["publishing_limit"])
        media_id = double.next_id()
        container.media_id = media_id
        double.published.append(time.time())
        children = [double.containers[c] for c in container.children]
        double.media[media_id] = {
            "id": media_id,
            "caption": container.caption,
            "media_type": "CAROUSEL_ALBUM" if container.children else "IMAGE",
            "permalink": f"https://www.instagram.com/p/D{int(media_id) % 10**10:010d}/",
            "alt_texts": [c.alt_text for c in children] or [container.alt_text],
            "images": [c.image_url for c in children] or [container.image_url],
            "container": container.id,
        }
        if double.hold:
            double.held += 1
            await double.released.wait()
        return JSONResponse({"id": media_id})

    async def control(request: Request) -> JSONResponse:
        action = request.path_params["action"]
        body = await request.json() if request.method == "POST" else {}
        if action == "fail":
            queue = double.failures.setdefault(body.get("endpoint", "any"), [])
            queue.extend([body["error"]] * int(body.get("times", 1)))
        elif action == "expire_token":
            double.token_expired = bool(body.get("expired", True))
        elif action == "usage":
            double.usage_offset = int(body["usage"])
        elif action == "processing":
            double.processing_polls = int(body["polls"])
            if body.get("now"):
                for container in double.containers.values():
                    container.polls_left = double.processing_polls
        elif action == "hold":
            double.hold = True
            double.released.clear()
        elif action == "release":
            double.hold = False
            double.released.set()
        elif action == "reset":
            double.containers.clear()
            double.media.clear()
            double.published.clear()
            double.failures.clear()
            double.calls.clear()
            double.usage_offset = double.processing_polls = double.held = 0
            double.token_expired = double.hold = False
            double.released.set()
        return JSONResponse(
            {
                "containers": {
                    c.id: {
                        "kind": c.kind,
                        "image_url": c.image_url,
                        "caption": c.caption,
                        "alt_text": c.alt_text,
                        "carousel_item": c.carousel_item,
                        "children": c.children,
                        "media_id": c.media_id,
                    }
                    for c in double.containers.values()
                },
                "media": double.media,
                "calls": double.calls,
                "usage": double.usage(),
                "held": double.held,
            }
        )

    return Starlette(
        routes=[
            Route("/_double/{action}", control, methods=["GET", "POST"]),
            Route(f"/{VERSION}/{{user}}/media", create, methods=["POST"]),
            Route(f"/{VERSION}/{{user}}/media_publish", publish, methods=["POST"]),
            Route(f"/{VERSION}/{{user}}/content_publishing_limit", limit, methods=["GET"]),
            Route(f"/{VERSION}/{{node}}", read, methods=["GET"]),
        ]
    )


async def _check_image(url: str) -> JSONResponse | None:
    """Fetch the image as Instagram does, and apply its rules for feed images."""
    try:
        async with httpx.AsyncClient(timeout=30.0) as client:
            response = await client.get(url)
    except httpx.HTTPError:
        return _invalid("The image could not be downloaded.", 2207003)
    if response.status_code != 200:
        return _invalid(f"The image could not be downloaded (HTTP {response.status_code}).",
                        2207052)  # fmt: skip
    try:
        image = Image.open(io.BytesIO(response.content))
    except OSError:
        return _invalid("The image format is not supported.", 2207026)
    if image.format != "JPEG":
        return _invalid("Only JPEG images are supported.", 2207026, "Unsupported format")
    if not 320 <= image.width <= 1440:
        return _invalid("The image width is out of range.", 2207009)
    ratio = image.width / image.height
    if not 0.8 - 1e-3 <= ratio <= 1.91 + 1e-3:
        return _invalid("The aspect ratio is not supported.", 2207009)
    if len(response.content) > 8 * 1024 * 1024:
        return _invalid("The image size is too large.", 2207004)
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A double of the Instagram Graph API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--user", default="17841400000000001")
    parser.add_argument("--token", default="double-token")
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        parser.error("the double serves loopback only")
    uvicorn.run(build(args.user, args.token), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
