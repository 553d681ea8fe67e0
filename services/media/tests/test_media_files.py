"""Files media takes in, without a server: audio read by mutagen, covers by Apple's rules,
show notes sanitised, transcripts and chapters checked, signed links."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image

from diko_media.files import audio, images, notes
from diko_media.signing import LinkExpired, LinkInvalid, Signer
from diko_shared.contract.media import Chapter, Transcript
from diko_shared.silence import silent_mp3

SECRET = "s" * 40


def test_audio_type_length_and_size_are_read_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "folge.mp3"
    path.write_bytes(silent_mp3(95))
    info = audio.probe(path)
    assert (info.type, info.extension, info.duration_s) == ("audio/mpeg", "mp3", 95)
    assert info.size == path.stat().st_size
    assert info.audio_id == "aud_" + info.sha256[:20]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "leer"),
        (b"Dies ist ein Text und keine Musik.\n" * 200, "keine lesbare Audiodatei"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 4000, "keine lesbare Audiodatei"),
    ],
)
def test_what_is_not_mp3_or_m4a_is_refused_in_german(
    tmp_path: Path, data: bytes, says: str
) -> None:
    path = tmp_path / "datei.mp3"
    path.write_bytes(data)
    with pytest.raises(audio.AudioRefused, match=says):
        audio.probe(path)


def image_bytes(size: tuple[int, int], mode: str = "RGB", fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 128 if mode in ("L", "CMYK") else (18, 51, 91)).save(buffer, format=fmt)
    return buffer.getvalue()


def test_a_cover_apple_takes() -> None:
    info = images.check_cover(image_bytes((1400, 1400)))
    assert (info.type, info.width, info.extension) == ("image/jpeg", 1400, "jpg")
    assert images.check_cover(image_bytes((3000, 3000), fmt="PNG")).type == "image/png"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (image_bytes((1600, 1400)), "quadratisch sein (erhalten: 1600 × 1400 Pixel)"),
        (image_bytes((1000, 1000)), "zwischen 1400 × 1400 und 3000 × 3000 Pixel"),
        (image_bytes((3200, 3200)), "(erhalten: 3200 × 3200 Pixel)"),
        (image_bytes((1400, 1400), "CMYK"), "RGB-Farbraum vorliegen (erhalten: CMYK)"),
        (image_bytes((1400, 1400), "L"), "(erhalten: Graustufen)"),
        (image_bytes((1400, 1400), "RGBA", "PNG"), "(erhalten: RGB mit Transparenz)"),
        (image_bytes((1400, 1400), "RGB", "GIF"), "JPEG- oder PNG-Bild sein (erhalten: GIF)"),
        (b"kein Bild", "keine lesbare Bilddatei"),
    ],
)
def test_a_cover_apple_refuses_is_refused_with_the_rule(data: bytes, says: str) -> None:
    with pytest.raises(images.ImageRefused) as refused:
        images.check_cover(data)
    assert says in str(refused.value)
    assert str(refused.value).endswith(".")


def test_show_notes_keep_text_and_links_and_lose_everything_else() -> None:
    dirty = (
        '<p onclick="steal()">Hallo <strong>Welt</strong><script>alert(1)</script></p>'
        '<a href="javascript:alert(1)">böse</a> <a href="https://gut.example">gut</a>'
        "<style>p{}</style><iframe src=x></iframe><ul><li>eins</li></ul>"
    )
    clean = notes.clean_html(dirty)
    assert "<p>Hallo <strong>Welt</strong></p>" in clean
    assert '<a href="https://gut.example" rel="noopener noreferrer nofollow">gut</a>' in clean
    for gone in ("script", "onclick", "javascript", "style", "iframe"):
        assert gone not in clean
    assert "<ul><li>eins</li></ul>" in clean


def test_transcripts_must_parse_as_webvtt_or_srt() -> None:
    vtt = Transcript(
        format="text/vtt", text="WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n<v Jana>Hallo\n"
    )
    (cue,) = notes.cues(vtt)
    assert (cue.start_s, cue.speaker, cue.text) == (1.0, "Jana", "Hallo")
    srt = Transcript(
        format="application/x-subrip", text="1\r\n00:00:01,000 --> 00:00:03,000\r\nHallo\r\n"
    )
    assert notes.cues(srt)[0].text == "Hallo"
    with pytest.raises(notes.NotesRefused, match="kein gültiges WebVTT"):
        notes.cues(Transcript(format="text/vtt", text="Hallo, ich bin kein Transkript."))
    with pytest.raises(notes.NotesRefused, match="kein gültiges SubRip"):
        notes.cues(Transcript(format="application/x-subrip", text="WEBVTT\n\nnichts"))


def test_chapters_are_sorted_and_checked_against_the_audio() -> None:
    chapters = [Chapter(start_s=95.5, title="Zwei"), Chapter(start_s=0, title="Eins")]
    assert [c.title for c in notes.check_chapters(chapters, 600)] == ["Eins", "Zwei"]
    with pytest.raises(notes.NotesRefused, match="nach dem Ende der Folge"):
        notes.check_chapters(chapters, 60)
    with pytest.raises(notes.NotesRefused, match="zur selben Zeit"):
        notes.check_chapters([Chapter(start_s=5, title="A"), Chapter(start_s=5, title="B")], None)
    body = notes.chapters_json(chapters)
    assert body.startswith(b'{\n  "version": "1.2.0",')
    assert b'"startTime": 0' in body
    assert notes.timestamp(3725) == "1:02:05"
    assert notes.timestamp(95.5) == "1:35"


def test_links_are_signed_expire_and_open_only_their_purpose() -> None:
    now = [1_000_000.0]
    approvals = Signer(SECRET, "approval", timedelta(days=14), clock=lambda: now[0])
    kits = Signer(SECRET, "kit", timedelta(days=14), clock=lambda: now[0])
    token = approvals.token("pst_0123456789abcdef0123")
    assert approvals.read(token) == "pst_0123456789abcdef0123"
    with pytest.raises(LinkInvalid):
        kits.read(token)
    with pytest.raises(LinkInvalid):
        approvals.read(token[:-2] + "xx")
    with pytest.raises(LinkInvalid):
        Signer("t" * 40, "approval", timedelta(days=14)).read(token)
    now[0] += 15 * 86400
    with pytest.raises(LinkExpired) as expired:
        approvals.read(token)
    assert expired.value.subject == "pst_0123456789abcdef0123"
