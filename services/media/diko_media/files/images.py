"""Images media takes in: podcast covers (Apple's rules) and company logos.

Apple Podcasts takes cover art as JPEG or PNG, square, 1400 to 3000 pixels a side, in
the RGB colour space; a cover that breaks a rule is refused with the rule and what the
file has, in German.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

COVER_MIN, COVER_MAX = 1400, 3000
LOGO_MIN = 64
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
MODE_NAMES = {
    "CMYK": "CMYK",
    "L": "Graustufen",
    "LA": "Graustufen mit Transparenz",
    "P": "eine Farbpalette",
    "RGBA": "RGB mit Transparenz",
    "I;16": "16-Bit-Graustufen",
    "1": "Schwarz-Weiß",
}


class ImageRefused(Exception):
    """Not an image media can use here; the message is German."""


@dataclass(frozen=True)
class ImageInfo:
    type: str
    width: int
    height: int
    mode: str
    sha256: str

    @property
    def image_id(self) -> str:
        return f"img_{self.sha256[:20]}"

    @property
    def extension(self) -> str:
        return "jpg" if self.type == "image/jpeg" else "png"


def _open(data: bytes, what: str) -> tuple[Image.Image, ImageInfo]:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise ImageRefused(f"{what} ist keine lesbare Bilddatei.") from None
    if image.format not in FORMATS:
        raise ImageRefused(
            f"{what} muss ein JPEG- oder PNG-Bild sein (erhalten: {image.format or 'unbekannt'})."
        )
    info = ImageInfo(
        FORMATS[image.format],
        image.width,
        image.height,
        image.mode,
        hashlib.sha256(data).hexdigest(),
    )
    return image, info


def check_cover(data: bytes) -> ImageInfo:
    """An episode's cover art as Apple Podcasts requires it."""
    _, info = _open(data, "Das Titelbild")
    size = f"{info.width} × {info.height} Pixel"
    if info.width != info.height:
        raise ImageRefused(f"Das Titelbild muss quadratisch sein (erhalten: {size}).")
    if not COVER_MIN <= info.width <= COVER_MAX:
        raise ImageRefused(
            f"Das Titelbild muss zwischen {COVER_MIN} × {COVER_MIN} und {COVER_MAX} × "
            f"{COVER_MAX} Pixel groß sein (erhalten: {size})."
        )
    if info.mode != "RGB":
        have = MODE_NAMES.get(info.mode, info.mode)
        raise ImageRefused(f"Das Titelbild muss im RGB-Farbraum vorliegen (erhalten: {have}).")
    return info


def check_logo(data: bytes) -> tuple[Image.Image, ImageInfo]:
    """A company's logo for its posts: JPEG or PNG (transparency welcome), not tiny."""
    image, info = _open(data, "Das Logo")
    if min(info.width, info.height) < LOGO_MIN:
        raise ImageRefused(
            f"Das Logo ist zu klein ({info.width} × {info.height} Pixel; mindestens "
            f"{LOGO_MIN} Pixel an der kürzeren Seite)."
        )
    return image, info
