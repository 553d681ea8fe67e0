"""`/betriebe/fotos/<token>`: a company's photos for its page on the website, over HTTP.

The signed token (`photo_upload_url` in the answer to `presentation.publish`) names the
company and expires; it is the whole credential, like the episode's upload link. POST
takes one photo (multipart/form-data: `foto`, and `alt`, the German description a
screen reader reads), checked and resized by `files/photos.py`; GET lists the company's
photos; DELETE `<token>/<photo id>` removes one. Each change marks the company, so the
next build (at once) shows its page with the photos, or without the one removed.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from diko_media import store
from diko_media.files import photos as photo_files
from diko_media.files.images import ImageRefused
from diko_media.signing import LinkExpired, LinkInvalid, Signer
from diko_media.site import photos
from diko_media.site import store as site_store

UPLOAD_PATH = "/betriebe/fotos/{token}"
PHOTO_PATH = "/betriebe/fotos/{token}/{photo_id}"
#: Room for the multipart boundaries, headers and the alt text around the file.
OVERHEAD = 16 * 1024
TYPES = {"image/jpeg", "image/png", "image/webp", "application/octet-stream"}


class PhotoUploads:
    def __init__(self, db: AsyncDatabase, signer: Signer, max_bytes: int, site_url: str) -> None:
        self.db = db
        self.signer = signer
        self.max_bytes = max_bytes
        self.site_url = site_url.rstrip("/")

    def routes(self) -> list[Route]:
        return [
            Route(UPLOAD_PATH, self.upload, methods=["POST"]),
            Route(UPLOAD_PATH, self.listing, methods=["GET"]),
            Route(PHOTO_PATH, self.remove, methods=["DELETE"]),
        ]

    async def _company(self, request: Request) -> str | Response:
        try:
            company_id = self.signer.read(request.path_params["token"])
        except LinkExpired:
            return refusal(410, "link_expired", "Der Link für die Fotos ist abgelaufen: "
                           "presentation.publish gibt einen neuen.")  # fmt: skip
        except LinkInvalid:
            return refusal(403, "forbidden", "Dieser Link für die Fotos ist ungültig.")
        if await store.find_company(self.db, company_id) is None:
            return refusal(404, "not_found", f"Einen Betrieb {company_id} kennt media nicht.")
        return company_id

    async def upload(self, request: Request) -> Response:
        company = await self._company(request)
        if isinstance(company, Response):
            return company
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            return refusal(411, "length_required", "Bitte mit Content-Length senden.")
        if int(length) > self.max_bytes + OVERHEAD:
            return refusal(413, "too_large", f"Das Foto ist größer als erlaubt (höchstens "
                           f"{self.max_bytes // 1_000_000} MB).")  # fmt: skip
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return refusal(
                415, "unsupported_media_type", "Bitte als multipart/form-data: foto und alt."
            )
        try:
            form = await request.form(max_files=1, max_fields=2)
        except Exception:  # noqa: BLE001 - malformed multipart: say so
            return refusal(400, "validation_error",
                           "Der Inhalt ist kein lesbares multipart/form-data.")  # fmt: skip
        try:
            upload, alt = form.get("foto"), form.get("alt")
            if not isinstance(upload, UploadFile):
                return refusal(400, "validation_error", "Bitte ein Foto im Feld foto senden.")
            declared = (upload.content_type or "").split(";")[0].strip()
            if declared and declared not in TYPES:
                return refusal(415, "unsupported_media_type", "Das Feld foto erwartet ein "
                               f"JPEG-, PNG- oder WebP-Bild, nicht {declared}.")  # fmt: skip
            data = await upload.read()
        finally:
            await form.close()
        if len(data) > self.max_bytes:
            return refusal(413, "too_large", "Das Foto ist größer als erlaubt.")
        try:
            text = photo_files.check_alt(alt if isinstance(alt, str) else "")
            prepared = await asyncio.to_thread(photo_files.prepare, data)
        except ImageRefused as refused:
            return refusal(400, "validation_error", str(refused))
        id_ = photos.photo_id(company, prepared.sha256)
        kept = await photos.of_company(self.db, company)
        if len(kept) >= photos.MAX_PER_COMPANY and id_ not in {d["_id"] for d in kept}:
            return refusal(409, "conflict", f"Ein Betrieb zeigt höchstens "
                           f"{photos.MAX_PER_COMPANY} Fotos: Bitte nehmen Sie erst eines "
                           "heraus.")  # fmt: skip
        now = datetime.now(UTC)
        await photos.apply(self.db, [*photos.keep(company, text, prepared, now),
                                     *_rebuild(company, now)])  # fmt: skip
        document = await self.db[photos.PHOTOS].find_one({"_id": id_})
        return JSONResponse(self._described(document or {}), status_code=201)

    async def listing(self, request: Request) -> Response:
        company = await self._company(request)
        if isinstance(company, Response):
            return company
        kept = await photos.of_company(self.db, company)
        return JSONResponse({"company_id": company,
                             "photos": [self._described(d) for d in kept]})  # fmt: skip

    async def remove(self, request: Request) -> Response:
        company = await self._company(request)
        if isinstance(company, Response):
            return company
        id_ = request.path_params["photo_id"]
        gone = await self.db[photos.PHOTOS].delete_one({"_id": id_, "company_id": company})
        if gone.deleted_count == 0:
            return refusal(404, "not_found", "Dieses Foto gibt es bei diesem Betrieb nicht.")
        now = datetime.now(UTC)
        await photos.apply(self.db, [*photos.forget_files([id_]), *_rebuild(company, now)])
        return JSONResponse({"photo_id": id_, "removed": True})

    def _described(self, document: dict[str, Any]) -> dict[str, Any]:
        photo = photos.shown_photo(document)
        return {
            "photo_id": photo.photo_id,
            "alt": photo.alt,
            "width": document.get("width"),
            "height": document.get("height"),
            "variants": [
                {"width": v.width, "height": v.height, "url": f"{self.site_url}/{v.path}"}
                for v in photo.variants
            ],
        }


def _rebuild(company_id: str, now: datetime) -> list[Any]:
    return site_store.changed("company", company_id, f"photo-{uuid.uuid4().hex}", now)


def refusal(status: int, code: str, message: str) -> JSONResponse:
    body = {"ok": False, "error": {"code": code, "message": message, "details": []}}
    return JSONResponse(body, status_code=status)
