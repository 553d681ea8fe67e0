"""The generated parts of docs/contract.md: the catalogue, who reacts to what, the payloads.

docs/contract.md is written by hand except for blocks between markers such as
`<!-- generated:catalogue begin … -->` and `<!-- generated:catalogue end -->`, which
`diko contract doc` fills from the catalogue (like `diko contract asyncapi` writes the
AsyncAPI documents). A test fails when the committed document is stale, so a message
added to the catalogue lands in the document with its owner, kind, summary and fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from diko_shared.contract.catalogue import CATALOGUE, MessageSpec
from diko_shared.contract.common import ONE_LINE
from diko_shared.contract.names import FIXED, PURPOSE
from diko_shared.contract.senders import INTEGRATOR

#: The services in the order the document lists them.
OWNERS = tuple(FIXED)
KINDS = ("command", "query", "event")
BEGIN = "<!-- generated:{name} begin: written by `diko contract doc` from the catalogue -->"
END = "<!-- generated:{name} end -->"
_BLOCK = re.compile(
    r"(<!-- generated:(?P<name>[a-z]+) begin[^>]*-->\n)"
    r"(?P<body>.*?)"
    r"(<!-- generated:(?P=name) end -->)",
    re.DOTALL,
)


def _specs() -> dict[str, MessageSpec]:
    """The services' messages (tests and benchmarks register their own in the catalogue)."""
    return {spec.type: spec for spec in CATALOGUE if spec.owner in FIXED}


def _names() -> list[tuple[str, str, str]]:
    """(owner, kind, type) of every fixed name and every message served beyond them."""
    specs = _specs()
    rows = {(o, k, t) for o, kinds in FIXED.items() for k, names in kinds.items() for t in names}
    rows |= {(s.owner, s.kind, s.type) for s in specs.values()}
    return sorted(rows, key=lambda r: (OWNERS.index(r[0]), KINDS.index(r[1]), r[2]))


def _consumers(type_: str) -> str:
    return ", ".join(s for s, t in CATALOGUE.all_reactions() if t == type_ and s in FIXED)


def catalogue() -> str:
    """One table per owner: every message, whether it is served, its models and summary."""
    specs = _specs()
    parts = []
    for owner in OWNERS:
        parts.append(f"### {owner}\n")
        parts.append("| type | kind | served | payload → reply | reacting | summary |")
        parts.append("| --- | --- | --- | --- | --- | --- |")
        for row_owner, kind, type_ in _names():
            if row_owner != owner:
                continue
            spec = specs.get(type_)
            if spec is None:
                purpose = PURPOSE.get(type_, "")
                parts.append(f"| `{type_}` | {kind} | not yet | | | {purpose} |")
                continue
            models = f"[{spec.payload.__name__}](#{_anchor(spec.payload)})"
            if spec.reply is not None:
                models += f" → [{spec.reply.__name__}](#{_anchor(spec.reply)})"
            parts.append(
                f"| `{type_}` | {kind} | yes | {models} | {_consumers(type_)} | {spec.summary} |"
            )
        parts.append("")
    served = sum(1 for _ in specs)
    reserved = len(_names()) - served
    parts.append(
        f"{served} message types are served; {reserved} names are fixed but not served yet."
    )
    return "\n".join(parts) + "\n"


def reactions() -> str:
    """Who reacts to which event, and the queue it reads."""
    specs = _specs()
    lines = ["| event | emitted by | reacting service | its queue |", "| --- | --- | --- | --- |"]
    for service, type_ in CATALOGUE.all_reactions():
        if service not in FIXED or type_ not in specs:
            continue
        owner = specs[type_].owner
        lines.append(f"| `{type_}` | {owner} | {service} | `{service}.on.{type_}` |")
    return "\n".join(lines) + "\n"


def payloads() -> str:
    """Every model of the served messages with its fields, and an example where it has one."""
    parts = []
    for model in _models():
        schema = model.model_json_schema(ref_template="#/$defs/{model}")
        parts.append(f'<a id="{_anchor(model)}"></a>\n\n#### {model.__name__}\n')
        if model.__doc__ and not model.__doc__.startswith(("A message payload", "Usage docs")):
            parts.append(" ".join(model.__doc__.split()) + "\n")
        fields = schema.get("properties", {})
        if not fields:
            parts.append("No fields: `{}`.\n")
            continue
        required = set(schema.get("required", []))
        parts.append("| field | type | required | notes |")
        parts.append("| --- | --- | --- | --- |")
        for name, field in fields.items():
            need = "yes" if name in required else "no"
            parts.append(f"| `{name}` | {_type(field)} | {need} | {_notes(field)} |")
        parts.append("")
        example = _example(model)
        if example is not None:
            text = json.dumps(example, ensure_ascii=False, indent=2)
            parts.append(f"Example:\n\n```json\n{text}\n```\n")
    return "\n".join(parts)


def senders() -> str:
    """Who may send each command and query (the catalogue's `senders`)."""
    lines = ["| message | kind | owner | may be sent by |", "| --- | --- | --- | --- |"]
    for spec in _specs().values():
        if spec.kind == "event":
            continue
        who = ", ".join(
            "integrators (`integrator-<name>`)" if s == INTEGRATOR else f"`{s}`"
            for s in spec.senders
        )
        lines.append(f"| `{spec.type}` | {spec.kind} | {spec.owner} | {who} |")
    return "\n".join(lines) + "\n"


GENERATORS: dict[str, Callable[[], str]] = {
    "catalogue": catalogue,
    "senders": senders,
    "reactions": reactions,
    "payloads": payloads,
}


def render(document: str) -> str:
    """`document` with every generated block written anew from the catalogue."""

    def fill(found: re.Match[str]) -> str:
        name = found["name"]
        if name not in GENERATORS:
            raise ValueError(f"docs/contract.md names an unknown generated block {name!r}")
        return f"{found[1]}\n{GENERATORS[name]()}\n{found[4]}"

    return _BLOCK.sub(fill, document)


def write(path: Path) -> bool:
    """Regenerate the document at `path`; True if it changed."""
    before = path.read_text(encoding="utf-8")
    after = render(before)
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before


def _models() -> list[type[BaseModel]]:
    """The payload and reply models of the served messages and every model inside them."""
    seen: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.append(model)
        for field in model.model_fields.values():
            for nested in _nested(field.annotation):
                visit(nested)

    for spec in sorted(_specs().values(), key=lambda s: (OWNERS.index(s.owner), s.type)):
        for model in filter(None, (spec.payload, spec.reply)):
            visit(model)
    return seen


def _nested(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _nested(arg)]


def _anchor(model: type[BaseModel]) -> str:
    return f"model-{model.__name__.lower()}"


def _type(field: dict[str, Any]) -> str:
    """A JSON schema's type in a few words: `string`, `list of Reason`, `'a' or 'b'`."""
    if "$ref" in field:
        name = field["$ref"].rsplit("/", 1)[1]
        return f"[{name}](#model-{name.lower()})"
    if "anyOf" in field:
        kinds = [_type(option) for option in field["anyOf"] if option.get("type") != "null"]
        nullable = any(option.get("type") == "null" for option in field["anyOf"])
        return " or ".join(kinds) + (" or null" if nullable else "")
    if "enum" in field:
        return " or ".join(f"`{json.dumps(v, ensure_ascii=False)}`" for v in field["enum"])
    if "const" in field:
        return f"`{json.dumps(field['const'], ensure_ascii=False)}`"
    kind = field.get("type", "any")
    if kind == "array":
        return f"list of {_type(field.get('items', {}))}"
    if kind == "string" and "format" in field:
        return f"string ({field['format']})"
    return str(kind)


def _notes(field: dict[str, Any]) -> str:
    """Constraints and the description of a field, for the notes column."""
    options = [o for o in field.get("anyOf", [field]) if o.get("type") != "null"]
    notes = []
    for option in options:
        for key, label in (
            ("minLength", "at least {} characters"),
            ("maxLength", "at most {} characters"),
            ("minimum", "≥ {}"),
            ("maximum", "≤ {}"),
            ("minItems", "at least {} entries"),
            ("maxItems", "at most {} entries"),
        ):
            if key in option:
                one = key in ("minLength", "minItems") and option[key] == 1
                notes.append("not empty" if one else label.format(option[key]))
        if "pattern" in option and option["pattern"] != ONE_LINE:
            notes.append(f"pattern `{option['pattern']}`")
        elif option.get("pattern") == ONE_LINE:
            notes.append("one line")
    if "default" in field:
        notes.append(f"default `{json.dumps(field['default'], ensure_ascii=False)}`")
    if "description" in field:
        notes.append(" ".join(field["description"].split()))
    return "; ".join(notes).replace("|", "\\|")


def _example(model: type[BaseModel]) -> dict[str, Any] | None:
    extra = model.model_config.get("json_schema_extra") or {}
    found = extra.get("examples") if isinstance(extra, dict) else None
    return found[0] if found else None
