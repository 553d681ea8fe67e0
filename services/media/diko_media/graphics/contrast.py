"""Contrast of text on colour as WCAG 2.x measures it: relative luminance and their ratio.

A post's text must stay readable when a company brings its own colour: layouts check
every text box against the colour it sits on, and a company's colour is refused when
neither white nor the network's dark ink reaches AA on it.
"""

from __future__ import annotations

from diko_media.graphics.brand import RGB

#: WCAG 2.x level AA for normal text. Post text is small on a phone (a 1080 px image
#: shown 390 px wide), so every text box is held to it, not to the 3:1 of large text.
AA_NORMAL = 4.5


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: RGB) -> float:
    """Relative luminance, 0 (black) to 1 (white)."""
    red, green, blue = colour
    return 0.2126 * _channel(red) + 0.7152 * _channel(green) + 0.0722 * _channel(blue)


def ratio(first: RGB, second: RGB) -> float:
    """The contrast ratio of two colours, 1 to 21, whichever is lighter."""
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def hex_rgb(value: str) -> RGB:
    """`(122, 46, 31)` for `#7A2E1F`."""
    text = value.lstrip("#")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def shade(colour: RGB, amount: float) -> RGB:
    """`colour` mixed with black (amount > 0) or white (amount < 0)."""
    target = 0 if amount > 0 else 255
    weight = abs(amount)
    red, green, blue = (round(c + (target - c) * weight) for c in colour)
    return red, green, blue


def as_hex(colour: RGB) -> str:
    return "#{:02X}{:02X}{:02X}".format(*colour)
