"""The post layout and the renderer, without servers: size, fitting, umlauts, determinism,
and the German caption with its hashtags."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import date

import pytest
from PIL import Image, ImageChops

from diko_media.graphics.brand import Weight
from diko_media.graphics.layout import MIN_LEGIBLE_PX, Box, Layout, TextBox
from diko_media.graphics.render import ELLIPSIS, coverage, render
from diko_media.podcast.cover import COVER_SIZE, render_cover
from diko_media.posts import caption, content
from diko_media.posts.layouts import AZUBI_GESUCHT, LAYOUTS
from diko_shared.contract.media import AzubiContent

LPG = "Landwirtschaftliche Produktions- und Vermarktungsgenossenschaft Altmärkische Wische eG"
TISCHLEREI = {
    "company": "Tischlerei Müller GmbH",
    "occupation": "Tischler/in",
    "town": "Stendal",
    "start": "ab 1. August 2027",
}
LONG = {
    "company": LPG,
    "occupation": "Anlagenmechaniker/in für Sanitär-, Heizungs- und Klimatechnik",
    "town": "Osterburg (Altmark)",
    "start": "ab 1. September 2027",
}
#: The longest a name may be (200 characters), and a word longer than any line.
EXTREME = {
    "company": (LPG + " ") * 2 + "Tangermünder Öko-Straße",
    "occupation": "Fachverkäufer/in im Lebensmittelhandwerk (Fleischerei) " * 3,
    "town": "Hohenberg-Krusemark Schönhausen (Elbe) Arendsee (Altmark) Tangermünde",
    "start": "ab 31. Dezember 2099",
}
ONE_WORD = {
    **TISCHLEREI,
    "company": "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft",
}
CASES = {"short": TISCHLEREI, "long": LONG, "extreme": EXTREME, "one_word": ONE_WORD}


def pixels(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def ink_bounds(spec: TextBox, text_values: dict[str, str]) -> tuple[int, int, int, int] | None:
    """Where one text box really puts ink: rendered alone on a blank canvas, then compared."""
    alone = Layout(
        name="probe",
        width=AZUBI_GESUCHT.width,
        height=AZUBI_GESUCHT.height,
        background="weiss",
        texts=(replace(spec, colour="tinte", on="weiss"),),
    )
    drawn = pixels(render(alone, text_values).png)
    blank = Image.new("RGB", drawn.size, (255, 255, 255))
    return ImageChops.difference(drawn, blank).getbbox()


def test_the_post_is_an_instagram_portrait() -> None:
    image = pixels(render(AZUBI_GESUCHT, TISCHLEREI).png)
    assert image.format == "PNG"
    assert image.size == (1080, 1350)
    assert image.mode == "RGB"


def test_the_layout_shows_company_occupation_town_and_start() -> None:
    assert AZUBI_GESUCHT.fields == {"company", "occupation", "town", "start"}
    placed = render(AZUBI_GESUCHT, TISCHLEREI)
    assert placed.text("company").text == "Tischlerei Müller GmbH"
    assert placed.text("occupation").text == "Tischler/in"
    assert placed.text("town").text == "Stendal"
    assert placed.text("band_1").text == "Start ab 1. August 2027"


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_text_leaves_its_box(case: str) -> None:
    """Measured twice: the bounds the renderer reports, and the pixels each box inks alone."""
    values = CASES[case]
    rendered = render(AZUBI_GESUCHT, values)
    for spec in AZUBI_GESUCHT.texts:
        placed = rendered.text(spec.name)
        assert placed.bounds is not None
        assert spec.box.contains(placed.bounds), (spec.name, placed.bounds, spec.box)
        inked = ink_bounds(spec, values)
        assert inked is not None
        assert spec.box.contains(inked), (spec.name, inked, spec.box)  # right, bottom exclusive


@pytest.mark.parametrize("case", sorted(CASES))
def test_text_is_never_smaller_than_the_minimum(case: str) -> None:
    rendered = render(AZUBI_GESUCHT, CASES[case])
    for spec in AZUBI_GESUCHT.texts:
        placed = rendered.text(spec.name)
        assert MIN_LEGIBLE_PX <= spec.min_size <= placed.size <= spec.max_size
        assert len(placed.lines) <= spec.max_lines


def test_a_long_name_wraps_and_shrinks_but_stays_whole() -> None:
    placed = render(AZUBI_GESUCHT, LONG).text("company")
    spec = next(t for t in AZUBI_GESUCHT.texts if t.name == "company")
    assert not placed.truncated
    assert len(placed.lines) >= 2
    assert spec.min_size <= placed.size < spec.max_size
    assert " ".join(placed.lines) == LPG


def test_a_short_name_keeps_the_largest_size() -> None:
    placed = render(AZUBI_GESUCHT, TISCHLEREI).text("company")
    spec = next(t for t in AZUBI_GESUCHT.texts if t.name == "company")
    assert placed.size == spec.max_size
    assert placed.lines == ("Tischlerei Müller GmbH",)


def test_what_cannot_fit_at_the_minimum_size_ends_in_an_ellipsis() -> None:
    rendered = render(AZUBI_GESUCHT, EXTREME)
    for name in ("company", "occupation", "town"):
        placed = rendered.text(name)
        spec = next(t for t in AZUBI_GESUCHT.texts if t.name == name)
        assert placed.truncated
        assert placed.size == spec.min_size
        assert placed.lines[-1].endswith(ELLIPSIS)


def test_a_word_longer_than_the_line_breaks_between_letters_at_the_minimum() -> None:
    placed = render(AZUBI_GESUCHT, ONE_WORD).text("company")
    spec = next(t for t in AZUBI_GESUCHT.texts if t.name == "company")
    assert placed.size == spec.min_size
    assert len(placed.lines) >= 2
    assert placed.lines[0].endswith("-")
    assert "".join(line.removesuffix("-") for line in placed.lines) == ONE_WORD["company"]


def test_umlauts_have_their_own_glyphs() -> None:
    for weight in Weight:
        assert {ord(c) for c in "äöüÄÖÜß„“–…"} <= coverage(weight)
    spec = TextBox("probe", Box(100, 100, 600, 300), "{text}", Weight.BLACK, "tinte", 120, 120)
    with_dots = ink_bounds(spec, {"text": "ä"})
    without = ink_bounds(spec, {"text": "a"})
    assert with_dots is not None
    assert without is not None
    assert with_dots[1] < without[1]  # the dots reach above the letter
    for umlaut, plain in (("ä", "a"), ("ö", "o"), ("ü", "u"), ("Ä", "A"), ("ß", "s")):
        one = render(_probe(spec), {"text": umlaut}).png
        other = render(_probe(spec), {"text": plain}).png
        assert pixels(one).tobytes() != pixels(other).tobytes(), umlaut


def _probe(spec: TextBox) -> Layout:
    return Layout(name="probe", width=800, height=500, background="weiss", texts=(spec,))


def test_characters_the_font_lacks_are_left_out_not_drawn_as_boxes() -> None:
    values = {**TISCHLEREI, "company": "Tischlerei 🔨 Müller\tGmbH"}
    assert render(AZUBI_GESUCHT, values).text("company").text == "Tischlerei Müller GmbH"


def test_the_same_fields_give_the_same_bytes() -> None:
    first = render(AZUBI_GESUCHT, LONG).png
    assert render(AZUBI_GESUCHT, LONG).png == first
    assert render(AZUBI_GESUCHT, TISCHLEREI).png != first


def test_every_registered_layout_is_valid_and_renders() -> None:
    assert len(LAYOUTS) == 16  # five kinds (eight slides: carousels of three and two) × 2
    for name, layout in LAYOUTS.items():
        assert layout.name == name
        image = pixels(render(layout, dict.fromkeys(layout.fields, "Prüfung")).png)
        assert image.size == (layout.width, layout.height)
        assert (layout.width, layout.height) in ((1080, 1350), (1080, 1080))


def test_a_layout_below_the_legible_minimum_is_refused() -> None:
    small = TextBox("tiny", Box(0, 0, 100, 40), "x", Weight.REGULAR, "tinte", 30, 12)
    with pytest.raises(ValueError, match="min_size"):
        Layout(name="bad", width=200, height=200, background="weiss", texts=(small,))
    with pytest.raises(ValueError, match="colour"):
        Layout(name="bad", width=200, height=200, background="lila")


def test_a_missing_field_is_an_error() -> None:
    with pytest.raises(ValueError, match="town"):
        render(AZUBI_GESUCHT, {k: v for k, v in TISCHLEREI.items() if k != "town"})


def test_the_podcast_cover_is_square_and_large_enough_for_apple() -> None:
    rendered = render_cover("DIKO trifft…")
    image = pixels(rendered.png)
    assert image.size == (COVER_SIZE, COVER_SIZE)
    assert 1400 <= COVER_SIZE <= 3000
    assert image.mode == "RGB"
    assert rendered.text("title").lines == ("DIKO", "trifft…")


# -- caption ------------------------------------------------------------------------------


def test_german_dates() -> None:
    assert caption.german_date(date(2027, 8, 1)) == "1. August 2027"
    assert caption.german_date(date(2028, 3, 15)) == "15. März 2028"
    assert caption.start_phrase(date(2027, 8, 1)) == "ab 1. August 2027"


def test_the_draft_fills_the_layout_and_writes_the_caption() -> None:
    body = AzubiContent(
        occupation="Tischler/in", town="Stendal", start_date=date(2027, 8, 1), places=2
    )
    written = content.azubi(body, "Tischlerei Müller GmbH")
    assert written.slides == (TISCHLEREI,)
    assert written.hashtags == (
        "#Ausbildung", "#Altmark", "#AzubiGesucht", "#Tischler", "#Stendal",
    )  # fmt: skip
    assert written.caption == (
        "Azubi gesucht in Stendal!\n\n"
        "Tischlerei Müller GmbH bildet aus: Tischler/in, Start ab 1. August 2027. "
        "Zwei Ausbildungsplätze sind frei.\n\n"
        "Du suchst eine Ausbildung mit Zukunft in der Altmark? Dann bewirb dich jetzt – "
        "wir bringen dich mit dem Betrieb zusammen.\n\n"
        "#Ausbildung #Altmark #AzubiGesucht #Tischler #Stendal"
    )


def test_one_place_is_said_in_the_singular() -> None:
    assert caption.places_sentence(1) == "Ein Ausbildungsplatz ist frei."
    assert caption.places_sentence(3) == "Drei Ausbildungsplätze sind frei."
    assert caption.places_sentence(40) == "40 Ausbildungsplätze sind frei."


@pytest.mark.parametrize(
    ("occupation", "tag"),
    [
        ("Kaufmann/-frau für Büromanagement", "#KaufmannBüromanagement"),
        ("Anlagenmechaniker/in für Sanitär-, Heizungs- und Klimatechnik", "#Anlagenmechaniker"),
        ("Medizinische/r Fachangestellte/r", "#MedizinischerFachangestellter"),
        ("Koch/Köchin", "#Koch"),
        ("Land- und Baumaschinenmechatroniker/in", "#Baumaschinenmechatroniker"),
        ("Maler/in und Lackierer/in", "#MalerLackierer"),
        ("Fachkraft für Lagerlogistik", "#FachkraftLagerlogistik"),
    ],
)
def test_the_occupation_becomes_a_hashtag(occupation: str, tag: str) -> None:
    assert caption.occupation_hashtag(occupation) == tag


def test_hashtags_hold_only_letters_and_digits_and_appear_once() -> None:
    tags = caption.azubi_hashtags(
        "Fachverkäufer/in im Lebensmittelhandwerk (Bäckerei)", "Osterburg (Altmark)"
    )
    assert tags == [
        "#Ausbildung",
        "#Altmark",
        "#AzubiGesucht",
        "#FachverkäuferLebensmittelhandwerk",
        "#Osterburg",
    ]
    assert all(re.fullmatch(r"#\w+", tag) and "_" not in tag for tag in tags)
    assert caption.azubi_hashtags("Tischler/in", "Altmark").count("#Altmark") == 1
