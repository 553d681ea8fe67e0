"""The network's look as the renderer uses it: the shared brand's colours, Lato and logo,
and the roles a layout paints with, which a company's own colour may take over.

The colours, fonts and logo themselves live in `diko_shared.brand`, so that the post
images, the podcast cover, the podcast page and the e-mails are one brand. Layouts name
roles for what a company may recolour (`grund`, the ground; `grund_text` on it;
`grund_tief` for shapes on it) and brand colours for the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from PIL import ImageColor

from diko_shared.brand import COLOURS, FONT_FILES, LOGO_PNG, Weight

__all__ = ["BRAND", "FONT_FILES", "LOGO_PNG", "RGB", "Palette", "Weight", "brand_palette"]

RGB = tuple[int, int, int]

#: A darker green of the brand's meadow for small text on white: `wiese` itself reaches
#: only 4.05:1 there, below WCAG AA.
TANNE = "#2C6B3A"

#: The roles a company's look may take over, as the brand fills them.
ROLES: Mapping[str, str] = {
    "grund": COLOURS["nachtblau"],
    "grund_text": COLOURS["weiss"],
    "grund_tief": COLOURS["tiefblau"],
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

    def with_colours(self, **colours: str) -> Palette:
        """This palette with some colours (roles) replaced."""
        return Palette({**self.colours, **colours})


def brand_palette() -> Palette:
    return Palette({**COLOURS, "tanne": TANNE, **ROLES})


#: DIKO Altmark's colours (`diko_shared.brand.COLOURS`) and the roles as the brand fills them.
BRAND = brand_palette()
