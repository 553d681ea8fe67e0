"""The contract's rule for text, and the one cleaner every renderer applies to what it shows.

Text in diko ends up in XML (the podcast feed), HTML (pages, e-mails), e-mail headers,
images and file names. XML 1.0 forbids most control characters, lone surrogates and the
non-characters U+FFFE and U+FFFF; one of them in one episode would make the whole feed
unparseable for every podcast app. So the contract refuses, in every text of every
message (the envelope's attributes included):

- the C0 control characters except tab, line feed and carriage return (U+0000–U+001F),
- DEL and the C1 control characters (U+007F–U+009F): no person types them; where they
  appear, text was decoded with the wrong code page,
- surrogates (U+D800–U+DFFF), which are not characters on their own,
- the Unicode non-characters (U+FDD0–U+FDEF and the last two code points of every plane,
  U+FFFE, U+FFFF, U+1FFFE, …).

Tab, line feed and carriage return are allowed in text that may have several lines
(`contract.common.Text`, which also turns CRLF and CR into LF); one-line text (names,
towns, …) refuses them too. Whatever was stored before this rule, or arrives from
elsewhere, goes through `clean` before a renderer shows it.
"""

from __future__ import annotations

import re

#: Characters of no text in the Basic Multilingual Plane, as a regular-expression class.
_NEVER_BMP = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
#: The non-characters of the other planes: U+1FFFE, U+1FFFF, …, U+10FFFF.
_NEVER_ASTRAL = "".join(
    f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(1, 17)
)
#: A character the contract refuses in any text.
FORBIDDEN = re.compile(f"[{_NEVER_BMP}{_NEVER_ASTRAL}]")
#: A character the contract refuses in one line of text: the above, tab, LF and CR.
FORBIDDEN_IN_LINE = re.compile(f"[{_NEVER_BMP}{_NEVER_ASTRAL}\t\n\r]")
# The same split in two, for speed: a class of the BMP only is searched about eight times
# faster than one with characters beyond it, and most text has none of those.
_FORBIDDEN_BMP = re.compile(f"[{_NEVER_BMP}]")
_FORBIDDEN_BMP_IN_LINE = re.compile(f"[{_NEVER_BMP}\t\n\r]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_LINE_ENDS = re.compile(r"\r\n?")
_BREAKS = re.compile(r"[\t\n\r]+")


def refused(text: str, *, one_line: bool = False) -> bool:
    """Whether `text` holds a character the rule refuses (the fast check of `forbidden`)."""
    if (_FORBIDDEN_BMP_IN_LINE if one_line else _FORBIDDEN_BMP).search(text) is not None:
        return True
    if text.isascii() or _ASTRAL.search(text) is None:
        return False
    return FORBIDDEN.search(text) is not None


def forbidden(text: str, *, one_line: bool = False) -> tuple[int, str] | None:
    """The position and the first character of `text` the rule refuses, or None."""
    found = (FORBIDDEN_IN_LINE if one_line else FORBIDDEN).search(text)
    return None if found is None else (found.start(), found.group())


def code_point(char: str) -> str:
    """`U+001B`: how the error messages name a character (most of them are invisible)."""
    return f"U+{ord(char):04X}"


def normalise_line_ends(text: str) -> str:
    """CRLF and a lone CR become LF, so that stored text looks the same from every system."""
    return _LINE_ENDS.sub("\n", text)


def clean(text: str) -> str:
    """`text` as a renderer may show it: without the characters the contract refuses.

    For renderers, not for validation: data stored before the rule, or handed over by
    another producer, loses the offending characters instead of breaking the document.
    Line breaks and tabs stay; whoever needs one line replaces them itself. A subclass of
    `str` keeps its class, so that Jinja2's `Markup` stays marked safe.
    """
    if not refused(text):
        return text
    return text.__class__(FORBIDDEN.sub("", text))


def as_line(text: str) -> str:
    """`clean(text)` on one line: every run of tabs and line breaks becomes one space."""
    return _BREAKS.sub(" ", clean(text))


def finalize(value: object) -> object:
    """Jinja2's `finalize` hook: every text a template prints goes through `clean`."""
    return clean(value) if isinstance(value, str) else value
