"""The base every payload model of the public contract derives from."""

from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, field_validator

from diko_shared.contract import rules


class Payload(BaseModel):
    """A message payload: strict (no silent coercion), frozen, and closed to unknown fields.

    Integrators learn about a typo in a field name from the error reply instead of
    seeing the field silently ignored. Dates and UUIDs arrive as ISO strings, which
    strict JSON validation accepts.

    Every field of every payload keeps the contract's rules for text and for the calendar
    (`contract.rules`), whatever its type says: a free `str`, a list of them, a date. So a
    model added later cannot let through what would break the podcast feed or a page.
    """

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _keep_the_contract_rules(cls, value: Any) -> Any:
        return rules.check_value(value)

    @classmethod
    def from_stored(cls, document: Mapping[str, Any]) -> Self:
        """The model of data read back from the service's database, not from a message.

        Not strict (the database returns naive UTC times and lists for tuples), and the
        rules of the contract clean what was stored before they existed instead of
        refusing it: an old record must not break a feed, a page or a reply for good.
        """
        with rules.reading_stored():
            return cls.model_validate(document, strict=False)


class Empty(Payload):
    """A payload without fields (for example the reply to a command that only acknowledges)."""


def examples(*items: dict[str, object]) -> ConfigDict:
    """The `model_config` of a payload with these examples (shown in AsyncAPI, checked by tests)."""
    return ConfigDict(json_schema_extra={"examples": list(items)})
