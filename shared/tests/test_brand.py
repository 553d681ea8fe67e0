"""One brand for every surface: the files it ships, and no surface with colours of its own."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from diko_shared import brand
from diko_shared.brand import COLOURS, FONT_FILES, draw_logo, stylesheet

REPO = Path(__file__).resolve().parents[2]
HEX_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}\b|#[0-9A-Fa-f]{3}\b")
#: Every template and layout that draws what people see.
SURFACES = sorted(
    [
        *REPO.glob("services/*/diko_*/**/templates/*.html"),
        *REPO.glob("services/*/diko_*/**/templates/*.txt"),
        *REPO.glob("services/media/diko_media/posts/*.py"),
        *REPO.glob("services/media/diko_media/podcast/*.py"),
    ]
)
#: The checksums fonts/README.md gives: the files are Debian's, unmodified.
LATO_SHA256 = {
    "Lato-Black.ttf": "19d661d659af129704947b0027e5b77bef2bd43b7ced2973b350225f73fac07c",
    "Lato-Bold.ttf": "e0b1c4de011de8dd077cf21f97919fc31158eb290ee1176cbae06d500a6304bc",
    "Lato-Regular.ttf": "0ad460bd756454f8485609747b25c5644a54d307a65daabbb24c646c112ed541",
}


def test_the_logo_files_are_what_draw_logo_draws() -> None:
    for path, body in draw_logo.drawn().items():
        assert path.read_bytes() == body, f"{path.name}: run python -m diko_shared.brand.draw_logo"


def test_the_logo_names_the_network_and_uses_only_brand_colours() -> None:
    svg = brand.LOGO_SVG.read_text()
    assert f"<title>{brand.NAME}</title>" in svg
    assert f'aria-label="{brand.NAME}"' in svg
    assert "<text" not in svg, "letters are outlines: the logo needs no font"
    assert set(HEX_COLOUR.findall(svg)) <= set(COLOURS.values())


def test_lato_ships_unmodified_with_its_licence() -> None:
    for path in FONT_FILES.values():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == LATO_SHA256[path.name]
    licence = (brand.FONTS_DIR / "OFL.txt").read_text()
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence


def test_the_stylesheet_loads_every_weight_relative_to_itself_and_names_every_colour() -> None:
    css = stylesheet()
    for weight, path in FONT_FILES.items():
        assert (
            f'font-weight: {weight.css}; font-display: swap; src: url("fonts/{path.name}")' in css
        )
    for name, value in COLOURS.items():
        assert f"--{name}: {value};" in css
    assert f"--font: {brand.FONT_STACK};" in css
    assert "http" not in css, "nothing from another host"


def test_colours_are_read_by_name() -> None:
    assert brand.rgb("nachtblau") == (0x12, 0x33, 0x5B)
    assert brand.hex_colour("raps") == "#F5C400"
    with pytest.raises(KeyError, match="lila"):
        brand.rgb("lila")


@pytest.mark.parametrize("surface", SURFACES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_surface_names_a_colour_of_its_own(surface: Path) -> None:
    """E-mails, pages and images take every colour from the brand, by name."""
    assert SURFACES, "no templates found"
    assert HEX_COLOUR.findall(surface.read_text()) == []
