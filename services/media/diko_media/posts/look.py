"""The palette and logo a post's slides are drawn with (`slide_files`), from the look
stored with the post at its draft."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from PIL import Image
from pymongo.asynchronous.database import AsyncDatabase

from diko_media import store
from diko_media.graphics.brand import Palette
from diko_media.posts.drafting import themed_palette


async def drawing_look(
    db: AsyncDatabase, look: Mapping[str, Any] | None
) -> tuple[Palette | None, Image.Image | None]:
    """The company's colours and its logo (loaded), or the network's (None, None)."""
    if not look:
        return None, None
    palette = themed_palette(look["colour"])
    logo = None
    if look.get("logo_id"):
        record = await store.find_image(db, look["logo_id"])
        if record is not None:
            logo = Image.open(io.BytesIO(bytes(record["data"])))
            logo.load()
    return palette, logo
