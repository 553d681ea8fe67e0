"""The network's look as the renderer uses it: the shared brand's colours, Lato and logo.

The colours, fonts and logo themselves live in `diko_shared.brand`, so that the post
images, the podcast cover, the podcast page and the e-mails are one brand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from PIL import ImageColor

from diko_shared.brand import COLOURS, FONT_FILES, LOGO_PNG, Weight

__all__ = ["BRAND", "FONT_FILES", "LOGO_PNG", "RGB", "Palette", "Weight"]

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Palette:
    """Named colours, so that a layout says "raps" and the brand decides what that is."""

    colours: Mapping[str, str]

    def rgb(self, name: str) -> RGB:
        try:
            value = self.colours[name]
        except KeyError:
            raise KeyError(f"the palette has no colour {name!r}") from None
        red, green, blue = ImageColor.getrgb(value)[:3]
        return red, green, blue

    def __contains__(self, name: object) -> bool:
        return name in self.colours


#: DIKO Altmark's colours (`diko_shared.brand.COLOURS`).
BRAND = Palette(COLOURS)
