"""The /asyncapi page: a service's AsyncAPI document rendered on the server, for people.

Everything the page needs is in the response (HTML and its stylesheet): no viewer script
from a CDN, no web font, so it reads the same offline. It is made from the very document
/asyncapi.json serves: per operation the message, the route it takes, and every field of
its payload with type, constraints, whether it is required, description and example.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

_templates = Environment(
    loader=PackageLoader("diko_shared.service", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def code_spans(text: str) -> Markup:
    """Text whose `backticked` parts (as the contract's descriptions write them) are code."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick: no code spans, just the text
        return Markup.escape(text)
    return Markup("").join(
        Markup("<code>{}</code>").format(part) if odd else Markup.escape(part)
        for odd, part in ((i % 2 == 1, part) for i, part in enumerate(parts))
    )


_templates.filters["code_spans"] = code_spans

#: What each envelope attribute means (the envelope's schema only names them).
ENVELOPE_NOTES = {
    "specversion": "CloudEvents version of the envelope.",
    "id": "Unique id of this message; a message with an id already seen is a duplicate.",
    "source": "Who sent it: a service name or another system's name.",
    "type": "The message type; also the routing key.",
    "time": "When the message was created (RFC 3339, with an offset).",
    "subject": "The aggregate the message is about, e.g. a position id.",
    "correlationid": "Id of the conversation the message belongs to.",
    "causationid": "Id of the message that caused this one.",
}
#: How deep nested objects are unfolded into dotted field names.
MAX_DEPTH = 4


@dataclass
class Field:
    """One row of a payload table."""

    name: str
    type: str
    required: bool
    description: str = ""
    constraints: list[str] = field(default_factory=list)
    depth: int = 0


@dataclass
class Operation:
    """One thing the service receives or sends, with its message."""

    anchor: str
    address: str
    role: str
    description: str
    route: str
    payload_name: str
    fields: list[Field]
    example: str | None


@dataclass
class Server:
    url: str
    protocol: str
    description: str


class _Schemas:
    """JSON Schema of the document's components, read as a person would describe it."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def resolve(self, schema: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """A `$ref` followed: the component's name and its schema (else "" and `schema`)."""
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return "", schema
        target: Any = self.document
        for part in ref[2:].split("/"):
            target = target.get(unquote(part).replace("~1", "/").replace("~0", "~"), {})
        return unquote(ref.rsplit("/", 1)[-1]), target

    def fields(self, schema: dict[str, Any], prefix: str = "", depth: int = 0) -> list[Field]:
        """Every property of an object schema, nested objects unfolded as `a.b` rows."""
        _, schema = self.resolve(schema)
        required = set(schema.get("required") or [])
        rows: list[Field] = []
        for name, prop in (schema.get("properties") or {}).items():
            type_, constraints, nested = self.describe(prop)
            rows.append(
                Field(
                    name=f"{prefix}{name}",
                    type=type_,
                    required=name in required,
                    description=self.description(prop),
                    constraints=constraints,
                    depth=depth,
                )
            )
            if nested is not None and depth < MAX_DEPTH:
                inner = f"{prefix}{name}[]." if type_.startswith("list of") else f"{prefix}{name}."
                rows += self.fields(nested, inner, depth + 1)
        return rows

    def description(self, schema: dict[str, Any]) -> str:
        if schema.get("description"):
            return str(schema["description"])
        _, target = self.resolve(schema)
        return str(target.get("description") or "") if target is not schema else ""

    def describe(self, schema: dict[str, Any]) -> tuple[str, list[str], dict[str, Any] | None]:
        """(type as words, constraints, the object schema to unfold below it, if any)."""
        name, target = self.resolve(schema)
        if name:
            if target.get("properties"):
                return f"object ({name})", [], target
            type_, constraints, nested = self.describe(target)
            return (type_ if type_ != "object" else f"object ({name})"), constraints, nested
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [o for o in schema[key] if o.get("type") != "null"]
                nullable = len(options) < len(schema[key])
                described = [self.describe(o) for o in options]
                types = " or ".join(d[0] for d in described) + (" or null" if nullable else "")
                constraints = [c for d in described for c in d[1]]
                nested = next((d[2] for d in described if d[2] is not None), None)
                return types, constraints + _default(schema), nested
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.describe(schema["allOf"][0])
        constraints = _constraints(schema) + _default(schema)
        if "const" in schema:
            return f"always {json.dumps(schema['const'], ensure_ascii=False)}", constraints, None
        if "enum" in schema:
            values = ", ".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"])
            return f"one of {values}", constraints, None
        kind = schema.get("type", "any")
        if kind == "array":
            item_type, item_constraints, nested = self.describe(schema.get("items") or {})
            return f"list of {item_type}", constraints + item_constraints, nested
        if kind == "string" and schema.get("format"):
            return f"string ({schema['format']})", constraints, None
        if kind == "object" and schema.get("properties"):
            return "object", constraints, schema
        if isinstance(kind, list):
            return " or ".join(kind), constraints, None
        return str(kind), constraints, None


def _constraints(schema: dict[str, Any]) -> list[str]:
    """Length, range, item count and pattern, in words."""
    said = []
    low, high = schema.get("minLength"), schema.get("maxLength")
    if low is not None or high is not None:
        said.append(_range(low, high, "characters"))
    low, high = schema.get("minItems"), schema.get("maxItems")
    if low is not None or high is not None:
        said.append(_range(low, high, "items"))
    bounds = []
    for key, sign in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
    ):
        if key in schema:
            bounds.append(f"{sign} {schema[key]}")
    if bounds:
        said.append(", ".join(bounds))
    if schema.get("pattern"):
        said.append(f"pattern {schema['pattern']}")
    return said


def _range(low: int | None, high: int | None, unit: str) -> str:
    if low is not None and high is not None:
        return f"{low}–{high} {unit}" if low != high else f"exactly {low} {unit}"
    if low is not None:
        return f"at least {low} {unit}"
    return f"at most {high} {unit}"


def _default(schema: dict[str, Any]) -> list[str]:
    if "default" in schema and schema["default"] is not None:
        return [f"default {json.dumps(schema['default'], ensure_ascii=False)}"]
    return []


def _operations(document: dict[str, Any], schemas: _Schemas) -> list[Operation]:
    operations = []
    for key, operation in sorted(document.get("operations", {}).items()):
        _, channel = schemas.resolve(operation.get("channel") or {})
        message_refs = operation.get("messages") or []
        _, message = schemas.resolve(message_refs[0]) if message_refs else ("", {})
        _, message = schemas.resolve(message) if "$ref" in message else ("", message)
        _, envelope = schemas.resolve(message.get("payload") or {})
        data = (envelope.get("properties") or {}).get("data") or {}
        payload_name, payload = schemas.resolve(data)
        examples = payload.get("examples") or []
        operations.append(
            Operation(
                anchor=key,
                address=str(channel.get("address", key)),
                role=_role(operation, channel),
                description=str(channel.get("description") or payload.get("description") or ""),
                route=_route(operation, channel),
                payload_name=payload_name or "data",
                fields=schemas.fields(payload),
                example=json.dumps(examples[0], ensure_ascii=False, indent=2) if examples else None,
            )
        )
    return operations


def _role(operation: dict[str, Any], channel: dict[str, Any]) -> str:
    if operation.get("action") == "send":
        return "event it publishes"
    queue = channel.get("bindings", {}).get("amqp", {}).get("queue", {}).get("name", "")
    return "event it reacts to" if ".on." in queue else "command or query it answers"


def _route(operation: dict[str, Any], channel: dict[str, Any]) -> str:
    amqp = channel.get("bindings", {}).get("amqp", {})
    if amqp.get("is") == "queue":
        return f"queue {amqp.get('queue', {}).get('name', '?')}, routing key {channel['address']}"
    exchange = amqp.get("exchange", {}).get("name", "?")
    return f"exchange {exchange}, routing key {channel.get('address', '?')}"


def _servers(document: dict[str, Any]) -> list[Server]:
    return [
        Server(
            url=f"{s.get('protocol', '')}://{s.get('host', '')}{s.get('pathname', '')}",
            protocol=f"{s.get('protocol', '').upper()} {s.get('protocolVersion', '')}".strip(),
            description=str(s.get("description") or ""),
        )
        for s in document.get("servers", {}).values()
    ]


def _envelope(document: dict[str, Any], schemas: _Schemas) -> list[Field]:
    """The envelope's own attributes (every message has them), from any envelope schema."""
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        if name.startswith("Envelope["):
            rows = [row for row in schemas.fields(schema) if row.name != "data"]
            for row in rows:
                row.description = row.description or ENVELOPE_NOTES.get(row.name, "")
            return rows
    return []


def render(document: dict[str, Any], *, json_path: str = "/asyncapi.json") -> str:
    """The HTML page of an AsyncAPI 3.0 document (autoescaped)."""
    schemas = _Schemas(document)
    operations = _operations(document, schemas)
    info = document.get("info", {})
    return _templates.get_template("asyncapi.html.j2").render(
        title=info.get("title", "AsyncAPI"),
        version=info.get("version", ""),
        description=info.get("description", ""),
        asyncapi=document.get("asyncapi", ""),
        json_path=json_path,
        servers=_servers(document),
        receives=[o for o in operations if o.role != "event it publishes"],
        sends=[o for o in operations if o.role == "event it publishes"],
        envelope=_envelope(document, schemas),
    )
