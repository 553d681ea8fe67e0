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

E-mail templates are written with one style sheet in `layout.html` and classes; css-inline
then moves every rule into `style` attributes, since many mail clients drop `<style>`
(and nothing is loaded from elsewhere: remote style sheets are off).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import css_inline
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from diko_notifications.domain import BUTTON, Letter
from diko_notifications.recipients import Recipient
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
    # templates are part of the release: no look at the file system per e-mail
    auto_reload=False,
)
ENVIRONMENT.globals.update(
    colour=COLOURS, font=FONT_STACK, brand=NAME, logo_cid=LOGO_CID, button=BUTTON
)


#: Moves the style sheet into the elements; never fetches anything.
INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


@dataclass(frozen=True)
class Rendered:
    """An e-mail's subject and its two bodies."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Footer:
    """The links at the foot of every e-mail: preferences and unsubscribing, and why a
    transactional mail comes anyway."""

    preferences_url: str = ""
    unsubscribe_url: str = ""
    preferences_label: str = "Einstellungen ändern"
    unsubscribe_label: str = "Abbestellen"
    transactional: str = ""


def greeting(recipient: Recipient) -> str:
    """`Hallo Birte Albrecht,` for staff, `Guten Tag Jana Müller,` for a company's contact,
    `Hallo Lena,` for an applicant (their first name is enough)."""
    if recipient.kind == "contact":
        return f"Guten Tag {recipient.name},"
    if recipient.kind == "address" and not recipient.name:
        return "Guten Tag,"
    return f"Hallo {recipient.name},"


def render_letter(letter: Letter, recipient: Recipient, footer: Footer | None = None) -> Rendered:
    subject = as_line(letter.subject)
    values = {
        "young": recipient.young,  # an applicant: a notice says „du“ (a letter may set its own)
        **letter.values,
        "subject": subject,
        "greeting": greeting(recipient),
        "closing": "Viele Grüße",
        "footer": footer or Footer(),
    }
    html = ENVIRONMENT.get_template(f"{letter.template}.html").render(values)
    return Rendered(
        subject=subject,
        text=ENVIRONMENT.get_template(f"{letter.template}.txt").render(values),
        html=INLINER.inline(html),
    )


def render_page(template: str, values: Mapping[str, Any]) -> str:
    return ENVIRONMENT.get_template(template).render(values)
