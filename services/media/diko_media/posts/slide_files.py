"""A post's slide files, PNG and JPEG, rendered at their first request and kept.

A draft stores its slides' fields and look, not their pixels: drawing a slide costs tens
of milliseconds of CPU, and a draft waits for a person before anyone looks at it. The first request
of a slide's PNG (the approval page) draws its pixels once and keeps both files, so the
JPEG that Instagram and the kit get is, byte for byte, what the contact person approved,
even if an upgrade changes the layouts in between. A JPEG asked for first (the kit, the
publisher before Instagram fetches it) is drawn alone: PNG encoding triples the cost.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from pymongo.asynchronous.database import AsyncDatabase

from diko_media import store
from diko_media.posts.drafting import render_stored
from diko_media.posts.look import drawing_look

SlideFormat = Literal["png", "jpeg"]


@dataclass(frozen=True)
class SlideFile:
    body: bytes
    sha256: str


async def slide_file(
    db: AsyncDatabase, post_id: str, number: int, fmt: SlideFormat
) -> SlideFile | None:
    """The slide's file in `fmt`, drawn now if nobody asked before; None without such a slide."""
    # The file asked for, and whether the JPEG is there: not the other file's bytes.
    slide = await store.find_slide(db, post_id, number, (fmt, f"{fmt}_sha256", "jpeg_sha256"))
    if slide is None:
        return None
    if slide.get(fmt) is not None:
        return SlideFile(bytes(slide[fmt]), slide[f"{fmt}_sha256"])
    post = await store.find_post(db, post_id)
    if post is None or not 1 <= number <= len(post.get("slides") or []):
        return None
    palette, logo = await drawing_look(db, post.get("look"))
    drawn = await asyncio.to_thread(
        render_stored,
        post,
        number,
        palette=palette,
        logo=logo,
        png=fmt == "png",
        jpeg=fmt == "jpeg" or "jpeg_sha256" not in slide,
    )
    files: dict[str, Any] = {}
    for name, body in (("png", drawn.png), ("jpeg", drawn.jpeg)):
        if body is not None:
            files[name] = body
            files[f"{name}_sha256"] = hashlib.sha256(body).hexdigest()
    await store.keep_slide_files(db, post_id, number, files)
    return SlideFile(files[fmt], files[f"{fmt}_sha256"])
