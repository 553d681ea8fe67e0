"""The network's look: its colours and its typeface, in one place for every layout."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from PIL import ImageColor

FONTS_DIR = Path(__file__).resolve().with_name("fonts")

RGB = tuple[int, int, int]


class Weight(StrEnum):
    """The weights of Lato that ship with the service (see fonts/README.md)."""

    REGULAR = "regular"
    BOLD = "bold"
    BLACK = "black"


FONT_FILES: Mapping[Weight, Path] = {
    Weight.REGULAR: FONTS_DIR / "Lato-Regular.ttf",
    Weight.BOLD: FONTS_DIR / "Lato-Bold.ttf",
    Weight.BLACK: FONTS_DIR / "Lato-Black.ttf",
}


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


#: DIKO Altmark: night blue with the yellow of the rapeseed fields and the green of the meadows.
BRAND = Palette(
    {
        "nachtblau": "#12335B",
        "tiefblau": "#0B2340",
        "raps": "#F5C400",
        "wiese": "#3E8E4F",
        "himmel": "#DCEAF6",
        "weiss": "#FFFFFF",
        "tinte": "#16202C",
        "schiefer": "#55657A",
    }
)
