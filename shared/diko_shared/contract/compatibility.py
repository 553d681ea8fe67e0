"""The compatibility check: the contract of the last release against the contract of today.

Both sides are AsyncAPI documents (the released ones in `docs/asyncapi/released/<release>/`,
today's generated from the catalogue), read through their `x-diko-contract` extension
(`contract.described`) and their JSON schemas. For every message type of the release:

- **events** are read tolerantly by consumers that may be a release behind or ahead, so
  both must hold: today's readers accept the release's events (no new required field,
  no narrowed type or limit) and the release's readers accept today's events (no field
  removed or renamed, none made optional, no type or limit widened, no new value);
- **commands and queries** are read strictly by their owner and sent by integrators who
  built against the release: today's owner must accept what they send (no field removed
  or renamed, no new required field, nothing narrowed). Widening is fine;
- **replies** are read by those integrators: no field removed or made optional, no type
  widened; new values of a field are allowed (the contract says so).

A breaking change of a payload is allowed only with its version raised
(`contract.versions`), and only while today's readers still read the version the
release sent: its model must still be listed, and compatible with the released one. A
message type of the release must not disappear, change its kind or its owner.

The check understands the part of JSON Schema pydantic writes for the contract's models
(types, `anyOf`, `enum`/`const`, string, number and array limits, objects); any other
keyword that differs is reported as a change it cannot judge, never passed in silence.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from diko_shared.contract.described import EXTENSION

#: Keywords that describe a schema for people and do not change what it accepts.
ANNOTATIONS = frozenset(
    {"title", "description", "examples", "default", "deprecated", "$comment", "readOnly"}
)
#: Keywords the check compares; anything else must stay as it was.
UNDERSTOOD = frozenset(
    {
        "$ref",
        "type",
        "anyOf",
        "oneOf",
        "enum",
        "const",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "uniqueItems",
        "properties",
        "required",
        "additionalProperties",
    }
)
#: How a release is named: numbers joined by dots, e.g. `1.1`.
RELEASE = re.compile(r"^\d+(\.\d+)*$")


@dataclass(frozen=True, order=True)
class Breach:
    """One incompatible change: the message, the field (a path in the envelope) and why."""

    message: str
    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.message}: {self.field}: {self.problem}"


@dataclass(frozen=True)
class Schema:
    """A JSON schema and the document whose `components.schemas` its `$ref`s point into."""

    value: Mapping[str, Any]
    document: Mapping[str, Any] = field(repr=False, compare=False)

    def resolved(self) -> tuple[Schema, str | None]:
        """The schema behind its `$ref`s, and the name of the last one (for recursion)."""
        value, name = self.value, None
        for _ in range(32):
            ref = value.get("$ref")
            if ref is None:
                break
            name = unquote(ref.rsplit("/", 1)[1])
            value = self.document["components"]["schemas"][name]
        return Schema(value, self.document), name

    def alternatives(self) -> list[Schema]:
        options = self.value.get("anyOf") or self.value.get("oneOf")
        if not options:
            return [self]
        found: list[Schema] = []
        for option in options:
            found.extend(Schema(option, self.document).resolved()[0].alternatives())
        return found


@dataclass(frozen=True)
class Entry:
    """A message type as one contract describes it."""

    type: str
    owner: str
    kind: str
    version: int
    payloads: Mapping[int, Schema]
    reply: Schema | None


@dataclass(frozen=True)
class Rules:
    """How the reader of a comparison reads, and which way round the two sides are."""

    tolerant: bool  # the reader ignores fields it does not know
    forward: bool  # the reader is the release's, the writer today's (else the other way)
    new_values: bool = False  # the reader accepts values it does not know (replies)


def entries(documents: Mapping[str, Mapping[str, Any]]) -> dict[str, Entry]:
    """Every message type the documents describe, taken from its owner's document if there."""
    found: dict[str, Entry] = {}
    for service in sorted(documents):
        document = documents[service]
        described = document.get(EXTENSION)
        if not isinstance(described, Mapping):
            raise ValueError(f"the {service} document has no {EXTENSION} extension")
        for type_, item in described["messages"].items():
            if type_ in found and item["owner"] != service:
                continue  # the owner's document describes it too, or another did already
            reply = item.get("reply")
            found[type_] = Entry(
                type=type_,
                owner=item["owner"],
                kind=item["kind"],
                version=int(item["version"]),
                payloads={int(v): Schema(s, document) for v, s in item["payloads"].items()},
                reply=Schema(reply, document) if reply else None,
            )
    return found


def check(
    released: Mapping[str, Mapping[str, Any]],
    current: Mapping[str, Mapping[str, Any]],
    release: str = "the last release",
) -> list[Breach]:
    """Every incompatible change from the `released` documents to the `current` ones."""
    before, now = entries(released), entries(current)
    breaches: list[Breach] = []
    for type_, old in sorted(before.items()):
        new = now.get(type_)
        if new is None:
            breaches.append(Breach(type_, "(message)", f"removed; {release} served it"))
            continue
        breaches.extend(_compare(old, new, release))
    return sorted(set(breaches))


def _compare(old: Entry, new: Entry, release: str) -> Iterator[Breach]:
    name = f"{old.type} ({old.kind}, version {new.version})"
    if new.kind != old.kind:
        yield Breach(name, "(message)", f"is {_a(new.kind)} now, {_a(old.kind)} in {release}")
        return
    if new.owner != old.owner:
        yield Breach(name, "(message)", f"owned by {new.owner} now, by {old.owner} in {release}")
    if new.version < old.version:
        yield Breach(name, "(version)", f"version {new.version} is below {release}'s")
        return
    for version, released_schema in sorted(old.payloads.items()):
        today = new.payloads.get(version)
        if today is None:
            if version == old.version:
                yield Breach(
                    name,
                    "(version)",
                    f"the version was raised from {old.version} to {new.version}, but "
                    f"version {old.version}, which {release} sends, is no longer read: keep "
                    "its model among the earlier versions, with its upgrade",
                )
            continue  # an older version still read at the release may be dropped now
        label = name if version == new.version else f"{name}, reading version {version}"
        for path, problem in _payload(old.kind, released_schema, today, release):
            yield Breach(label, path, problem)
    if old.reply is not None and new.reply is not None:
        rules = Rules(tolerant=True, forward=True, new_values=True)
        for path, problem in _covers(old.reply, new.reply, "reply.data", rules, release):
            yield Breach(name, path, problem)
    elif old.reply is not None:
        yield Breach(name, "reply", f"has no reply now; {release} answered it")


def _payload(kind: str, before: Schema, now: Schema, release: str) -> Iterator[tuple[str, str]]:
    if kind == "event":
        yield from _covers(now, before, "data", Rules(tolerant=True, forward=False), release)
        yield from _covers(before, now, "data", Rules(tolerant=True, forward=True), release)
    else:
        yield from _covers(now, before, "data", Rules(tolerant=False, forward=False), release)


def _covers(
    reader: Schema,
    writer: Schema,
    path: str,
    rules: Rules,
    release: str,
    seen: frozenset[tuple[str, str]] = frozenset(),
) -> Iterator[tuple[str, str]]:
    """Why the `reader` schema may refuse a value that the `writer` schema allows."""
    reader, reader_name = reader.resolved()
    writer, writer_name = writer.resolved()
    if reader_name and writer_name:
        if (reader_name, writer_name) in seen:
            return  # a recursive model: this pair is being compared further up
        seen = seen | {(reader_name, writer_name)}
    say = _Wording(rules, release)
    readers, writers = reader.alternatives(), writer.alternatives()
    for one_writer in writers:
        if len(readers) == 1:
            yield from _covers_one(readers[0], one_writer, path, rules, release, seen)
            continue
        attempts = [
            list(_covers_one(option, one_writer, path, rules, release, seen))
            for option in readers
            if _types(option) is None
            or _types(one_writer) is None
            or _types(one_writer) <= _types(option)
        ]
        if any(not problems for problems in attempts):
            continue
        if len(attempts) == 1:
            yield from attempts[0]
        else:
            yield path, say.type(_describe(one_writer), _describe_all(readers))


def _covers_one(
    reader: Schema,
    writer: Schema,
    path: str,
    rules: Rules,
    release: str,
    seen: frozenset[tuple[str, str]],
) -> Iterator[tuple[str, str]]:
    say = _Wording(rules, release)
    r, w = reader.value, writer.value
    reader_types, writer_types = _types(reader), _types(writer)
    if reader_types is None and _unconstrained(r):
        return  # the reader takes anything
    if writer_types is None and _unconstrained(w):
        yield path, say.type("any value", _describe(reader))
        return
    if reader_types is not None and (writer_types is None or not writer_types <= reader_types):
        yield path, say.type(_describe(writer), _describe(reader))
        return
    yield from _values(r, w, path, say, rules)
    yield from _limits(r, w, path, say)
    if "items" in r or "items" in w:
        item_reader = Schema(r.get("items", {}), reader.document)
        item_writer = Schema(w.get("items", {}), writer.document)
        yield from _covers(item_reader, item_writer, f"{path}[]", rules, release, seen)
    r_tuple, w_tuple = r.get("prefixItems", []), w.get("prefixItems", [])
    if len(r_tuple) != len(w_tuple):
        yield path, say.unjudged("prefixItems", len(w_tuple), len(r_tuple))
    for index, (one_r, one_w) in enumerate(zip(r_tuple, w_tuple, strict=False)):
        yield from _covers(
            Schema(one_r, reader.document),
            Schema(one_w, writer.document),
            f"{path}[{index}]",
            rules,
            release,
            seen,
        )
    if "properties" in r or "properties" in w or "object" in (reader_types or set()):
        yield from _object(reader, writer, path, rules, release, seen)
    for key in sorted((set(r) | set(w)) - UNDERSTOOD - ANNOTATIONS):
        if r.get(key) != w.get(key):
            yield path, say.unjudged(key, w.get(key), r.get(key))


def _object(
    reader: Schema,
    writer: Schema,
    path: str,
    rules: Rules,
    release: str,
    seen: frozenset[tuple[str, str]],
) -> Iterator[tuple[str, str]]:
    say = _Wording(rules, release)
    r, w = reader.value, writer.value
    r_props, w_props = r.get("properties", {}), w.get("properties", {})
    r_required, w_required = set(r.get("required", [])), set(w.get("required", []))
    r_extra, w_extra = r.get("additionalProperties", True), w.get("additionalProperties", True)
    for name in sorted(w_props):
        here = f"{path}.{name}"
        if name in r_props:
            yield from _covers(
                Schema(r_props[name], reader.document),
                Schema(w_props[name], writer.document),
                here,
                rules,
                release,
                seen,
            )
        elif isinstance(r_extra, Mapping):
            yield from _covers(
                Schema(r_extra, reader.document),
                Schema(w_props[name], writer.document),
                here,
                rules,
                release,
                seen,
            )
        elif r_extra is False and not rules.tolerant:
            yield here, say.unknown_to_reader()
    for name in sorted(set(r_props) - set(w_props)):
        if name in r_required:
            yield f"{path}.{name}", say.missing_in_writer()
        elif rules.forward:
            yield f"{path}.{name}", say.removed()
    for name in sorted((r_required & set(w_props)) - w_required):
        yield f"{path}.{name}", say.optional_in_writer()
    if r_extra is False and w_extra is not False and not rules.tolerant:
        yield path, say.closed()
    if isinstance(r_extra, Mapping) and isinstance(w_extra, Mapping):
        yield from _covers(
            Schema(r_extra, reader.document),
            Schema(w_extra, writer.document),
            f"{path}{{}}",
            rules,
            release,
            seen,
        )


def _values(
    r: Mapping[str, Any], w: Mapping[str, Any], path: str, say: _Wording, rules: Rules
) -> Iterator[tuple[str, str]]:
    reader_values, writer_values = _enumerated(r), _enumerated(w)
    if reader_values is None or rules.new_values:
        return
    if writer_values is None:
        yield path, say.values_limited(sorted(reader_values, key=str))
        return
    extra = writer_values - reader_values
    if extra:
        yield path, say.values(sorted(extra, key=str))


def _limits(
    r: Mapping[str, Any], w: Mapping[str, Any], path: str, say: _Wording
) -> Iterator[tuple[str, str]]:
    for low, high, unit in (
        ("minLength", "maxLength", "characters"),
        ("minItems", "maxItems", "entries"),
    ):
        if r.get(low, 0) > w.get(low, 0):
            yield path, say.limit(f"at least {r[low]} {unit}", _bound(w, low, "at least", unit))
        if r.get(high, math.inf) < w.get(high, math.inf):
            yield path, say.limit(f"at most {r[high]} {unit}", _bound(w, high, "at most", unit))
    r_low, w_low = _lower(r), _lower(w)
    if (r_low[0], r_low[1]) > (w_low[0], w_low[1]):
        yield path, say.limit(_number(r_low, ">"), _number(w_low, ">"))
    r_high, w_high = _upper(r), _upper(w)
    if (r_high[0], -r_high[1]) < (w_high[0], -w_high[1]):
        yield path, say.limit(_number(r_high, "<"), _number(w_high, "<"))
    if "multipleOf" in r and not _multiple(w.get("multipleOf"), r["multipleOf"]):
        yield path, say.limit(f"a multiple of {r['multipleOf']}", "any number")
    for key, what in (("pattern", "the pattern"), ("format", "the format")):
        if key in r and r[key] != w.get(key):
            now, before = (r[key], w.get(key)) if not say.rules.forward else (w.get(key), r[key])
            yield path, say.changed(what, before, now)
    if r.get("uniqueItems") and not w.get("uniqueItems"):
        yield path, say.limit("no repeated entries", "repeated entries")


@dataclass(frozen=True)
class _Wording:
    """The problems in words: what changed from the release to today, and whom it breaks."""

    rules: Rules
    release: str

    @property
    def breaks(self) -> str:
        if self.rules.forward:
            return f"readers of {self.release} would refuse it"
        return f"messages sent as in {self.release} would be refused"

    def type(self, writer: str, reader: str) -> str:
        if self.rules.forward:
            return f"may now be {writer}; readers of {self.release} accept only {reader}"
        return f"no longer accepts {writer}, only {reader}; {self.breaks}"

    def values(self, values: list[Any]) -> str:
        shown = ", ".join(json.dumps(v, ensure_ascii=False) for v in values)
        if self.rules.forward:
            return f"new value(s) {shown}; {self.breaks}"
        return f"value(s) {shown} no longer accepted; {self.breaks}"

    def values_limited(self, values: list[Any]) -> str:
        shown = ", ".join(json.dumps(v, ensure_ascii=False) for v in values)
        if self.rules.forward:
            return f"no longer limited to {shown}; {self.breaks}"
        return f"now limited to {shown}; {self.breaks}"

    def limit(self, reader: str, writer: str) -> str:
        if self.rules.forward:
            return f"limit loosened from {reader} to {writer}; {self.breaks}"
        return f"limit tightened from {writer} to {reader}; {self.breaks}"

    def changed(self, what: str, before: Any, now: Any) -> str:
        return f"{what} changed from {before!r} to {now!r}; {self.breaks}"

    def unjudged(self, key: str, writer: Any, reader: Any) -> str:
        before, now = (reader, writer) if self.rules.forward else (writer, reader)
        return (
            f"{key!r} changed from {json.dumps(before)} to {json.dumps(now)}, which this check "
            "cannot judge; treat it as breaking"
        )

    def unknown_to_reader(self) -> str:
        return (
            f"removed or renamed; senders built for {self.release} send it, and a "
            "strictly read message refuses a field it does not know"
        )

    def missing_in_writer(self) -> str:
        if self.rules.forward:
            return f"removed or renamed; readers of {self.release} require it"
        return f"new required field; messages sent as in {self.release} lack it"

    def removed(self) -> str:
        return f"removed or renamed; readers of {self.release} expect it"

    def optional_in_writer(self) -> str:
        if self.rules.forward:
            return f"now optional; readers of {self.release} require it"
        return f"now required; optional in {self.release}, so its messages may lack it"

    def closed(self) -> str:
        if self.rules.forward:
            return f"open to further fields now; readers of {self.release} refuse them"
        return f"closed to further fields now; {self.release} allowed them"


def _a(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def _types(schema: Schema) -> set[str] | None:
    value = schema.value
    kind = value.get("type")
    if isinstance(kind, str):
        found = {kind}
    elif isinstance(kind, list):
        found = set(kind)
    elif "const" in value or "enum" in value:
        found = {_json_type(v) for v in _enumerated(value) or ()}
    elif "properties" in value:
        found = {"object"}
    else:
        return None
    if "number" in found:
        found.add("integer")  # a reader of numbers takes whole numbers too
    return found


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _unconstrained(value: Mapping[str, Any]) -> bool:
    return not (set(value) - ANNOTATIONS)


def _enumerated(value: Mapping[str, Any]) -> set[Any] | None:
    if "const" in value:
        return {_hashable(value["const"])}
    if "enum" in value:
        return {_hashable(v) for v in value["enum"]}
    return None


def _hashable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, list | dict) else value


def _describe(schema: Schema) -> str:
    value = schema.value
    values = _enumerated(value)
    if values is not None:
        return " or ".join(json.dumps(v, ensure_ascii=False) for v in sorted(values, key=str))
    kinds = _types(schema) or {"any"}
    if "number" in kinds:
        kinds = kinds - {"integer"}
    return " or ".join(sorted(kinds))


def _describe_all(schemas: list[Schema]) -> str:
    return " or ".join(dict.fromkeys(_describe(s) for s in schemas))


def _bound(value: Mapping[str, Any], key: str, word: str, unit: str) -> str:
    return f"{word} {value[key]} {unit}" if key in value else "no limit"


def _lower(value: Mapping[str, Any]) -> tuple[float, int]:
    """(bound, 1 if exclusive): the greater of minimum and exclusiveMinimum."""
    found = [(-math.inf, 0)]
    if "minimum" in value:
        found.append((value["minimum"], 0))
    if "exclusiveMinimum" in value:
        found.append((value["exclusiveMinimum"], 1))
    return max(found)


def _upper(value: Mapping[str, Any]) -> tuple[float, int]:
    """(bound, 1 if exclusive): the smaller of maximum and exclusiveMaximum."""
    found = [(math.inf, 0)]
    if "maximum" in value:
        found.append((value["maximum"], 0))
    if "exclusiveMaximum" in value:
        found.append((value["exclusiveMaximum"], 1))
    return min(found, key=lambda b: (b[0], -b[1]))


def _number(bound: tuple[float, int], side: str) -> str:
    value, exclusive = bound
    if math.isinf(value):
        return "no limit"
    return f"{side}{'' if exclusive else '='} {value}"


def _multiple(writer: Any, reader: Any) -> bool:
    if writer is None:
        return False
    ratio = writer / reader
    return math.isclose(ratio, round(ratio))


def releases(root: Path) -> list[str]:
    """The releases kept under `root` (`docs/asyncapi/released`), oldest first."""
    if not root.is_dir():
        return []
    names = [p.name for p in root.iterdir() if p.is_dir() and RELEASE.fullmatch(p.name)]
    return sorted(names, key=release_key)


def release_key(name: str) -> tuple[int, ...]:
    """`1.10` after `1.9`."""
    return tuple(int(part) for part in name.split("."))


def load(directory: Path) -> dict[str, dict[str, Any]]:
    """The AsyncAPI documents of one release, by service."""
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.json"))
    }
