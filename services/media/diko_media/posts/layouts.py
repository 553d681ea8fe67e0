"""The post layouts: the images companies copy and the network publishes, in two formats.

Every layout is a value built from one frame: a night-blue strip with the network's logo
(or, when the post carries a company logo, that logo on a white plate), a headline on
the ground, a white card with the post's facts, and a rapeseed band at the foot. The
ground and the text on it are roles (`grund`, `grund_text`) a company's colour may take
over; the card and the band keep the brand's colours. Portrait is Instagram's 4:5
(1080 × 1350), square its 1:1 (1080 × 1080). A carousel is a tuple of layouts, one per
slide.

`LAYOUTS` holds every single image by name (`<kind>_<format>[_<slide>]`); `SLIDES` gives
the slides of each kind and format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from diko_media.graphics.brand import Weight
from diko_media.graphics.layout import (
    Box,
    Circle,
    CompanyLogo,
    Layout,
    Logo,
    Pin,
    Rect,
    Shape,
    TextBox,
)
from diko_shared.contract.media import PostFormat, PostKind

WIDTH = 1080
#: The canvas height of each format.
HEIGHTS: Mapping[str, int] = {"portrait": 1350, "square": 1080}
STRIP = 200
MARGIN = 80
INNER = 112  # left edge of text inside the card


@dataclass(frozen=True)
class Frame:
    """Where the parts of a post sit in one format."""

    height: int
    headline: Box
    rule_y: int
    card: Box
    band: Box

    @property
    def scale(self) -> float:
        """How much smaller the card is than the portrait's: text sizes follow it."""
        return self.card.height / 652


FRAMES: Mapping[str, Frame] = {
    "portrait": Frame(
        height=1350,
        headline=Box(MARGIN, 214, 920, 172),
        rule_y=404,
        card=Box(56, 440, 968, 652),
        band=Box(0, 1132, WIDTH, 218),
    ),
    "square": Frame(
        height=1080,
        headline=Box(MARGIN, 212, 920, 120),
        rule_y=348,
        card=Box(56, 382, 968, 460),
        band=Box(0, 874, WIDTH, 206),
    ),
}


def _px(size: float, frame: Frame, floor: int = 28) -> int:
    return max(floor, round(size * frame.scale))


def _frame_shapes(frame: Frame) -> tuple[Shape, ...]:
    return (
        Rect(Box(0, 0, WIDTH, STRIP), "nachtblau"),
        Circle(1046, 34, 166, "tiefblau", when="no_logo"),
        Circle(1046, 34, 84, "raps", when="no_logo"),
        Logo(58, 52, 400),
        CompanyLogo(Box(724, 36, 316, 128)),
        Rect(Box(MARGIN, frame.rule_y, 150, 14), "raps", radius=7),
        Rect(frame.card, "weiss", radius=40),
        Rect(frame.band, "raps"),
    )


def _headline(frame: Frame, text: str) -> TextBox:
    box = frame.headline
    return TextBox(
        "headline",
        box,
        text,
        Weight.BLACK,
        "grund_text",
        max_size=132 if frame.height > 1080 else 112,
        min_size=72,
        max_lines=2,
        line_spacing=1.0,
        valign="bottom",
        on="grund",
    )


def _band(frame: Frame, first: str, second: str) -> tuple[TextBox, TextBox]:
    band = frame.band
    top = band.y + round(band.height * 0.15)
    return (
        TextBox(
            "band_1",
            Box(MARGIN, top, 920, 76),
            first,
            Weight.BLACK,
            "nachtblau",
            max_size=64,
            min_size=36,
            max_lines=1,
            on="raps",
        ),
        TextBox(
            "band_2",
            Box(MARGIN, top + 92, 920, 52),
            second,
            Weight.BOLD,
            "nachtblau",
            max_size=38,
            min_size=28,
            max_lines=1,
            on="raps",
        ),
    )


def _label(name: str, frame: Frame, y: int, text: str) -> TextBox:
    return TextBox(
        name,
        Box(INNER, y, 856, 40),
        text,
        Weight.BOLD,
        "tanne",
        max_size=30,
        min_size=28,
        max_lines=1,
        uppercase=True,
        on="weiss",
    )


def _at(frame: Frame, fraction: float) -> int:
    """A height inside the card, as a fraction of it."""
    return frame.card.y + round(frame.card.height * fraction)


def _span(frame: Frame, start: float, end: float) -> tuple[int, int]:
    top = _at(frame, start)
    return top, _at(frame, end) - top


def _text(
    name: str,
    frame: Frame,
    start: float,
    end: float,
    template: str,
    *,
    weight: Weight = Weight.BOLD,
    colour: str = "tinte",
    size: tuple[int, int] = (52, 30),
    lines: int = 3,
    left: int = INNER,
    valign: str = "middle",
) -> TextBox:
    top, height = _span(frame, start, end)
    return TextBox(
        name,
        Box(left, top, WIDTH - INNER - left, height),
        template,
        weight,
        colour,
        max_size=_px(size[0], frame),
        min_size=min(_px(size[0], frame), _px(size[1], frame)),
        max_lines=lines,
        line_spacing=1.08,
        valign=valign,  # type: ignore[arg-type]
        on="weiss",
    )


def _rule(frame: Frame, fraction: float) -> Rect:
    return Rect(Box(INNER, _at(frame, fraction), 856, 3), "himmel")


def _pin_row(frame: Frame, name: str, start: float, end: float, template: str) -> list:
    top, height = _span(frame, start, end)
    pin = Pin(INNER, top + (height - 47) // 2, 36, "wiese", "weiss")
    text = TextBox(
        name,
        Box(INNER + 52, top, 804, height),
        template,
        Weight.BOLD,
        "nachtblau",
        max_size=_px(40, frame),
        min_size=_px(30, frame),
        max_lines=1,
        valign="middle",
        on="weiss",
    )
    return [pin, text]


def _layout(name: str, frame: Frame, shapes: list[Shape], texts: list[TextBox]) -> Layout:
    return Layout(
        name=name,
        width=WIDTH,
        height=frame.height,
        background="grund",
        shapes=(*_frame_shapes(frame), *shapes),
        texts=tuple(texts),
    )


# -- the kinds ---------------------------------------------------------------------------------


def azubi_gesucht(fmt: str) -> tuple[Layout, ...]:
    """An open training position: occupation, company, town, start."""
    f = FRAMES[fmt]
    pin, town = _pin_row(f, "town", 0.86, 0.96, "{town}")
    return (
        _layout(
            f"azubi_gesucht_{fmt}",
            f,
            [_rule(f, 0.595), pin],
            [
                _headline(f, "Azubi gesucht!"),
                _label("occupation_label", f, _at(f, 0.07), "Ausbildung als"),
                _text(
                    "occupation",
                    f,
                    0.16,
                    0.56,
                    "{occupation}",
                    weight=Weight.BLACK,
                    colour="nachtblau",
                    size=(104, 44),
                ),
                _label("company_label", f, _at(f, 0.635), "Dein Ausbildungsbetrieb"),
                _text("company", f, 0.70, 0.86, "{company}", size=(52, 30), lines=2),
                town,
                *_band(f, "Start {start}", "Jetzt bewerben und in der Altmark durchstarten!"),
            ],
        ),
    )


def success(fmt: str) -> tuple[Layout, ...]:
    """A filled position: who trains whom, and a few words from the new Azubi."""
    f = FRAMES[fmt]
    pin, town = _pin_row(f, "town", 0.86, 0.96, "{town}")
    return (
        _layout(
            f"success_{fmt}",
            f,
            [_rule(f, 0.575), pin],
            [
                _headline(f, "Platz besetzt!"),
                _label("label", f, _at(f, 0.07), "Neu im Team: Azubi als"),
                _text(
                    "occupation",
                    f,
                    0.14,
                    0.38,
                    "{occupation}",
                    weight=Weight.BLACK,
                    colour="nachtblau",
                    size=(88, 40),
                    lines=2,
                ),
                _text("company", f, 0.40, 0.55, "bei {company}", size=(46, 30), lines=2),
                _text(
                    "message",
                    f,
                    0.60,
                    0.85,
                    "{message}",
                    weight=Weight.REGULAR,
                    size=(42, 30),
                    lines=3,
                ),
                town,
                *_band(f, "{start_line}", "Danke an alle, die dabei geholfen haben!"),
            ],
        ),
    )


def episode(fmt: str) -> tuple[Layout, ...]:
    """A new podcast episode: its title, who is to be heard, its number."""
    f = FRAMES[fmt]
    return (
        _layout(
            f"episode_{fmt}",
            f,
            [_rule(f, 0.66)],
            [
                _headline(f, "Neue Podcastfolge"),
                _label("label", f, _at(f, 0.07), "DIKO trifft… {number}"),
                _text(
                    "title",
                    f,
                    0.15,
                    0.62,
                    "{title}",
                    weight=Weight.BLACK,
                    colour="nachtblau",
                    size=(80, 40),
                ),
                _label("guest_label", f, _at(f, 0.70), "Zu Gast"),
                _text("guest", f, 0.77, 0.95, "{guest}", size=(48, 30), lines=2),
                *_band(f, "Jetzt reinhören!", "Überall, wo es Podcasts gibt – Link in der Bio"),
            ],
        ),
    )


def presentation(fmt: str) -> tuple[Layout, ...]:
    """A company presents itself: three slides (who, facts, training and contact)."""
    f = FRAMES[fmt]
    pin, place = _pin_row(f, "place", 0.46, 0.56, "{place}")
    first = _layout(
        f"presentation_{fmt}_1",
        f,
        [pin, _rule(f, 0.60)],
        [
            _headline(f, "Wir stellen vor"),
            _label("label", f, _at(f, 0.07), "Unternehmen aus der Altmark"),
            _text(
                "company",
                f,
                0.14,
                0.44,
                "{company}",
                weight=Weight.BLACK,
                colour="nachtblau",
                size=(84, 40),
            ),
            place,
            _text("about", f, 0.64, 0.95, "{about}", size=(42, 30), lines=4, valign="top"),
            *_band(f, "Mehr erfahren", "Zum nächsten Bild wischen →"),
        ],
    )
    facts = [
        _text(
            f"fact_{n}",
            f,
            0.08 + 0.30 * (n - 1),
            0.32 + 0.30 * (n - 1),
            f"{{fact_{n}}}",
            weight=Weight.BLACK,
            colour="nachtblau",
            size=(64, 36),
            lines=2,
            left=INNER + 52,
        )
        for n in (1, 2, 3)
    ]
    bullets: list[Shape] = [
        Circle(INNER + 14, _at(f, 0.20 + 0.30 * (n - 1)), 14, "raps") for n in (1, 2, 3)
    ]
    second = _layout(
        f"presentation_{fmt}_2",
        f,
        bullets,
        [
            _headline(f, "Das sind wir"),
            *facts,
            *_band(f, "{company_short}", "Ausbildung in der Altmark"),
        ],
    )
    third = _layout(
        f"presentation_{fmt}_3",
        f,
        [_rule(f, 0.66)],
        [
            _headline(f, "Bewirb dich!"),
            _label("label", f, _at(f, 0.07), "Wir bilden aus"),
            _text(
                "occupations",
                f,
                0.15,
                0.62,
                "{occupations}",
                weight=Weight.BLACK,
                colour="nachtblau",
                size=(72, 36),
                lines=4,
            ),
            _label("contact_label", f, _at(f, 0.70), "Kontakt"),
            _text("contact", f, 0.77, 0.95, "{contact}", size=(44, 30), lines=2),
            *_band(f, "Wir freuen uns auf dich!", "Vermittelt von DIKO Altmark"),
        ],
    )
    return first, second, third


def fair(fmt: str) -> tuple[Layout, ...]:
    """An applicant fair: the date and place, then how to take part."""
    f = FRAMES[fmt]
    pin, town = _pin_row(f, "town", 0.86, 0.96, "{town}")
    first = _layout(
        f"fair_{fmt}_1",
        f,
        [_rule(f, 0.52), pin],
        [
            _headline(f, "Bewerberbörse"),
            _label("label", f, _at(f, 0.07), "{title}"),
            _text(
                "day",
                f,
                0.15,
                0.36,
                "{day}",
                weight=Weight.BLACK,
                colour="nachtblau",
                size=(72, 40),
                lines=2,
            ),
            _text("time", f, 0.37, 0.49, "{time}", colour="nachtblau", size=(52, 32), lines=1),
            _label("venue_label", f, _at(f, 0.56), "Ort"),
            _text("venue", f, 0.63, 0.85, "{venue}", size=(46, 30), lines=2),
            town,
            *_band(f, "{band}", "Gespräche mit Betrieben aus der Altmark"),
        ],
    )
    steps = [
        _text(
            f"step_{n}",
            f,
            0.06 + 0.31 * (n - 1),
            0.33 + 0.31 * (n - 1),
            text,
            weight=Weight.BOLD,
            colour="tinte",
            size=(50, 30),
            lines=2,
            left=INNER + 96,
        )
        for n, text in (
            (1, "Bei DIKO Altmark anmelden"),
            (2, "Wunschbetriebe nennen"),
            (3, "Mit Lebenslauf zu den Gesprächen kommen"),
        )
    ]
    numbers = [
        TextBox(
            f"number_{n}",
            Box(INNER, _at(f, 0.06 + 0.31 * (n - 1)), 80, _span(f, 0.06, 0.33)[1]),
            str(n),
            Weight.BLACK,
            "nachtblau",
            max_size=_px(96, f),
            min_size=_px(60, f),
            max_lines=1,
            valign="middle",
            on="weiss",
        )
        for n in (1, 2, 3)
    ]
    second = _layout(
        f"fair_{fmt}_2",
        f,
        [],
        [
            _headline(f, "So machst du mit"),
            *numbers,
            *steps,
            *_band(
                f, "Anmeldung: Link in der Bio", "Kostenlos für alle, die eine Ausbildung suchen"
            ),
        ],
    )
    return first, second


BUILDERS = {
    "azubi_gesucht": azubi_gesucht,
    "success": success,
    "episode": episode,
    "presentation": presentation,
    "fair": fair,
}

#: The slides of every kind in every format.
SLIDES: Mapping[tuple[str, str], tuple[Layout, ...]] = {
    (kind, fmt): build(fmt) for kind, build in BUILDERS.items() for fmt in HEIGHTS
}

#: Every single layout by name.
LAYOUTS: Mapping[str, Layout] = {
    layout.name: layout for slides in SLIDES.values() for layout in slides
}

#: The "Azubi gesucht" post in portrait, as drafted for every opened position.
AZUBI_GESUCHT = LAYOUTS["azubi_gesucht_portrait"]


def slides(kind: PostKind, fmt: PostFormat) -> tuple[Layout, ...]:
    return SLIDES[(kind, fmt)]
