"""The one look of DIKO Altmark: colours, typeface and logo, for every surface diko shows.

E-mails (notifications), post images and the podcast cover (media, drawn with Pillow),
the podcast page and the action pages all take their colours from `COLOURS`, their
typeface from `FONT_FILES` / `FONT_STACK` and their logo from `LOGO_SVG` / `LOGO_PNG`.
Nothing here depends on a service: the files ship with the shared package, and
`diko_shared.brand.web` serves them over HTTP from each service that shows a page, so
that a page never loads anything from another host.

Web pages load Lato through `@font-face` (`stylesheet()`); e-mails cannot (mail clients
do not load fonts), so they name the same stack and fall back to web-safe fonts.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

#: The network's name, as every surface writes it.
NAME = "DIKO Altmark"

BRAND_DIR = Path(__file__).resolve().parent
FONTS_DIR = BRAND_DIR / "fonts"
LOGO_SVG = BRAND_DIR / "logo.svg"
LOGO_PNG = BRAND_DIR / "logo.png"
LOGO_MAIL_PNG = BRAND_DIR / "logo-mail.png"
#: The logo's drawing units (its SVG viewBox).
LOGO_WIDTH, LOGO_HEIGHT = 500, 120
#: `logo.png` is four times as large (2000 × 480 px), for images up to that width;
#: `logo-mail.png` is 400 × 96 px, sharp at 200 × 48 on high-density screens, and small:
#: it travels inside every e-mail, so it keeps 64 colours (4.5 KB instead of 13.5 KB, a
#: mean difference of half a step in 255 per channel, which the eye does not see).
LOGO_PNG_SCALE = 4
LOGO_MAIL_PNG_SCALE = 0.8
LOGO_MAIL_PNG_COLOURS = 64

RGB = tuple[int, int, int]

#: Night blue with the yellow of the rapeseed fields and the green of the meadows.
COLOURS: Mapping[str, str] = MappingProxyType(
    {
        "nachtblau": "#12335B",  # the ground: headers, headlines, the main button
        "tiefblau": "#0B2340",  # darker shapes on night blue
        "raps": "#F5C400",  # the accent: the sun, bands, rules
        "wiese": "#3E8E4F",  # the second accent: labels, the map pin, the logo's field
        "himmel": "#DCEAF6",  # the light ground of pages and e-mails
        "weiss": "#FFFFFF",  # cards
        "tinte": "#16202C",  # running text
        "schiefer": "#55657A",  # small print, labels
        "nebel": "#C5D3E2",  # rules and borders on white
        "ziegel": "#A5301B",  # declining, warnings
    }
)


def hex_colour(name: str) -> str:
    """`#12335B` for `nachtblau`; a KeyError names an unknown colour."""
    try:
        return COLOURS[name]
    except KeyError:
        raise KeyError(f"the brand has no colour {name!r}") from None


def rgb(name: str) -> RGB:
    """`(18, 51, 91)` for `nachtblau`."""
    value = hex_colour(name).lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


class Weight(StrEnum):
    """The weights of Lato that ship with the brand (see fonts/README.md)."""

    REGULAR = "regular"
    BOLD = "bold"
    BLACK = "black"

    @property
    def css(self) -> int:
        """The CSS `font-weight` of this file."""
        return {"regular": 400, "bold": 700, "black": 900}[self.value]


FONT_FILES: Mapping[Weight, Path] = MappingProxyType(
    {
        Weight.REGULAR: FONTS_DIR / "Lato-Regular.ttf",
        Weight.BOLD: FONTS_DIR / "Lato-Bold.ttf",
        Weight.BLACK: FONTS_DIR / "Lato-Black.ttf",
    }
)
#: Lato where it is loaded (pages) or installed; web-safe sans-serif fonts everywhere else.
FONT_STACK = "Lato, 'Helvetica Neue', Helvetica, Arial, sans-serif"


def stylesheet() -> str:
    """`brand.css`: Lato's faces and the colours as CSS custom properties (`--nachtblau`).

    The font URLs are relative to the stylesheet, so that the pages work under any path
    the service is reached at.
    """
    faces = "".join(
        "@font-face { font-family: Lato; font-style: normal; "
        f"font-weight: {weight.css}; font-display: swap; "
        f'src: url("fonts/{path.name}") format("truetype"); }}\n'
        for weight, path in FONT_FILES.items()
    )
    colours = "".join(f"  --{name}: {value};\n" for name, value in COLOURS.items())
    return f"{faces}:root {{\n{colours}  --font: {FONT_STACK};\n}}\n"
