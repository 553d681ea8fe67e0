"""The kit for a company that posts itself: a ZIP with the images as Instagram takes them
(JPEG), the caption, the hashtags, the alt text of every image, and a one-page German
how-to (HTML with its styles inside, so that it opens offline from the ZIP).

The same post gives the same bytes (fixed file times, fixed order), so the download has
a stable ETag.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from diko_shared.brand import COLOURS
from diko_shared.text import finalize

#: Zip entries carry this time: the same post, the same bytes.
FIXED_TIME = (2026, 1, 1, 0, 0, 0)

ENVIRONMENT = Environment(
    loader=PackageLoader("diko_media.posts", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default=True),
    undefined=StrictUndefined,
    finalize=finalize,
    trim_blocks=True,
    lstrip_blocks=True,
)


def how_to(post: Mapping[str, Any], images: Sequence[str]) -> str:
    return ENVIRONMENT.get_template("anleitung.html").render(
        post=post, images=images, colours=COLOURS, carousel=len(images) > 1
    )


def build_kit(post: Mapping[str, Any], jpegs: Sequence[bytes]) -> bytes:
    names = [f"bild-{n}.jpg" for n in range(1, len(jpegs) + 1)]
    alt_lines = [
        f"Bild {n}: {slide['alt_text']}" if len(jpegs) > 1 else slide["alt_text"]
        for n, slide in enumerate(post["slides"], 1)
    ]
    entries: list[tuple[str, bytes]] = [
        *zip(names, jpegs, strict=True),
        ("bildtext.txt", post["caption"].encode() + b"\n"),
        ("hashtags.txt", " ".join(post["hashtags"]).encode() + b"\n"),
        ("alternativtext.txt", "\n\n".join(alt_lines).encode() + b"\n"),
        ("anleitung.html", how_to(post, names).encode()),
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = (
                zipfile.ZIP_STORED if name.endswith(".jpg") else zipfile.ZIP_DEFLATED
            )
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()
