"""Posts from drafts to Instagram: what a draft holds, how it is rendered, and which step
may follow which. Pure rules; the handlers do the I/O.

A post is `draft` until the company's contact person (or staff) approves or rejects it.
Approved, staff schedule it; at its time the publisher takes it (`publishing`) and it
ends `published` or `failed`. Nothing is published without approval, and nothing of a
company without its consent to social-media posts: a withdrawn consent takes a post that
is not yet published out of the queue (`withheld`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PIL import Image

from diko_media.graphics.brand import BRAND, Palette
from diko_media.graphics.contrast import AA_NORMAL, as_hex, hex_rgb, ratio
from diko_media.graphics.render import Rendered, render
from diko_media.links import Links
from diko_media.posts.content import Written
from diko_media.posts.layouts import slides
from diko_shared.brand import COLOURS
from diko_shared.contract.envelope import ErrorDetail
from diko_shared.contract.media import Post, PostFormat, Slide
from diko_shared.messaging.errors import Conflict, Invalid, NotFound

#: Candidates for text on a company's colour, the brand's first.
TEXT_ON_COLOUR = ("weiss", "tinte")
CONSENT_PURPOSE = "social_media"


def unknown_post(post_id: str) -> NotFound:
    return NotFound(
        f"Einen Post {post_id} gibt es nicht.",
        [ErrorDetail(field="data.post_id", problem="unbekannter Post")],
    )


STATUS_WORDS = {
    "draft": "wartet auf Freigabe",
    "approved": "ist freigegeben",
    "scheduled": "ist eingeplant",
    "publishing": "wird gerade veröffentlicht",
    "published": "ist veröffentlicht",
    "rejected": "wurde abgelehnt",
    "failed": "konnte nicht veröffentlicht werden",
    "withheld": "wurde zurückgezogen, weil die Einwilligung widerrufen ist",
}


def wrong_status(post_id: str, status: str, action: str) -> Conflict:
    return Conflict(
        f"Der Post {post_id} {STATUS_WORDS.get(status, status)} und kann nicht mehr {action} "
        "werden.",
        [ErrorDetail(field="data.post_id", problem=f"Status {status}")],
    )


# -- the company's look ------------------------------------------------------------------------


def themed_palette(colour: str) -> Palette:
    """The brand's palette with the company's colour as the ground, its text in white or
    the brand's ink, whichever reads better; refused below WCAG AA."""
    ground = hex_rgb(colour)
    best = max(TEXT_ON_COLOUR, key=lambda name: ratio(BRAND.rgb(name), ground))
    reached = ratio(BRAND.rgb(best), ground)
    if reached < AA_NORMAL:
        message = (
            f"Auf der Farbe {as_hex(ground)} ist weder weiße noch dunkle Schrift gut genug "
            f"lesbar (bestenfalls {reached:.2f}:1, nötig sind {AA_NORMAL}:1 nach WCAG AA). "
            "Bitte wählen Sie eine hellere oder dunklere Farbe."
        )
        raise Invalid(message, [ErrorDetail(field="data.look.colour", problem=message)])
    return BRAND.with_colours(grund=as_hex(ground), grund_text=COLOURS[best])


def check_contrast(kind: str, fmt: PostFormat, palette: Palette) -> None:
    """Every text box of every slide reaches AA on what it sits on (raises Invalid)."""
    problems = [p for layout in slides(kind, fmt) for p in layout.contrast_problems(palette)]  # type: ignore[arg-type]
    if problems:
        message = "Mit diesen Farben ist Text zu schwach lesbar: " + "; ".join(problems)
        raise Invalid(message, [ErrorDetail(field="data.look.colour", problem=message)])


# -- rendering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlideImage:
    png: bytes | None
    jpeg: bytes
    png_sha256: str | None
    jpeg_sha256: str


@dataclass(frozen=True)
class RenderedSlide:
    image: SlideImage
    width: int
    height: int


def render_slides(
    written: Written,
    fmt: PostFormat,
    *,
    palette: Palette | None = None,
    logo: Image.Image | None = None,
    png: bool = True,
) -> list[RenderedSlide]:
    """Every slide of a written post as JPEG and, with `png`, as PNG: the pixels that
    `render_stored` draws from the post once it is stored."""
    result = []
    for layout, fields in zip(slides(written.kind, fmt), written.slides, strict=True):
        drawn = render(layout, fields, palette=palette, logo=logo, png=png, jpeg=True)
        assert drawn.jpeg is not None
        image = SlideImage(
            png=drawn.png,
            jpeg=drawn.jpeg,
            png_sha256=hashlib.sha256(drawn.png).hexdigest() if drawn.png else None,
            jpeg_sha256=hashlib.sha256(drawn.jpeg).hexdigest(),
        )
        result.append(RenderedSlide(image, drawn.width, drawn.height))
    return result


def render_stored(
    post: Mapping[str, Any],
    number: int,
    *,
    palette: Palette | None = None,
    logo: Image.Image | None = None,
    png: bool = True,
    jpeg: bool = False,
) -> Rendered:
    """Slide `number` of a stored post, from the fields, format and look it was drafted
    with, as the files asked for: the same pixels whenever it is drawn (rendering is
    deterministic)."""
    layout = slides(post["kind"], post["format"])[number - 1]
    fields = post["slides"][number - 1]["fields"]
    return render(layout, fields, palette=palette, logo=logo, png=png, jpeg=jpeg)


# -- documents ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A post as a handler drafts it, before it is stored."""

    post_id: str
    written: Written
    fmt: PostFormat
    company_id: str | None
    company_name: str | None
    position_id: str | None = None
    episode_id: str | None = None
    look: Mapping[str, Any] | None = None
    drafted_by: str | None = None
    source: str = "staff"


def document(draft: Draft, *, now: datetime) -> dict[str, Any]:
    """The post as stored: its slides' fields and sizes, not their pixels, which the first
    request of each slide renders (`slide_files`)."""
    layouts = slides(draft.written.kind, draft.fmt)
    return {
        "_id": draft.post_id,
        "kind": draft.written.kind,
        "format": draft.fmt,
        "status": "draft",
        "company_id": draft.company_id,
        "company_name": draft.company_name,
        "position_id": draft.position_id,
        "episode_id": draft.episode_id,
        "caption": draft.written.caption,
        "hashtags": list(draft.written.hashtags),
        "slides": [
            {
                "fields": fields,
                "alt_text": alt,
                "width": layout.width,
                "height": layout.height,
            }
            for fields, alt, layout in zip(
                draft.written.slides, draft.written.alt_texts, layouts, strict=True
            )
        ],
        "look": dict(draft.look) if draft.look else None,
        "drafted_by": draft.drafted_by,
        "source": draft.source,
        "created_at": now,
    }


def consent_of(post: Mapping[str, Any], company: Mapping[str, Any] | None) -> str:
    """The company's consent to social-media posts as media knows it."""
    if not post.get("company_id"):
        return "not_needed"
    state = ((company or {}).get("consents", {}).get(CONSENT_PURPOSE) or {}).get("status")
    return state if state in ("given", "withdrawn") else "unknown"


def reply(post: Mapping[str, Any], links: Links, company: Mapping[str, Any] | None) -> Post:
    """The post as `post.get` and the commands answer it."""
    post_id = post["_id"]
    stored = post.get("slides") or []
    slide_list = [
        Slide(
            image_url=links.slide_png(post_id, number),
            jpeg_url=links.slide_jpeg(post_id, number),
            alt_text=slide["alt_text"],
            width=slide["width"],
            height=slide["height"],
        )
        for number, slide in enumerate(stored, 1)
    ]
    first = stored[0] if stored else (post.get("image") or {"width": 1080, "height": 1350})
    approval = post.get("approval") or {}
    instagram = post.get("instagram") or {}
    return Post.from_stored(
        {
            "post_id": post_id,
            "kind": post["kind"],
            "status": post["status"],
            "format": post.get("format", "portrait"),
            "company_id": post.get("company_id"),
            "position_id": post.get("position_id"),
            "episode_id": post.get("episode_id"),
            "caption": post["caption"],
            "hashtags": list(post["hashtags"]),
            "image_url": links.post_image(post_id),
            "image_width": first["width"],
            "image_height": first["height"],
            "alt_text": stored[0]["alt_text"] if stored else None,
            "slides": [s.model_dump() for s in slide_list],
            "consent": consent_of(post, company),
            "approved_by": approval.get("by"),
            "approved_at": approval.get("at"),
            "rejected_reason": (post.get("rejection") or {}).get("reason"),
            "publish_at": post.get("publish_at"),
            "published_at": instagram.get("published_at"),
            "instagram_media_id": instagram.get("media_id"),
            "permalink": instagram.get("permalink"),
            "failure": (post.get("failure") or {}).get("reason"),
            "created_at": post["created_at"],
        }
    )
