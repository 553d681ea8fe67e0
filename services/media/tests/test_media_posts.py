"""Posts without a server: every kind's words and alt texts, the layouts in both formats
with long texts, a company's colour and logo with the contrast check, and the kit."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime

import pytest
from PIL import Image

from diko_media.graphics.contrast import ratio
from diko_media.posts import content
from diko_media.posts.drafting import (
    Draft,
    check_contrast,
    document,
    render_slides,
    render_stored,
    themed_palette,
)
from diko_media.posts.kit import build_kit
from diko_media.posts.layouts import SLIDES
from diko_shared.brand import rgb
from diko_shared.contract.media import (
    AzubiContent,
    FairContent,
    PresentationContent,
    SuccessContent,
)
from diko_shared.messaging.errors import Invalid

LPG = "Landwirtschaftliche Produktions- und Vermarktungsgenossenschaft Altmärkische Wische eG"
AZUBI = AzubiContent(occupation="Tischler/in", town="Stendal", start_date=date(2027, 8, 1))
SUCCESS = SuccessContent(
    occupation="Kaufmann/-frau für Büromanagement",
    town="Tangermünde",
    start_date=date(2027, 8, 1),
    apprentice="Lena",
    quote="Ich freue mich riesig auf den Start!",
)
PRESENTATION = PresentationContent(
    town="Stendal",
    industry="Handwerk",
    about="Wir bauen Möbel, Treppen und Küchen nach Maß – seit drei Generationen.",
    facts=["seit 1952", "14 Mitarbeitende", "2 Azubis pro Jahr"],
    occupations=["Tischler/in", "Holzmechaniker/in"],
    website="https://www.tischlerei-mueller.example/",
)
FAIR = FairContent(
    title="Bewerberbörse Stendal",
    date=date(2027, 3, 13),
    start="09:00",
    end="13:00",
    venue="Berufsbildende Schulen Stendal",
    town="Stendal",
    companies=12,
)


def every_kind(company: str) -> list[content.Written]:
    return [
        content.azubi(AZUBI, company),
        content.success(SUCCESS, company),
        content.presentation(PRESENTATION, company),
        content.fair(FAIR, company),
        content.episode(
            content.EpisodeFacts("Wie die Tischlerei ihre Azubis findet", 22, ("Jana Müller",),
                                 company)
        ),
    ]  # fmt: skip


def test_every_kind_has_one_german_alt_text_per_slide_naming_what_the_image_says() -> None:
    for written in every_kind("Tischlerei Müller GmbH"):
        assert (
            len(written.alt_texts) == len(written.slides) == len(SLIDES[(written.kind, "portrait")])
        )
        for alt in written.alt_texts:
            assert alt.startswith("Grafik von DIKO Altmark: ")
            assert "{" not in alt
    azubi = content.azubi(AZUBI, "Tischlerei Müller GmbH").alt_texts[0]
    assert "Ausbildung als Tischler/in bei Tischlerei Müller GmbH in Stendal." in azubi
    assert "Start ab 1. August 2027." in azubi
    fair = content.fair(FAIR, "Tischlerei Müller GmbH").alt_texts[0]
    assert "Samstag, 13. März 2027. 9:00 bis 13:00 Uhr." in fair


def test_captions_fit_instagram_and_end_with_the_hashtags() -> None:
    for written in every_kind(LPG):
        assert len(written.caption) <= 2200
        assert written.caption.endswith(" ".join(written.hashtags))
        assert 1 <= len(written.hashtags) <= 30
    success = content.success(SUCCESS, "Tischlerei Müller GmbH")
    assert "„Ich freue mich riesig auf den Start!“ – Lena" in success.caption
    presentation = content.presentation(
        PRESENTATION, "Tischlerei Müller GmbH", "tischlerei.mueller"
    )
    assert "Kontakt: tischlerei-mueller.example" in presentation.caption
    assert "Mehr von dem Betrieb: @tischlerei.mueller" in presentation.caption


@pytest.mark.parametrize("fmt", ["portrait", "square"])
def test_every_kind_renders_in_both_formats_with_long_names_inside_the_boxes(fmt: str) -> None:
    for written in every_kind(LPG):
        rendered = render_slides(written, fmt)  # type: ignore[arg-type]
        for layout, slide in zip(SLIDES[(written.kind, fmt)], rendered, strict=True):
            assert (slide.width, slide.height) == (1080, 1350 if fmt == "portrait" else 1080)
            assert Image.open(io.BytesIO(slide.image.jpeg)).format == "JPEG"
            assert Image.open(io.BytesIO(slide.image.png)).size == (slide.width, slide.height)
            for spec in layout.texts:
                assert spec.min_size >= 28


def test_a_company_colour_takes_the_ground_and_the_text_on_it_stays_readable() -> None:
    dark = themed_palette("#7a2e1f")
    assert dark.colours["grund"] == "#7A2E1F"
    assert dark.colours["grund_text"] == "#FFFFFF"
    light = themed_palette("#F2E6C9")
    assert light.colours["grund_text"] != "#FFFFFF"  # white on cream would not be read
    for palette in (dark, light):
        assert ratio(palette.rgb("grund_text"), palette.rgb("grund")) >= 4.5
        for kind, fmt in SLIDES:
            check_contrast(kind, fmt, palette)


def test_a_colour_on_which_no_text_reaches_aa_is_refused_in_german() -> None:
    # Mid-grey: white and the brand's ink both stay below 4.5:1 on it.
    with pytest.raises(Invalid) as refused:
        themed_palette("#7E7E7E")
    assert "WCAG AA" in refused.value.message
    assert refused.value.details[0].field == "data.look.colour"


def test_the_brands_own_text_colours_pass_aa() -> None:
    assert ratio(rgb("nachtblau"), rgb("raps")) >= 4.5
    for kind, fmt in SLIDES:
        check_contrast(kind, fmt, themed_palette("#12335B"))


def test_a_company_logo_sits_on_a_white_plate_instead_of_the_sun() -> None:
    logo = Image.new("RGBA", (400, 200), (0, 0, 0, 0))
    logo.paste((200, 30, 30, 255), (40, 40, 360, 160))
    written = content.azubi(AZUBI, "Tischlerei Müller GmbH")
    (with_logo,) = render_slides(written, "portrait", logo=logo)
    (without,) = render_slides(written, "portrait")
    image = Image.open(io.BytesIO(with_logo.image.png))
    plain = Image.open(io.BytesIO(without.image.png))
    assert image.getpixel((880, 100)) == (200, 30, 30)  # the logo, in the plate on the strip
    assert image.getpixel((735, 45)) == (255, 255, 255)  # the plate
    assert plain.getpixel((1046, 34)) == rgb("raps")  # the sun, when there is no logo
    assert image.getpixel((1046, 34)) != rgb("raps")


def test_a_stored_draft_draws_the_pixels_of_the_written_post_without_holding_them() -> None:
    """The draft stores fields, sizes and look, no image; `render_stored` draws a slide
    from that later: the very bytes of rendering the written post, look and logo included,
    and one rendering gives both files."""
    logo = Image.new("RGBA", (400, 200), (0, 0, 0, 0))
    logo.paste((200, 30, 30, 255), (40, 40, 360, 160))
    written = content.presentation(PRESENTATION, "Tischlerei Müller GmbH")
    palette = themed_palette("#7a2e1f")
    eager = render_slides(written, "square", palette=palette, logo=logo)
    draft = Draft("pst_0123456789abcdef0123", written, "square", "cmp_0123456789abcdef0123",
                  "Tischlerei Müller GmbH", look={"colour": "#7A2E1F"})  # fmt: skip
    post = document(draft, now=datetime(2026, 12, 3, tzinfo=UTC))
    assert [(s["width"], s["height"]) for s in post["slides"]] == [(1080, 1080)] * 3
    assert all(set(s) == {"fields", "alt_text", "width", "height"} for s in post["slides"])
    for number, slide in enumerate(eager, start=1):
        drawn = render_stored(post, number, palette=palette, logo=logo, png=True, jpeg=True)
        assert (drawn.png, drawn.jpeg) == (slide.image.png, slide.image.jpeg)
        alone = render_stored(post, number, palette=palette, logo=logo, png=False, jpeg=True)
        assert (alone.png, alone.jpeg) == (None, slide.image.jpeg)


def test_the_kit_holds_images_caption_hashtags_alt_texts_and_a_german_how_to() -> None:
    written = content.presentation(PRESENTATION, "Tischlerei Müller GmbH")
    slides = render_slides(written, "portrait")
    post = {
        "_id": "pst_0123456789abcdef0123",
        "caption": written.caption,
        "hashtags": list(written.hashtags),
        "slides": [{"alt_text": alt} for alt in written.alt_texts],
    }
    body = build_kit(post, [s.image.jpeg for s in slides])
    assert body == build_kit(post, [s.image.jpeg for s in slides])  # same post, same bytes
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.namelist() == [
        "bild-1.jpg", "bild-2.jpg", "bild-3.jpg",
        "bildtext.txt", "hashtags.txt", "alternativtext.txt", "anleitung.html",
    ]  # fmt: skip
    assert archive.read("bildtext.txt").decode().strip() == written.caption
    assert archive.read("hashtags.txt").decode().strip() == " ".join(written.hashtags)
    alt = archive.read("alternativtext.txt").decode()
    assert alt.startswith("Bild 1: Grafik von DIKO Altmark: Wir stellen vor.")
    how_to = archive.read("anleitung.html").decode()
    assert '<html lang="de">' in how_to
    assert "So posten Sie Ihren Beitrag auf Instagram" in how_to
    assert "bild-1.jpg, bild-2.jpg, bild-3.jpg" in how_to
    assert "Alternativtext schreiben" in how_to
    assert "http" not in how_to.split("<body>")[1]  # nothing loaded from anywhere


def test_staff_may_replace_caption_or_hashtags() -> None:
    written = content.azubi(AZUBI, "Tischlerei Müller GmbH")
    tagged = content.with_overrides(written, caption_text=None, hashtags=["#Stendal"])
    assert tagged.caption.endswith("\n\n#Stendal")
    assert tagged.hashtags == ("#Stendal",)
    own = content.with_overrides(written, caption_text="Unser Text", hashtags=None)
    assert own.caption == "Unser Text"
