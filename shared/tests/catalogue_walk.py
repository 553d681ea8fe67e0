"""Every model the catalogue reaches, a valid sample of each, and the fields that hold text.

The tests of the contract's rules walk these instead of a hand-written list, so that a
model or field added later is covered without anyone remembering to add it.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel

from diko_shared.contract.catalogue import CATALOGUE, MessageSpec
from diko_shared.contract.names import FIXED


def examples_of(model: type[BaseModel]) -> list[dict[str, Any]]:
    extra = model.model_config.get("json_schema_extra") or {}
    return list(extra.get("examples", [])) if isinstance(extra, dict) else []


def _args(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) is Annotated:
        return (typing.get_args(annotation)[0],)
    return typing.get_args(annotation)


def leaves(annotation: Any) -> Iterator[Any]:
    """The types an annotation is built from: `list[Name] | None` gives `str`, `NoneType`."""
    args = _args(annotation)
    if not args or typing.get_origin(annotation) is Literal:
        yield annotation
        return
    for arg in args:
        yield from leaves(arg)


def nested_models(annotation: Any) -> list[type[BaseModel]]:
    return [t for t in leaves(annotation) if isinstance(t, type) and issubclass(t, BaseModel)]


def holds_text(annotation: Any) -> bool:
    """Whether a field holds text: `str`, or a literal of strings, however wrapped."""
    for leaf in leaves(annotation):
        if leaf is str:
            return True
        if typing.get_origin(leaf) is Literal and any(
            isinstance(a, str) for a in typing.get_args(leaf)
        ):
            return True
    return False


def is_mapping(annotation: Any) -> bool:
    """Whether the field maps keys to its values (e.g. a fair file's companies by id)."""
    if typing.get_origin(annotation) is Annotated:
        return is_mapping(typing.get_args(annotation)[0])
    origin = typing.get_origin(annotation)
    if origin is dict:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(is_mapping(a) for a in typing.get_args(annotation) if a is not type(None))
    return False


def is_list(annotation: Any) -> bool:
    """Whether the field is a list (possibly optional): the poisoned text goes into one entry."""
    if typing.get_origin(annotation) is Annotated:
        return is_list(typing.get_args(annotation)[0])
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(is_list(a) for a in typing.get_args(annotation) if a is not type(None))
    return False


def specs() -> list[MessageSpec]:
    """The services' messages (tests and benchmarks register their own in the same catalogue)."""
    return [spec for spec in CATALOGUE if spec.owner in FIXED]


def catalogue_models() -> list[type[BaseModel]]:
    """Every payload and reply model of the catalogue and every model nested in one."""
    seen: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.append(model)
        for field in model.model_fields.values():
            for nested in nested_models(field.annotation):
                visit(nested)

    for spec in specs():
        for model in filter(None, (spec.payload, spec.reply)):
            visit(model)
    return seen


def samples() -> dict[type[BaseModel], dict[str, Any]]:
    """A valid input of each model, taken from the catalogue's examples (nested ones too)."""
    found: dict[type[BaseModel], dict[str, Any]] = {}

    def visit(model: type[BaseModel], value: Any) -> None:
        if not isinstance(value, dict):
            return
        found.setdefault(model, value)
        for name, field in model.model_fields.items():
            if name not in value:
                continue
            items = value[name] if isinstance(value[name], list) else [value[name]]
            if is_mapping(field.annotation) and isinstance(value[name], dict):
                items = list(value[name].values())
            for nested in nested_models(field.annotation):
                for item in items:
                    visit(nested, item)

    for spec in specs():
        for model in filter(None, (spec.payload, spec.reply)):
            for example in examples_of(model):
                visit(model, example)
    for model in catalogue_models():  # a nested model may carry an example of its own
        for example in examples_of(model):
            visit(model, example)
    for model in catalogue_models():  # a model without fields needs no example
        if not model.model_fields:
            found.setdefault(model, {})
    return found


def text_fields(model: type[BaseModel]) -> list[str]:
    return [name for name, f in model.model_fields.items() if holds_text(f.annotation)]
