"""Company photos on the website: what media keeps of them and how the site names them.

`company_photos` holds one document per photo (`fot_…`, from the company and the file's
SHA-256, so the same upload twice is one photo): the company, the alt text, the size and
each WebP variant's width, height and SHA-256. `company_photo_files` holds the variants'
bytes (`<photo id>/<width>`), read only when a build writes a photo it does not have yet.
A build copies the photos of the companies it shows into `fotos/` and no others: a
withdrawn consent or an erasure leaves them out of the next build.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import DeleteMany, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from diko_media.files.photos import Prepared
from diko_shared.store.group_commit import Write

PHOTOS = "company_photos"
FILES = "company_photo_files"
#: How many photos one company's page shows; more is refused.
MAX_PER_COMPANY = 12
FOLDER = "fotos"


def photo_id(company_id: str, sha256: str) -> str:
    return "fot_" + hashlib.sha256(f"{company_id}/{sha256}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Shown:
    """One variant as the site serves it."""

    path: str
    width: int
    height: int
    sha256: str
    file_id: str


@dataclass(frozen=True)
class Photo:
    photo_id: str
    alt: str
    variants: tuple[Shown, ...]

    @property
    def largest(self) -> Shown:
        return self.variants[-1]

    @property
    def smallest(self) -> Shown:
        return self.variants[0]


def shown_photo(document: dict[str, Any]) -> Photo:
    id_ = document["_id"]
    variants = tuple(
        Shown(
            path=f"{FOLDER}/{id_}-{v['width']}.webp",
            width=int(v["width"]),
            height=int(v["height"]),
            sha256=v["sha256"],
            file_id=f"{id_}/{v['width']}",
        )
        for v in sorted(document.get("variants") or [], key=lambda v: v["width"])
    )
    return Photo(photo_id=id_, alt=document["alt"], variants=variants)


def keep(company_id: str, alt: str, prepared: Prepared, at: datetime) -> list[Write]:
    """The files first, then the photo that names them: a process that dies in between
    leaves files nobody shows, never a photo without its files."""
    id_ = photo_id(company_id, prepared.sha256)
    writes = [
        Write(
            FILES,
            UpdateOne(
                {"_id": f"{id_}/{v.width}"},
                {"$set": {"photo_id": id_, "data": v.data, "sha256": v.sha256}},
                upsert=True,
            ),
        )
        for v in prepared.variants
    ]
    variants = [{"width": v.width, "height": v.height, "sha256": v.sha256}
                for v in prepared.variants]  # fmt: skip
    writes.append(
        Write(
            PHOTOS,
            UpdateOne(
                {"_id": id_},
                {
                    "$set": {
                        "company_id": company_id,
                        "alt": alt,
                        "variants": variants,
                        "width": prepared.width,
                        "height": prepared.height,
                    },
                    "$setOnInsert": {"added_at": at},
                },
                upsert=True,
            ),
        )
    )
    return writes


def forget_files(photo_ids: list[str]) -> list[Write]:
    """The bytes of photos whose documents are gone (after them, for the same reason)."""
    return [Write(FILES, DeleteMany({"photo_id": {"$in": photo_ids}}))] if photo_ids else []


async def of_company(db: AsyncDatabase, company_id: str) -> list[dict[str, Any]]:
    found = await db[PHOTOS].find({"company_id": company_id}).to_list(None)
    return sorted(found, key=lambda d: (d.get("added_at"), d["_id"]))


async def by_company(db: AsyncDatabase) -> dict[str, list[Photo]]:
    """Every company's photos, oldest first (the metadata only, not the bytes)."""
    documents = await db[PHOTOS].find({}).to_list(None)
    documents.sort(key=lambda d: (d.get("added_at"), d["_id"]))
    photos: dict[str, list[Photo]] = {}
    for document in documents:
        photos.setdefault(document["company_id"], []).append(shown_photo(document))
    return photos


async def file_bytes(db: AsyncDatabase, file_id: str) -> bytes | None:
    document = await db[FILES].find_one({"_id": file_id})
    return None if document is None else bytes(document["data"])


async def apply(db: AsyncDatabase, writes: list[Write]) -> None:
    """Writes in order, one collection at a time (no transactions on FerretDB)."""
    for write in writes:
        await db[write.collection].bulk_write([write.op])
