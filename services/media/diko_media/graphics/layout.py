"""Layouts as data: a canvas, shapes and text boxes, so that a new layout is a new value.

A text box holds a template (`"{company}"`, `"Start {start}"`) filled from the fields of
a post, and the bounds its text must stay inside: the renderer wraps, shrinks down to the
box's minimum size, and ellipsises as a last resort, but never draws outside the box.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Literal

from diko_media.graphics.brand import BRAND, Palette, Weight
from diko_media.graphics.contrast import AA_NORMAL, ratio
from diko_shared.brand import LOGO_HEIGHT, LOGO_WIDTH

#: The smallest text size any layout may use, in pixels of a 1080 px wide image: about
#: 10 pt on a phone that shows the image across its full width.
MIN_LEGIBLE_PX = 28

Align = Literal["left", "center"]
VAlign = Literal["top", "middle", "bottom"]
#: When a shape is drawn: always, only without a company logo, or only with one.
When = Literal["always", "no_logo", "logo"]


@dataclass(frozen=True)
class Box:
    """A rectangle on the canvas: left, top, width, height in pixels."""

    x: int
    y: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height

    def contains(self, bounds: tuple[int, int, int, int]) -> bool:
        """Whether `bounds` (left, top, right, bottom) lies inside this box."""
        left, top, right, bottom = bounds
        return self.x <= left and self.y <= top and right <= self.right and bottom <= self.bottom

    def inside(self, width: int, height: int) -> bool:
        return self.x >= 0 and self.y >= 0 and self.right <= width and self.bottom <= height


@dataclass(frozen=True)
class Rect:
    """A filled rectangle, with rounded corners when `radius` > 0."""

    box: Box
    colour: str
    radius: int = 0
    when: When = "always"


@dataclass(frozen=True)
class Circle:
    """A filled circle; it may reach past the canvas edge (for decoration)."""

    cx: int
    cy: int
    radius: int
    colour: str
    when: When = "always"


@dataclass(frozen=True)
class Pin:
    """A map marker `size` px wide, its tip `size * 1.3` px below the top."""

    x: int
    y: int
    size: int
    colour: str
    hole: str
    when: When = "always"


@dataclass(frozen=True)
class Logo:
    """The brand's logo (`diko_shared.brand`), `width` px wide, its top left at `x`, `y`.

    The logo brings its own night-blue ground: on a night-blue layout it has no edge.
    """

    x: int
    y: int
    width: int
    when: When = "always"

    @property
    def height(self) -> int:
        return round(self.width * LOGO_HEIGHT / LOGO_WIDTH)


@dataclass(frozen=True)
class CompanyLogo:
    """A company's logo, fitted into `box` (kept in proportion, centred) on a white plate.

    Drawn only when the post has a company logo: the plate keeps any logo readable,
    whatever colour the ground has.
    """

    box: Box
    padding: int = 16
    radius: int = 16
    colour: str = "weiss"
    when: When = "logo"


Shape = Rect | Circle | Pin | Logo | CompanyLogo


@dataclass(frozen=True)
class TextBox:
    """Text from a template, fitted into `box` between `max_size` and `min_size` px."""

    name: str
    box: Box
    template: str
    weight: Weight
    colour: str
    max_size: int
    min_size: int
    max_lines: int = 3
    line_spacing: float = 1.12
    align: Align = "left"
    valign: VAlign = "top"
    uppercase: bool = False
    #: The colour the text sits on, for the contrast check; empty: the layout's background.
    on: str = ""

    @property
    def fields(self) -> frozenset[str]:
        """The names of the fields the template uses."""
        return frozenset(name for _, name, _, _ in string.Formatter().parse(self.template) if name)

    def text(self, values: dict[str, str]) -> str:
        text = self.template.format_map(values)
        return text.upper() if self.uppercase else text


@dataclass(frozen=True)
class Layout:
    """A complete image: canvas size, background, shapes in drawing order, text boxes."""

    name: str
    width: int
    height: int
    background: str
    shapes: tuple[Shape, ...] = ()
    texts: tuple[TextBox, ...] = ()
    palette: Palette = field(default=BRAND)

    def __post_init__(self) -> None:
        problems = list(self._problems())
        if problems:
            raise ValueError(f"layout {self.name!r}: " + "; ".join(problems))

    @property
    def fields(self) -> frozenset[str]:
        """Every field a post must supply for this layout."""
        return frozenset().union(*(t.fields for t in self.texts))

    def background_of(self, text: TextBox) -> str:
        return text.on or self.background

    def contrast_problems(self, palette: Palette) -> list[str]:
        """Text boxes whose colour does not reach WCAG AA on what they sit on."""
        problems = []
        for text in self.texts:
            value = ratio(palette.rgb(text.colour), palette.rgb(self.background_of(text)))
            if value < AA_NORMAL:
                problems.append(
                    f"text box {text.name!r}: {text.colour} on {self.background_of(text)} "
                    f"reaches {value:.2f}:1, below {AA_NORMAL}:1"
                )
        return problems

    def _problems(self) -> list[str]:
        problems = []
        colours = [self.background, *(s.colour for s in self.shapes if not isinstance(s, Logo))]
        colours += [s.hole for s in self.shapes if isinstance(s, Pin)]
        colours += [t.colour for t in self.texts] + [self.background_of(t) for t in self.texts]
        problems += [f"no colour {c!r} in the palette" for c in colours if c not in self.palette]
        if not problems:
            problems += self.contrast_problems(self.palette)
        for logo in (s for s in self.shapes if isinstance(s, Logo)):
            if not Box(logo.x, logo.y, logo.width, logo.height).inside(self.width, self.height):
                problems.append("the logo reaches past the canvas")
        for text in self.texts:
            if not text.box.inside(self.width, self.height):
                problems.append(f"text box {text.name!r} reaches past the canvas")
            if not MIN_LEGIBLE_PX <= text.min_size <= text.max_size:
                problems.append(
                    f"text box {text.name!r} needs {MIN_LEGIBLE_PX} <= min_size <= max_size"
                )
            if text.max_lines < 1:
                problems.append(f"text box {text.name!r} needs at least one line")
        return problems
