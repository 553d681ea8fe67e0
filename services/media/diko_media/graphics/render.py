"""Drawing a layout with Pillow: text fitted into its boxes, smooth shapes, deterministic PNG.

Text is fitted in three steps, each tried only when the one before cannot make it fit:
wrap it into lines at the largest size; shrink it down to the box's minimum (legibility
comes first; the largest size that fits is found by bisection); at the minimum, cut it
after the last line that fits and end that line with "…". Long words break at their own
hyphens and slashes first, and only at the minimum size between letters.

Pillow's basic layout engine is used on purpose: it ships with every Pillow wheel (the
complex one depends on a system library), so the same fields give the same bytes on every
machine with the same Pillow.
"""

from __future__ import annotations

import io
import math
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache

from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont

from diko_media.graphics.brand import FONT_FILES, LOGO_PNG, Palette, Weight
from diko_media.graphics.layout import (
    Circle,
    CompanyLogo,
    Layout,
    Logo,
    Pin,
    Rect,
    Shape,
    TextBox,
)
from diko_shared.text import clean

ELLIPSIS = "…"
SIZE_STEP = 2
#: Glyphs that reach highest and lowest in German text: their ink defines a line's height,
#: so that lines sit at the same distance whatever letters they hold.
LINE_PROBE = "ÄÖÜÅÉ|gjpqyß()"
#: Where a long word may break without a new hyphen: after its own hyphen or slash.
WORD_BREAK = re.compile(r"(?<=[-/])(?=\w)")
#: Shapes are drawn this many times larger and scaled down, for smooth edges; less when
#: the enlarged mask would hold more pixels than `MAX_MASK_PIXELS` (covers are 3000 px).
SUPERSAMPLE = 4
MAX_MASK_PIXELS = 16_000_000
#: zlib level of the PNGs: 9 took three times as long for a tenth smaller file.
PNG_COMPRESS_LEVEL = 3
#: JPEG for Instagram (the only image format its API takes) and the kits.
JPEG_QUALITY = 92

Bounds = tuple[int, int, int, int]

# FreeType faces are not safe to share between threads; rendering runs in worker threads.
_RENDERING = threading.Lock()
#: Ink boxes of measured texts (under `_RENDERING`): fitting a text measures the same
#: candidates again and again, and posts share most of theirs (the layouts' fixed words, the
#: line probe at every size tried, occupations and towns), so the boxes outlive a
#: rendering: kept, an "Azubi gesucht" draft measured 12 texts instead of 53 and took 40
#: instead of 55 ms. A box depends only on the face and the text.
_MEASURED: dict[tuple[str, int, str], tuple[int, int, int, int]] = {}
#: Boxes kept at most (about 150 bytes each); the cache starts afresh when it is full.
MEASURED_MAX = 20_000
#: Canvases without text (`_canvas`), most recently used last (under `_RENDERING`); a
#: portrait canvas holds 4.4 MB, so only a few are kept.
_CANVASES: OrderedDict[tuple[object, ...], Image.Image] = OrderedDict()
CANVASES_MAX = 6


@lru_cache(maxsize=64)  # a face costs memory; fitting tries many sizes, drawing uses few
def font(weight: Weight, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_FILES[weight]), size, layout_engine=ImageFont.Layout.BASIC)


@cache
def coverage(weight: Weight) -> frozenset[int]:
    """The code points the font of `weight` has glyphs for."""
    return frozenset(TTFont(FONT_FILES[weight], lazy=True).getBestCmap())


def printable(text: str, weight: Weight) -> str:
    """`text` with only characters the font can draw: no empty boxes for emoji and the like.

    A letter the font lacks is replaced by its decomposition where that helps (ǆ → dž),
    and dropped otherwise; runs of white space become one space; what the contract
    refuses in text (`diko_shared.text.clean`) never reaches the font.
    """
    covered = coverage(weight)
    kept = []
    for char in unicodedata.normalize("NFC", clean(text)):
        if char.isspace():
            kept.append(" ")
        elif ord(char) in covered:
            kept.append(char)
        else:
            decomposed = unicodedata.normalize("NFKD", char)
            kept.extend(c for c in decomposed if ord(c) in covered and not c.isspace())
    return " ".join("".join(kept).split())


@dataclass(frozen=True)
class Fitted:
    """How a text fits its box: the size, the lines, and whether the end was cut off."""

    size: int
    lines: tuple[str, ...]
    truncated: bool


@dataclass(frozen=True)
class Placed:
    """A text as drawn: `bounds` is the ink on the canvas (None when the text is empty)."""

    name: str
    text: str
    size: int
    lines: tuple[str, ...]
    truncated: bool
    bounds: Bounds | None


@dataclass(frozen=True)
class Rendered:
    """A rendered image: where each text went, and the PNG and JPEG bytes asked for."""

    png: bytes | None
    width: int
    height: int
    texts: tuple[Placed, ...]
    jpeg: bytes | None = None

    def text(self, name: str) -> Placed:
        for placed in self.texts:
            if placed.name == name:
                return placed
        raise KeyError(name)


def render(
    layout: Layout,
    values: Mapping[str, str],
    *,
    palette: Palette | None = None,
    logo: Image.Image | None = None,
    png: bool = True,
    jpeg: bool = False,
) -> Rendered:
    """Draw `layout` with the texts filled from `values`; the same input gives the same bytes.

    `palette` replaces the layout's (a company's colours; check its contrast first with
    `Layout.contrast_problems`); `logo` is a company's logo for its `CompanyLogo` shapes.
    `png` and `jpeg` say which files to make of the pixels (PNG takes three times as
    long as JPEG: a post's PNG is made when someone asks for it).
    """
    missing = layout.fields - values.keys()
    if missing:
        raise ValueError(f"layout {layout.name!r} needs the fields {sorted(missing)}")
    fields = dict(values)
    colours = palette or layout.palette
    with _RENDERING:
        if len(_MEASURED) > MEASURED_MAX:
            _MEASURED.clear()
        image = _canvas(layout, colours, logo)
        draw = ImageDraw.Draw(image)
        placed = tuple(_draw_text(draw, spec, fields, colours) for spec in layout.texts)
        return Rendered(
            _png(image) if png else None,
            layout.width,
            layout.height,
            placed,
            jpeg=_jpeg(image) if jpeg else None,
        )


def _canvas(layout: Layout, colours: Palette, logo: Image.Image | None) -> Image.Image:
    """The layout's background and shapes, before any text (a copy to draw on).

    Without a company's logo the canvas depends only on the layout and the colours, and
    most posts share those (the brand's palette, a few companies' colours): it is drawn
    once and copied, where pasting the shapes anew had been a quarter of a draft's time.
    """
    if logo is not None:
        return _draw_canvas(layout, colours, logo)
    key = (
        layout.name,
        layout.width,
        layout.height,
        layout.background,
        layout.shapes,
        tuple(sorted(colours.colours.items())),
    )
    canvas = _CANVASES.get(key)
    if canvas is None:
        canvas = _CANVASES[key] = _draw_canvas(layout, colours, None)
        if len(_CANVASES) > CANVASES_MAX:
            _CANVASES.popitem(last=False)
    else:
        _CANVASES.move_to_end(key)
    return canvas.copy()


def _draw_canvas(layout: Layout, colours: Palette, logo: Image.Image | None) -> Image.Image:
    image = Image.new("RGB", (layout.width, layout.height), colours.rgb(layout.background))
    for shape in layout.shapes:
        if _drawn(shape, has_logo=logo is not None):
            _draw_shape(image, shape, colours, logo)
    return image


def _drawn(shape: Shape, *, has_logo: bool) -> bool:
    return shape.when == "always" or (shape.when == "logo") == has_logo


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
    return buffer.getvalue()


# -- fitting ------------------------------------------------------------------------------


def fit(spec: TextBox, text: str) -> Fitted:
    """The largest size at which `text` fits the box, or the cut text at the minimum size.

    What fits at one size fits at every smaller one, so the sizes are bisected: about five
    wrappings instead of one per size for a text that must shrink.
    """
    sizes = _sizes(spec)
    fitted = _at(spec, text, sizes[0])
    if fitted is not None:
        return fitted
    best, low, high = None, 1, len(sizes) - 1  # sizes[low - 1] does not fit
    while low <= high:
        middle = (low + high) // 2
        attempt = _at(spec, text, sizes[middle])
        if attempt is None:
            low = middle + 1
        else:
            best, high = attempt, middle - 1
    return best if best is not None else _cut(spec, text)


def _at(spec: TextBox, text: str, size: int) -> Fitted | None:
    """`text` wrapped at `size`, if it fits the box."""
    face = font(spec.weight, size)
    lines = wrap(text, face, spec.box.width, hard=False)
    if lines is not None and _fits(spec, face, lines):
        return Fitted(size, tuple(lines), truncated=False)
    return None


def _sizes(spec: TextBox) -> list[int]:
    sizes = list(range(spec.max_size, spec.min_size, -SIZE_STEP))
    return [*sizes, spec.min_size]


def _fits(spec: TextBox, face: ImageFont.FreeTypeFont, lines: list[str]) -> bool:
    return len(lines) <= spec.max_lines and _block(spec, face, lines)[0] <= spec.box.height


def _cut(spec: TextBox, text: str) -> Fitted:
    """At the minimum size: keep the lines that fit, and end the last one with an ellipsis."""
    face = font(spec.weight, spec.min_size)
    lines = wrap(text, face, spec.box.width, hard=True) or [""]
    keep = len(lines)
    while keep > 0 and not _fits(spec, face, lines[:keep]):
        keep -= 1
    if keep == 0:
        raise ValueError(f"text box {spec.name!r} cannot hold one line at {spec.min_size} px")
    if keep == len(lines):
        return Fitted(spec.min_size, tuple(lines), truncated=False)
    kept = [*lines[: keep - 1], ellipsise(lines[keep - 1], face, spec.box.width)]
    return Fitted(spec.min_size, tuple(kept), truncated=True)


def ellipsise(line: str, face: ImageFont.FreeTypeFont, width: int) -> str:
    """`line` shortened, by words and then by letters, until it fits with "…" at its end."""
    words = line.split(" ")
    while True:
        candidate = " ".join(words).rstrip(" ,;:-–/") + ELLIPSIS
        if ink_width(face, candidate) <= width or candidate == ELLIPSIS:
            return candidate
        if len(words) > 1:
            words.pop()
        else:
            words[0] = words[0][:-1]


def ink_box(face: ImageFont.FreeTypeFont, text: str) -> tuple[int, int, int, int]:
    """The ink of `text` around its baseline's start (left, top, right, bottom)."""
    key = (str(face.path), face.size, text)
    box = _MEASURED.get(key)
    if box is None:
        left, top, right, bottom = face.getbbox(text, anchor="ls")
        box = _MEASURED[key] = (int(left), int(top), int(right), int(bottom))
    return box


def ink_width(face: ImageFont.FreeTypeFont, text: str) -> int:
    """How much width `text` needs so that none of its ink leaves the box."""
    left, _, right, _ = ink_box(face, text)
    return right - min(left, 0)


def wrap(text: str, face: ImageFont.FreeTypeFont, width: int, *, hard: bool) -> list[str] | None:
    """Greedy line breaking; None when a word cannot fit and breaking letters is not allowed."""

    def fits(candidate: str) -> bool:
        return ink_width(face, candidate) <= width

    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if fits(candidate):
            current = candidate
            continue
        if current:
            lines.append(current)
        chunks = _split_word(word, fits, hard=hard)
        if chunks is None:
            return None
        lines.extend(chunks[:-1])
        current = chunks[-1]
    if current or not lines:
        lines.append(current)
    return lines


def _split_word(word: str, fits: Callable[[str], bool], *, hard: bool) -> list[str] | None:
    """A word as line-sized chunks: at its hyphens and slashes, then (if `hard`) anywhere."""
    chunks: list[str] = []
    current = ""
    for part in WORD_BREAK.split(word):
        if fits(current + part):
            current += part
            continue
        if current:
            chunks.append(current)
            current = ""
        if fits(part):
            current = part
        elif hard:
            *full, current = _split_letters(part, fits)
            chunks.extend(full)
        else:
            return None
    chunks.append(current)
    return chunks


def _split_letters(part: str, fits: Callable[[str], bool]) -> list[str]:
    chunks: list[str] = []
    current = ""
    for char in part:
        if current and not fits(current + char + "-"):
            chunks.append(current + "-")
            current = ""
        current += char
    chunks.append(current)
    return chunks


def _block(spec: TextBox, face: ImageFont.FreeTypeFont, lines: list[str]) -> tuple[int, int, int]:
    """Height of the lines' ink block, the first baseline's offset in it, and the line pitch."""
    pitch = round(face.size * spec.line_spacing)
    _, probe_top, _, probe_bottom = ink_box(face, LINE_PROBE)
    boxes = [ink_box(face, line) for line in lines if line]
    top = min([probe_top, *(b[1] for b in boxes)])
    bottom = max([probe_bottom, *(b[3] for b in boxes)])
    return (len(lines) - 1) * pitch + bottom - top, -top, pitch


# -- drawing ------------------------------------------------------------------------------


def _draw_text(
    draw: ImageDraw.ImageDraw, spec: TextBox, fields: Mapping[str, str], palette: Palette
) -> Placed:
    text = printable(spec.text(dict(fields)), spec.weight)
    fitted = fit(spec, text)
    face = font(spec.weight, fitted.size)
    height, first_baseline, pitch = _block(spec, face, list(fitted.lines))
    box = spec.box
    top = {
        "top": box.y,
        "middle": box.y + (box.height - height) // 2,
        "bottom": box.bottom - height,
    }[spec.valign]
    colour = palette.rgb(spec.colour)
    bounds: list[Bounds] = []
    for index, line in enumerate(fitted.lines):
        if not line:
            continue
        x, y = _line_x(spec, face, line), top + first_baseline + index * pitch
        draw.text((x, y), line, font=face, fill=colour, anchor="ls")
        left, ink_top, right, bottom = ink_box(face, line)  # measured for the wrapping
        bounds.append((x + left, y + ink_top, x + right, y + bottom))
    return Placed(spec.name, text, fitted.size, fitted.lines, fitted.truncated, _union(bounds))


def _line_x(spec: TextBox, face: ImageFont.FreeTypeFont, line: str) -> int:
    left, _, right, _ = ink_box(face, line)
    if spec.align == "center":
        return spec.box.x + (spec.box.width - (right - left)) // 2 - left
    return spec.box.x - min(left, 0)


def _union(bounds: list[Bounds]) -> Bounds | None:
    if not bounds:
        return None
    return (
        min(b[0] for b in bounds),
        min(b[1] for b in bounds),
        max(b[2] for b in bounds),
        max(b[3] for b in bounds),
    )


@lru_cache(maxsize=8)
def _logo(width: int, height: int) -> Image.Image:
    """The brand's logo at this size (Lanczos, the same pixels every time)."""
    with Image.open(LOGO_PNG) as logo:
        return logo.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)


def _draw_shape(
    image: Image.Image, shape: Shape, palette: Palette, logo: Image.Image | None = None
) -> None:
    """Draw a shape with smooth edges: a mask drawn larger, scaled down, filled with colour."""
    if isinstance(shape, Logo):
        image.paste(_logo(shape.width, shape.height), (shape.x, shape.y))
        return
    if isinstance(shape, CompanyLogo):
        if logo is not None:
            _draw_company_logo(image, shape, palette, logo)
        return
    left, top, right, bottom = _shape_bounds(shape)
    image.paste(palette.rgb(shape.colour), (left, top, right, bottom), _mask(shape))
    if isinstance(shape, Pin):
        _draw_shape(image, _pin_hole(shape), palette)


def _draw_company_logo(
    image: Image.Image, shape: CompanyLogo, palette: Palette, logo: Image.Image
) -> None:
    """A white plate, and the logo fitted inside its padding (centred, in proportion)."""
    _draw_shape(image, Rect(shape.box, shape.colour, radius=shape.radius), palette)
    room_w = shape.box.width - 2 * shape.padding
    room_h = shape.box.height - 2 * shape.padding
    scale = min(room_w / logo.width, room_h / logo.height)
    size = (max(1, round(logo.width * scale)), max(1, round(logo.height * scale)))
    fitted = logo.convert("RGBA").resize(size, Image.Resampling.LANCZOS)
    x = shape.box.x + (shape.box.width - size[0]) // 2
    y = shape.box.y + (shape.box.height - size[1]) // 2
    image.paste(fitted, (x, y), fitted)


@lru_cache(maxsize=256)
def _mask(shape: Rect | Circle | Pin) -> Image.Image:
    """The shape's coverage, drawn larger and scaled down: the layouts have few shapes, so
    each is traced once per process (the enlarged masks were the costly part of a
    rendering); the mask does not depend on the palette."""
    left, top, right, bottom = _shape_bounds(shape)
    width, height = right - left, bottom - top
    scale = _supersample(shape, width * height)
    mask = Image.new("L", (width * scale, height * scale), 0)
    _trace(ImageDraw.Draw(mask), shape, left, top, scale)
    if scale > 1:
        mask = mask.resize((width, height), Image.Resampling.BOX)
    return mask


def _supersample(shape: Rect | Circle | Pin, pixels: int) -> int:
    if isinstance(shape, Rect) and shape.radius == 0:
        return 1  # straight edges on whole pixels need no smoothing
    return max(1, min(SUPERSAMPLE, math.isqrt(MAX_MASK_PIXELS // max(pixels, 1))))


def _shape_bounds(shape: Rect | Circle | Pin) -> Bounds:
    if isinstance(shape, Rect):
        return shape.box.x, shape.box.y, shape.box.right, shape.box.bottom
    if isinstance(shape, Circle):
        r = shape.radius
        return shape.cx - r, shape.cy - r, shape.cx + r, shape.cy + r
    return shape.x, shape.y, shape.x + shape.size, shape.y + round(shape.size * 1.3)


def _trace(
    pen: ImageDraw.ImageDraw, shape: Rect | Circle | Pin, left: int, top: int, scale: int
) -> None:
    """Draw `shape` white on its mask, in mask coordinates (shifted and scaled)."""

    def at(x: float, y: float) -> tuple[float, float]:
        return (x - left) * scale, (y - top) * scale

    if isinstance(shape, Rect):
        box = shape.box
        corners = [*at(box.x, box.y), *at(box.right, box.bottom)]
        pen.rounded_rectangle(corners, radius=shape.radius * scale, fill=255)
    elif isinstance(shape, Circle):
        r = shape.radius
        pen.ellipse([*at(shape.cx - r, shape.cy - r), *at(shape.cx + r, shape.cy + r)], fill=255)
    else:
        s, x, y = shape.size, shape.x, shape.y
        pen.ellipse([*at(x, y), *at(x + s, y + s)], fill=255)
        tip = at(x + 0.5 * s, y + 1.3 * s)
        pen.polygon([at(x + 0.11 * s, y + 0.81 * s), at(x + 0.89 * s, y + 0.81 * s), tip], fill=255)


def _pin_hole(pin: Pin) -> Circle:
    radius = max(round(pin.size * 0.19), 1)
    return Circle(pin.x + pin.size // 2, pin.y + pin.size // 2, radius, pin.hole)
