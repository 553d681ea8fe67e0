"""The podcast's cover art, drawn from a layout like the posts: 3000 × 3000 px, as Apple
Podcasts recommends (it accepts 1400 to 3000 px, square, RGB)."""

from __future__ import annotations

from diko_media.graphics.brand import Weight
from diko_media.graphics.layout import Box, Circle, Layout, Logo, Rect, TextBox
from diko_media.graphics.render import Rendered, render

COVER_SIZE = 3000

COVER = Layout(
    name="podcast_cover",
    width=COVER_SIZE,
    height=COVER_SIZE,
    background="nachtblau",
    shapes=(
        Circle(2650, 2900, 1150, "tiefblau"),
        Circle(2650, 2900, 800, "raps"),
        Rect(Box(240, 1740, 420, 40), "raps", radius=20),
        Logo(156, 150, 1500),
    ),
    texts=(
        TextBox(
            "title",
            Box(240, 560, 2520, 1100),
            "{title}",
            Weight.BLACK,
            "weiss",
            max_size=560,
            min_size=160,
            max_lines=3,
            line_spacing=0.98,
            valign="bottom",
        ),
        TextBox(
            "subtitle",
            Box(240, 1900, 1900, 420),
            "Betriebe, Azubis und Ausbildung in der Altmark",
            Weight.BOLD,
            "weiss",
            max_size=150,
            min_size=90,
            max_lines=3,
        ),
    ),
)


def render_cover(title: str) -> Rendered:
    """The cover with the podcast's title; the same title gives the same bytes."""
    return render(COVER, {"title": title})
