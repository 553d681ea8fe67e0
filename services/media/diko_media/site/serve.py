"""The website over HTTP under /site: the current build's files, with a Content-Security-
Policy that allows nothing but the site's own files (no scripts at all), ETags and
caching. In compose, nginx serves the same directory with the same headers."""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

PREFIX = "/site"
#: The pages need their own styles, fonts and images, and nothing else: not one script.
CSP = (
    "default-src 'none'; style-src 'self'; font-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".xml": "application/xml; charset=utf-8", ".txt": "text/plain; charset=utf-8",
         ".svg": "image/svg+xml", ".ttf": "font/ttf", ".png": "image/png",
         ".webp": "image/webp"}  # fmt: skip


class SiteFiles:
    def __init__(self, root: Path) -> None:
        self.current = root / "current"

    def routes(self) -> list[Route]:
        return [
            Route(PREFIX, self.redirect, methods=["GET", "HEAD"]),
            Route(PREFIX + "/{path:path}", self.serve, methods=["GET", "HEAD"]),
        ]

    async def redirect(self, request: Request) -> Response:
        return RedirectResponse(PREFIX + "/", status_code=301)

    async def serve(self, request: Request) -> Response:
        if not self.current.exists():
            return PlainTextResponse(
                "Die Website wird gerade erstellt. Bitte versuchen Sie es gleich noch einmal.",
                status_code=503,
                headers={"Retry-After": "5"},
            )
        base = self.current.resolve()
        path = request.path_params["path"]
        target = (base / path).resolve()
        if base not in target.parents and target != base:
            return self._missing(base)
        if target.is_dir():
            if path and not path.endswith("/"):
                return RedirectResponse(f"{PREFIX}/{path}/", status_code=301)
            target = target / "index.html"
        elif not target.is_file() and not path.endswith("/"):
            target = target.with_name(target.name + ".html")  # pages without `.html`
        if not target.is_file():
            return self._missing(base)
        body = target.read_bytes()
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        age = 86_400 if path.startswith(("assets/", "fotos/")) else 300
        headers = {**HEADERS, "ETag": etag, "Cache-Control": f"public, max-age={age}"}
        if etag in (t.strip() for t in request.headers.get("if-none-match", "").split(",")):
            return Response(status_code=304, headers=headers)
        media_type = TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0]
        return Response(body, media_type=media_type, headers=headers)

    def _missing(self, base: Path) -> Response:
        page = base / "404.html"
        body = page.read_bytes() if page.is_file() else b"Diese Seite gibt es nicht."
        return Response(body, status_code=404, media_type=TYPES[".html"], headers=HEADERS)
