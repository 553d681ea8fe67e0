"""Schema versions: the `dataschema` every envelope carries, and the versions still read.

Each message type has one schema version, a whole number that starts at 1. A change that
every reader of the last release can live with (a new optional field, a looser limit on
a command) keeps it; a change that would break one (a field removed, renamed or
narrowed, a new required field, an event's field accepting more than before) raises it,
and the readers keep reading the version before (`Earlier`: its model and how to turn it
into the current payload) for at least one release. `diko_shared.contract.compatibility`
checks this rule against the AsyncAPI documents of the last release.

The version travels in the envelope as the CloudEvents attribute `dataschema`, a URN:
`urn:diko:schema:match.proposed:1`. A message without it is read as version 1, which is
what every message was before versions existed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from diko_shared.contract.base import Payload

PREFIX = "urn:diko:schema:"
#: The form of `dataschema`: the prefix, a message type, a colon and the version.
PATTERN = r"^urn:diko:schema:[a-z][a-z0-9_]*(\.[a-z0-9_]+)+:[1-9][0-9]{0,3}$"
#: The version a message without `dataschema` is read as.
UNVERSIONED = 1


def schema_uri(type_: str, version: int) -> str:
    """`urn:diko:schema:<type>:<version>`, the envelope's `dataschema`."""
    return f"{PREFIX}{type_}:{version}"


def parse(uri: str) -> tuple[str, int]:
    """(type, version) of a `dataschema` that has the form of `PATTERN`."""
    type_, _, version = uri.removeprefix(PREFIX).rpartition(":")
    return type_, int(version)


@dataclass(frozen=True)
class Earlier:
    """A version of a message type that readers still accept after its version was raised.

    `payload` is the model of that version (strict and closed like every payload; an
    event's is read as tolerantly as the current one); `upgrade` turns a payload of that
    version into the current model, so that handlers only ever see the current one.
    """

    version: int
    payload: type[Payload]
    upgrade: Callable[[Any], Payload]


def check_versions(type_: str, version: int, earlier: tuple[Earlier, ...]) -> None:
    """Refuse a registration whose versions cannot be told apart (a programming error)."""
    if version < 1:
        raise ValueError(f"{type_!r}: the version is a whole number from 1, not {version}")
    seen: set[int] = set()
    for old in earlier:
        if not 1 <= old.version < version:
            raise ValueError(
                f"{type_!r}: an earlier version lies between 1 and {version - 1}, not {old.version}"
            )
        if old.version in seen:
            raise ValueError(f"{type_!r}: earlier version {old.version} is listed twice")
        if not (isinstance(old.payload, type) and issubclass(old.payload, Payload)):
            raise ValueError(f"{type_!r}: the model of version {old.version} is no Payload")
        seen.add(old.version)
