"""The post layouts: Instagram portrait images that the companies copy.

Each layout is a value: new layouts are added here and registered in `LAYOUTS`. The
fields a post supplies are named in the templates (`{company}`, `{occupation}`, ...).
"""

from __future__ import annotations

from collections.abc import Mapping

from diko_media.graphics.brand import Weight
from diko_media.graphics.layout import Box, Circle, Layout, Logo, Pin, Rect, TextBox

#: Instagram's portrait format (4:5), the largest it shows in the feed.
PORTRAIT = (1080, 1350)

CARD = Box(56, 452, 968, 640)
BAND_TOP = 1132

AZUBI_GESUCHT = Layout(
    name="azubi_gesucht",
    width=PORTRAIT[0],
    height=PORTRAIT[1],
    background="nachtblau",
    shapes=(
        Circle(1046, 34, 224, "tiefblau"),
        Circle(1046, 34, 112, "raps"),
        Logo(58, 48, 400),
        Rect(Box(80, 404, 150, 14), "raps", radius=7),
        Rect(CARD, "weiss", radius=40),
        Rect(Box(112, 826, 856, 3), "himmel"),
        Pin(112, 1030, 36, "wiese", "weiss"),
        Rect(Box(0, BAND_TOP, 1080, 1350 - BAND_TOP), "raps"),
    ),
    texts=(
        TextBox(
            "headline",
            Box(80, 136, 920, 250),
            "Azubi gesucht!",
            Weight.BLACK,
            "weiss",
            max_size=132,
            min_size=88,
            max_lines=2,
            line_spacing=1.0,
            valign="bottom",
        ),
        TextBox(
            "occupation_label",
            Box(112, 500, 856, 40),
            "Ausbildung als",
            Weight.BOLD,
            "wiese",
            max_size=30,
            min_size=28,
            max_lines=1,
            uppercase=True,
        ),
        TextBox(
            "occupation",
            Box(112, 552, 856, 250),
            "{occupation}",
            Weight.BLACK,
            "nachtblau",
            max_size=104,
            min_size=44,
            max_lines=3,
            line_spacing=1.05,
            valign="middle",
        ),
        TextBox(
            "company_label",
            Box(112, 850, 856, 40),
            "Dein Ausbildungsbetrieb",
            Weight.BOLD,
            "wiese",
            max_size=30,
            min_size=28,
            max_lines=1,
            uppercase=True,
        ),
        TextBox(
            "company",
            Box(112, 898, 856, 120),
            "{company}",
            Weight.BOLD,
            "tinte",
            max_size=52,
            min_size=30,
            max_lines=3,
            line_spacing=1.1,
            valign="middle",
        ),
        TextBox(
            "town",
            Box(164, 1028, 804, 52),
            "{town}",
            Weight.BOLD,
            "nachtblau",
            max_size=40,
            min_size=30,
            max_lines=1,
            valign="middle",
        ),
        TextBox(
            "start",
            Box(80, 1164, 920, 76),
            "Start {start}",
            Weight.BLACK,
            "nachtblau",
            max_size=64,
            min_size=40,
            max_lines=1,
        ),
        TextBox(
            "call",
            Box(80, 1256, 920, 52),
            "Jetzt bewerben und in der Altmark durchstarten!",
            Weight.BOLD,
            "nachtblau",
            max_size=38,
            min_size=28,
            max_lines=1,
        ),
    ),
)

LAYOUTS: Mapping[str, Layout] = {layout.name: layout for layout in (AZUBI_GESUCHT,)}
