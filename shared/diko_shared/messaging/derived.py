"""Ids derived from a name, the same on every redelivery: name-based UUIDs (version 5).

A handler derives the ids of what it inserts and emits from its message (`Context.new_id`,
`Context.emit`), so that a repeat writes and sends the same ones. `uuid.uuid5` builds two
UUID objects a call (5.7 µs here); the same value comes from one SHA-1 with the version
and variant bits set by hand (1.2 µs), and a message derives two or more.
"""

from __future__ import annotations

import hashlib
import uuid

#: Namespace of the ids derived from a message, so that a redelivery derives the same ones.
DERIVED_IDS = uuid.UUID("6f1d7c52-3d5e-4c55-9a58-0b7c9e1f2a10")
_NAMESPACE = DERIVED_IDS.bytes


def _hex(name: str) -> str:
    """The 32 hex digits of `uuid.uuid5(DERIVED_IDS, name)`."""
    digest = bytearray(hashlib.sha1(_NAMESPACE + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 4122 variant
    return digest.hex()


def derived_uuid(name: str) -> str:
    """`str(uuid.uuid5(DERIVED_IDS, name))`: the id of a message derived from `name`."""
    h = _hex(name)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def derived_id(prefix: str, name: str) -> str:
    """`<prefix>_` and the first 20 hex digits of `uuid.uuid5(DERIVED_IDS, name)`."""
    return f"{prefix}_{_hex(name)[:20]}"
