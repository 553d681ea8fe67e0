"""Draw the logo, `logo.svg` and `logo.png`, from the brand's colours and Lato's outlines.

    .venv/bin/python -m diko_shared.brand.draw_logo          # rewrite both files
    .venv/bin/python -m diko_shared.brand.draw_logo --check  # exit 1 if they differ

A sun over a rapeseed field, then "DIKO" (Lato Black, white) and "Altmark" (Lato Bold,
rapeseed yellow), on night blue. The SVG carries the letters as outlines, so it looks the
same where Lato is not installed; the PNG is drawn from the same coordinates with Pillow
(four times larger, then scaled down, for smooth edges), for e-mails, which do not show SVG.
A test checks that the files in the package are what this script draws.

Needs Pillow and fontTools (both in the development environment, with media); the
services only read the files.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fontTools.pens.svgPathPen import SVGPathPen
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont

from diko_shared.brand import (
    FONT_FILES,
    LOGO_HEIGHT,
    LOGO_MAIL_PNG,
    LOGO_MAIL_PNG_COLOURS,
    LOGO_MAIL_PNG_SCALE,
    LOGO_PNG,
    LOGO_PNG_SCALE,
    LOGO_SVG,
    LOGO_WIDTH,
    NAME,
    Weight,
    hex_colour,
    rgb,
)

#: fontTools warns that Lato's 'created' timestamp predates 1904; it is harmless here.
logging.getLogger("fontTools").setLevel(logging.ERROR)

SUPERSAMPLE = 4
TEXT_SIZE = 56
BASELINE = 80
WORD_GAP = 14
TEXT_LEFT = 116

#: The mark, in the logo's units: the sun (cut at the horizon) and two furrows of a field.
SUN = (60, 56, 28)  # centre x, centre y, radius
HORIZON = 70
FURROWS = ((28, 76, 92, 86, 5), (40, 92, 80, 100, 4))  # left, top, right, bottom, radius


@dataclass(frozen=True)
class Glyph:
    """One letter placed on the baseline: its character, pen position and outline."""

    char: str
    x: float
    path: str


@cache
def _face(weight: Weight) -> TTFont:
    return TTFont(FONT_FILES[weight])


def _place(text: str, weight: Weight, left: float) -> tuple[list[Glyph], float]:
    """The letters of `text` from `left`, advanced by their widths and kerning pairs."""
    face = _face(weight)
    cmap, metrics, glyph_set = face.getBestCmap(), face["hmtx"], face.getGlyphSet()
    scale = TEXT_SIZE / face["head"].unitsPerEm
    kerning = face["kern"].kernTables[0].kernTable if "kern" in face else {}
    glyphs: list[Glyph] = []
    x, previous = left, None
    for char in text:
        name = cmap[ord(char)]
        if previous is not None:
            x += kerning.get((previous, name), 0) * scale
        pen = SVGPathPen(glyph_set)
        glyph_set[name].draw(pen)
        glyphs.append(Glyph(char, x, pen.getCommands()))
        x += metrics[name][0] * scale
        previous = name
    return glyphs, x


def _words() -> list[tuple[Weight, str, list[Glyph]]]:
    diko, end = _place("DIKO", Weight.BLACK, TEXT_LEFT)
    altmark, _ = _place("Altmark", Weight.BOLD, end + WORD_GAP)
    return [(Weight.BLACK, "weiss", diko), (Weight.BOLD, "raps", altmark)]


def svg() -> str:
    """The logo as SVG, letters as outlines."""
    cx, cy, r = SUN
    lines = [
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {LOGO_WIDTH} {LOGO_HEIGHT}" width="{LOGO_WIDTH}" '
        f'height="{LOGO_HEIGHT}" role="img" aria-label="{NAME}">',
        f"<title>{NAME}</title>",
        f'<rect width="{LOGO_WIDTH}" height="{LOGO_HEIGHT}" fill="{hex_colour("nachtblau")}"/>',
        f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="{hex_colour("raps")}"/>',
        f'<rect x="{cx - r}" y="{HORIZON}" width="{2 * r}" height="{cy + r - HORIZON}" '
        f'fill="{hex_colour("nachtblau")}"/>',
    ]
    for left, top, right, bottom, radius in FURROWS:
        lines.append(
            f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
            f'rx="{radius}" fill="{hex_colour("wiese")}"/>'
        )
    for weight, colour, glyphs in _words():
        scale = TEXT_SIZE / _face(weight)["head"].unitsPerEm
        lines.append(f'<g fill="{hex_colour(colour)}">')
        lines.extend(
            f'<path transform="translate({g.x:.2f} {BASELINE}) scale({scale:g} {-scale:g})" '
            f'd="{g.path}"/>'
            for g in glyphs
            if g.path
        )
        lines.append("</g>")
    lines.append("</svg>")
    return "\n".join(lines) + "\n"


def png(scale: float, colours: int | None = None) -> bytes:
    """The logo as PNG, `scale` times the SVG's size, without metadata; with `colours`, as
    a palette image of that many colours (a smaller file)."""
    k = 4 * SUPERSAMPLE
    big = Image.new("RGB", (LOGO_WIDTH * k, LOGO_HEIGHT * k), rgb("nachtblau"))
    draw = ImageDraw.Draw(big)
    cx, cy, r = SUN
    draw.ellipse(((cx - r) * k, (cy - r) * k, (cx + r) * k, (cy + r) * k), fill=rgb("raps"))
    draw.rectangle(
        ((cx - r) * k, HORIZON * k, (cx + r) * k, (cy + r) * k + k), fill=rgb("nachtblau")
    )
    for left, top, right, bottom, radius in FURROWS:
        draw.rounded_rectangle(
            (left * k, top * k, right * k, bottom * k), radius=radius * k, fill=rgb("wiese")
        )
    for weight, colour, glyphs in _words():
        font = ImageFont.truetype(
            str(FONT_FILES[weight]), TEXT_SIZE * k, layout_engine=ImageFont.Layout.BASIC
        )
        for glyph in glyphs:
            draw.text(
                (glyph.x * k, BASELINE * k), glyph.char, font=font, fill=rgb(colour), anchor="ls"
            )
    small = big.resize(
        (round(LOGO_WIDTH * scale), round(LOGO_HEIGHT * scale)), Image.Resampling.LANCZOS
    )
    if colours is not None:
        small = small.quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True)
    return out.getvalue()


def drawn() -> dict[Path, bytes]:
    """What the logo files should hold."""
    return {
        LOGO_SVG: svg().encode(),
        LOGO_PNG: png(LOGO_PNG_SCALE),
        LOGO_MAIL_PNG: png(LOGO_MAIL_PNG_SCALE, LOGO_MAIL_PNG_COLOURS),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    stale = [p for p, body in drawn().items() if not p.exists() or p.read_bytes() != body]
    if args.check:
        for path in stale:
            print(f"{path.name} differs from what draw_logo draws", file=sys.stderr)
        return 1 if stale else 0
    for path, body in drawn().items():
        path.write_bytes(body)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
