"""Company photos for the website: checked with Pillow, turned upright, stripped of their
metadata and resized to a few widths in WebP, for `srcset`.

A phone's photo is several megabytes with the camera's EXIF data (often where it was
taken); the site serves each visitor the width their screen needs (WebP at 480, 960 and
1600 pixels, about a tenth of the JPEG), without any of that metadata. What is not a
JPEG, PNG or WebP image, is too small to show or has more pixels than any camera makes
is refused with a German reason.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from diko_media.files.images import ImageRefused

#: The widths the site offers (`srcset`); a narrower photo gets those below its own and its own.
WIDTHS = (480, 960, 1600)
MIN_WIDTH = WIDTHS[0]
#: 50 megapixels: more than a phone's camera, far less than a decompression bomb.
MAX_PIXELS = 50_000_000
FORMATS = {"JPEG", "PNG", "WEBP"}
QUALITY = 80
ALT_MIN, ALT_MAX = 10, 250
#: An alt text that is only a file's name says nothing about the photo.
FILE_NAME_ENDINGS = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".gif")


@dataclass(frozen=True)
class Variant:
    width: int
    height: int
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class Prepared:
    """The photo as the site serves it: upright, in RGB, one WebP per width."""

    width: int
    height: int
    sha256: str
    variants: tuple[Variant, ...]


def check_alt(text: str) -> str:
    """The alt text, trimmed; a German `ImageRefused` if it does not describe the photo."""
    alt = " ".join(text.split())
    if len(alt) < ALT_MIN:
        raise ImageRefused(
            "Bitte beschreiben Sie das Foto im Feld alt in einem kurzen Satz (mindestens "
            f"{ALT_MIN} Zeichen): Wer nicht sehen kann, erfährt so, was es zeigt."
        )
    if len(alt) > ALT_MAX:
        raise ImageRefused(
            f"Die Beschreibung im Feld alt ist zu lang ({len(alt)} Zeichen, höchstens {ALT_MAX})."
        )
    if alt.lower().endswith(FILE_NAME_ENDINGS):
        raise ImageRefused(
            "Im Feld alt steht ein Dateiname: Bitte beschreiben Sie stattdessen, was auf dem "
            "Foto zu sehen ist."
        )
    return alt


def prepare(data: bytes) -> Prepared:
    """Read, check and resize a photo; `ImageRefused` with the reason otherwise."""
    image = _open(data)
    image = ImageOps.exif_transpose(image)
    if image.width < MIN_WIDTH:
        raise ImageRefused(
            f"Das Foto ist zu klein ({image.width} × {image.height} Pixel; mindestens "
            f"{MIN_WIDTH} Pixel breit)."
        )
    rgb = _rgb(image)
    widths = sorted({w for w in WIDTHS if w < rgb.width} | {min(rgb.width, WIDTHS[-1])})
    variants = tuple(_webp(rgb, width) for width in widths)
    return Prepared(rgb.width, rgb.height, hashlib.sha256(data).hexdigest(), variants)


def _open(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
            if image.format not in FORMATS:
                raise ImageRefused(
                    "Das Foto muss ein JPEG-, PNG- oder WebP-Bild sein (erhalten: "
                    f"{image.format or 'unbekannt'})."
                )
            if image.width * image.height > MAX_PIXELS:
                raise ImageRefused(
                    f"Das Foto hat zu viele Pixel ({image.width} × {image.height}; höchstens "
                    f"{MAX_PIXELS // 1_000_000} Millionen)."
                )
            image.load()
        except ImageRefused:
            raise
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
                Image.DecompressionBombError, Image.DecompressionBombWarning):  # fmt: skip
            raise ImageRefused(
                "Das Foto ist keine lesbare Bilddatei (erwartet: JPEG, PNG oder WebP)."
            ) from None
    return image


def _rgb(image: Image.Image) -> Image.Image:
    """The pixels in RGB; transparency laid on white (a page's background is light)."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        ground = Image.new("RGB", rgba.size, (255, 255, 255))
        ground.paste(rgba, mask=rgba.getchannel("A"))
        return ground
    return image.convert("RGB")


def _webp(image: Image.Image, width: int) -> Variant:
    height = max(1, round(image.height * width / image.width))
    resized = image if width == image.width else image.resize((width, height), Image.LANCZOS)
    out = io.BytesIO()
    resized.save(out, "WEBP", quality=QUALITY, method=4)
    return Variant(width, height, out.getvalue())
