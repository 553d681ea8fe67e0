"""The base every payload model of the public contract derives from."""

from pydantic import BaseModel, ConfigDict


class Payload(BaseModel):
    """A message payload: strict (no silent coercion), frozen, and closed to unknown fields.

    Integrators learn about a typo in a field name from the error reply instead of
    seeing the field silently ignored. Dates and UUIDs arrive as ISO strings, which
    strict JSON validation accepts.
    """

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


class Empty(Payload):
    """A payload without fields (for example the reply to a command that only acknowledges)."""


def examples(*items: dict[str, object]) -> ConfigDict:
    """The `model_config` of a payload with these examples (shown in AsyncAPI, checked by tests)."""
    return ConfigDict(json_schema_extra={"examples": list(items)})
