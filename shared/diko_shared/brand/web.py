"""The brand's files over HTTP, so that a service's pages load nothing from another host.

`routes()` gives a service `/brand/brand.css` (Lato's faces and the colours as CSS
custom properties), `/brand/fonts/Lato-*.ttf`, `/brand/logo.svg`, `/brand/logo.png` and
`/brand/logo-mail.png`.
The files change only with a release: they are sent with an ETag and may be cached for
a week; `If-None-Match` is answered with 304.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from diko_shared.brand import FONT_FILES, LOGO_MAIL_PNG, LOGO_PNG, LOGO_SVG, stylesheet

PREFIX = "/brand"
MAX_AGE_S = 7 * 86_400


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str

    @property
    def etag(self) -> str:
        return f'"{hashlib.sha256(self.body).hexdigest()}"'


@cache
def assets() -> Mapping[str, Asset]:
    """Every file by its path under `/brand`, read once per process."""
    files = {
        "brand.css": Asset(stylesheet().encode(), "text/css; charset=utf-8"),
        "logo.svg": Asset(LOGO_SVG.read_bytes(), "image/svg+xml"),
        "logo.png": Asset(LOGO_PNG.read_bytes(), "image/png"),
        "logo-mail.png": Asset(LOGO_MAIL_PNG.read_bytes(), "image/png"),
    }
    for path in FONT_FILES.values():
        files[f"fonts/{path.name}"] = Asset(path.read_bytes(), "font/ttf")
    return files


async def _serve(request: Request) -> Response:
    asset = assets().get(request.path_params["path"])
    if asset is None:
        return PlainTextResponse("Diese Datei gibt es nicht.", status_code=404)
    headers = {"ETag": asset.etag, "Cache-Control": f"public, max-age={MAX_AGE_S}"}
    sent = request.headers.get("if-none-match", "")
    if asset.etag in (tag.strip() for tag in sent.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


def routes() -> list[Route]:
    """The routes to add to a service that shows pages (`Service.add_routes(*routes())`)."""
    return [Route(f"{PREFIX}/{{path:path}}", _serve, methods=["GET"])]
