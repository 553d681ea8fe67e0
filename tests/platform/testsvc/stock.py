"""An event whose contract evolves over four releases, for the upgrade tests.

`stock.counted` is read by the test service; which release of its contract a process
speaks is chosen by `TESTSVC_STOCK_RELEASE` (default 2), so that two processes of the
same service can run different releases side by side on one queue:

- release 1: `item`, `count` (schema version 1);
- release 2: adds an optional `unit` and an optional nested `shelf` (version 1);
- release 3: adds an optional `counted_by`, and `level` inside `shelf` (version 1);
- release 4: renames `count` to `quantity` and makes `unit` required: a breaking change,
  so the schema version is 2, and version 1 (as release 3 wrote it) is still read.

Releases 1 to 3 differ only by additions, which tolerant reading absorbs in both
directions; release 4 needs its readers upgraded before its producers.
"""

from __future__ import annotations

import os
from typing import Annotated

from pydantic import Field

from diko_shared.contract.base import Payload
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.versions import Earlier

SERVICE = "testsvc"
TYPE = "stock.counted"
RELEASE = int(os.environ.get("TESTSVC_STOCK_RELEASE", "2"))

Item = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9-]+$")]


class Counted1(Payload):
    item: Item
    count: Annotated[int, Field(ge=0)]


class Shelf2(Payload):
    aisle: int


class Counted2(Payload):
    item: Item
    count: Annotated[int, Field(ge=0)]
    unit: str = "Stück"
    shelf: Shelf2 | None = None


class Shelf3(Payload):
    aisle: int
    level: int | None = None


class Counted3(Payload):
    item: Item
    count: Annotated[int, Field(ge=0)]
    unit: str = "Stück"
    shelf: Shelf3 | None = None
    counted_by: str | None = None


class Counted4(Payload):
    """Version 2 of the schema: `count` is `quantity` now, and `unit` is required."""

    item: Item
    quantity: Annotated[int, Field(ge=0)]
    unit: str
    shelf: Shelf3 | None = None
    counted_by: str | None = None


def upgrade(old: Counted3) -> Counted4:
    """Version 1 as the current model: what `count` said is the `quantity`."""
    return Counted4(
        item=old.item,
        quantity=old.count,
        unit=old.unit,
        shelf=old.shelf,
        counted_by=old.counted_by,
    )


#: The model each release reads and writes, and its schema version.
RELEASES: dict[int, tuple[type[Payload], int]] = {
    1: (Counted1, 1),
    2: (Counted2, 1),
    3: (Counted3, 1),
    4: (Counted4, 2),
}

_model, _version = RELEASES[RELEASE]
CATALOGUE.event(
    TYPE,
    SERVICE,
    _model,
    "Stock was counted (an event whose contract evolves).",
    version=_version,
    earlier=(Earlier(1, Counted3, upgrade),) if _version == 2 else (),
)
CATALOGUE.reacts(SERVICE, TYPE)
