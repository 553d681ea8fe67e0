"""The contract's versions inside a service's AsyncAPI document (`x-diko-contract`).

AsyncAPI describes channels and payloads; it has no word for "this event is read
tolerantly" or "version 1 of this command is still accepted". Each document therefore
carries a specification extension at its root that says, for every message type the
service owns or consumes, what the compatibility check (`contract.compatibility`) and an
integrator need to know, with each schema in `components.schemas`:

```json
"x-diko-contract": {"messages": {"match.proposed": {
    "owner": "matching", "kind": "event", "reading": "tolerant", "version": 2,
    "dataschema": "urn:diko:schema:match.proposed:2",
    "payloads": {"1": {"$ref": "#/components/schemas/MatchProposedV1"},
                 "2": {"$ref": "#/components/schemas/MatchProposed"}},
    "reply": null}}}
```
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from diko_shared.contract.catalogue import Catalogue, MessageSpec

EXTENSION = "x-diko-contract"
REF = "#/components/schemas/{model}"


def messages(service: str, catalogue: Catalogue) -> list[MessageSpec]:
    """The message types a service's document describes: those it owns and those it reads."""
    specs = {spec.type: spec for spec in catalogue.owned_by(service)}
    for type_ in catalogue.reactions(service):
        specs.setdefault(type_, catalogue.require(type_))
    return [specs[type_] for type_ in sorted(specs)]


def _asyncapi_form(schema: Any) -> Any:
    """`schema` as AsyncAPI writes it: a discriminator is the property's name alone.

    JSON Schema (pydantic) gives OpenAPI's `{"propertyName": …, "mapping": …}`, AsyncAPI's
    Schema Object a string; FastStream writes the latter. Both say the same.
    """
    if isinstance(schema, dict):
        form = {key: _asyncapi_form(value) for key, value in schema.items()}
        if isinstance(form.get("discriminator"), dict):
            form["discriminator"] = form["discriminator"].get("propertyName")
        return form
    if isinstance(schema, list):
        return [_asyncapi_form(item) for item in schema]
    return schema


def annotate(document: dict[str, Any], service: str, catalogue: Catalogue) -> dict[str, Any]:
    """`document` with the extension, and every schema it names in `components.schemas`."""
    specs = messages(service, catalogue)
    models: list[type[BaseModel]] = []
    for spec in specs:
        models.extend(spec.reads().values())
        if spec.reply is not None:
            models.append(spec.reply)
    models = list(dict.fromkeys(models))
    refs, definitions = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in definitions.get("$defs", {}).items():
        if _asyncapi_form(schemas.setdefault(name, schema)) != _asyncapi_form(schema):
            raise ValueError(
                f"two different models are named {name!r} in the {service} document; "
                "give one of them another name (an earlier version: `…V1`)"
            )

    def ref(model: type[BaseModel]) -> dict[str, str]:
        return refs[(model, "validation")]

    document[EXTENSION] = {
        "messages": {
            spec.type: {
                "owner": spec.owner,
                "kind": spec.kind,
                "reading": "tolerant" if spec.tolerant else "strict",
                "version": spec.version,
                "dataschema": spec.dataschema,
                "payloads": {str(v): ref(model) for v, model in spec.reads().items()},
                "reply": ref(spec.reply) if spec.reply is not None else None,
            }
            for spec in specs
        }
    }
    return document
