"""The Jinja2 templates: every e-mail in HTML and plain text, and the action pages.

Both take the brand's colours, typeface and logo from `diko_shared.brand` (the globals
`colour`, `font`, `logo_cid`): e-mails inline (mail clients ignore style sheets and do not
load fonts, so the font stack falls back to web-safe ones; the logo travels inside the
mail as an inline image, `mail.LOGO_CID`), the pages through the brand's style sheet,
which each service serves itself.

Autoescaping is on for `.html` (and for anything else but `.txt`): names come from
other services and from the public, and a company called `<script>…` must arrive as
text. Plain-text templates are not escaped, so that „Müller & Söhne“ stays readable.
Undefined values fail loudly instead of leaving a gap in an e-mail. Every value a
template prints goes through `diko_shared.text.clean` (`finalize`), and so does the
subject: a character the contract refuses, in data stored before it did, is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from diko_notifications.domain import BUTTON, Letter
from diko_shared.brand import COLOURS, FONT_STACK, NAME
from diko_shared.text import as_line, finalize

#: The Content-ID of the logo inside every HTML e-mail (`<img src="cid:…">`).
LOGO_CID = "logo@diko-altmark.brand"

ENVIRONMENT = Environment(
    loader=PackageLoader("diko_notifications", "templates"),
    autoescape=select_autoescape(
        enabled_extensions=("html",), disabled_extensions=("txt",), default=True
    ),
    undefined=StrictUndefined,
    finalize=finalize,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
ENVIRONMENT.globals.update(
    colour=COLOURS, font=FONT_STACK, brand=NAME, logo_cid=LOGO_CID, button=BUTTON
)


@dataclass(frozen=True)
class Rendered:
    """An e-mail's subject and its two bodies."""

    subject: str
    text: str
    html: str


def render_letter(letter: Letter) -> Rendered:
    subject = as_line(letter.subject)
    values = {**letter.values, "subject": subject}
    return Rendered(
        subject=subject,
        text=ENVIRONMENT.get_template(f"{letter.template}.txt").render(values),
        html=ENVIRONMENT.get_template(f"{letter.template}.html").render(values),
    )


def render_page(template: str, values: Mapping[str, Any]) -> str:
    return ENVIRONMENT.get_template(template).render(values)
