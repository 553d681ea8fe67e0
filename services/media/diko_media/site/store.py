"""Media's read model of the website: what the site shows, copied from the events that
feed it, and the marks that say which parts changed since the last build.

`site_positions` holds each position as companies announced it (open, filled, closed);
`site_fairs` the fairs matching planned; `presentations` what companies said about
themselves through `presentation.publish`. Companies themselves are media's copy in
`companies` (company_handlers.py), episodes media's own `episodes`.

Every handler that changes what the site shows stages a mark under `site_changes`
(`<kind>:<id>`, with a token of its own) and moves the one due item `site.build|site` to
now. The build reads the marks, renders what they touch and deletes each mark only if
its token is still the one it read; a change that arrives during a build has moved the
item again, so the item stays and the next run builds it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pymongo import DeleteOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from diko_shared import due
from diko_shared.store.group_commit import Write

POSITIONS = "site_positions"
FAIRS = "site_fairs"
PRESENTATIONS = "presentations"
CHANGES = "site_changes"
STATE = "site_state"
#: The due item that builds the site; every change moves it to now.
BUILD = "site.build"
#: Its key: one item for the whole site.
SITE_KEY = "site"


def set_position(position_id: str, fields: Mapping[str, Any], at: datetime) -> Write:
    """Keep every field's newest value, whatever order the position's events arrive in.

    Each field is stored as `f.<name>: {"at": when, "v": value}` and `$max` keeps the
    larger one, which compares `at` first. The write names only the `_id`: FerretDB
    answers that from its primary key, while a guard in the filter (`at` before this
    event) would read and decode the whole collection for every event.
    """
    newest = {f"f.{name}": {"at": at, "v": value} for name, value in fields.items()}
    return Write(POSITIONS, UpdateOne({"_id": position_id}, {"$max": newest}, upsert=True))


def position_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """The position's fields and the time of its newest event (`at`), from its stored form.

    Documents written before the per-field form kept the fields at the top level with
    one `at`; a field written since replaces them when its event is not older.
    """
    flat = {k: v for k, v in document.items() if k != "f"}
    older_than_top = document.get("at")
    for name, entry in (document.get("f") or {}).items():
        if name not in flat or older_than_top is None or entry["at"] >= older_than_top:
            flat[name] = entry["v"]
        if flat.get("at") is None or entry["at"] > flat["at"]:
            flat["at"] = entry["at"]
    return flat


def set_fair(fair_id: str, fields: Mapping[str, Any]) -> Write:
    return Write(FAIRS, UpdateOne({"_id": fair_id}, {"$set": dict(fields)}, upsert=True))


def set_presentation(company_id: str, fields: Mapping[str, Any]) -> Write:
    return Write(PRESENTATIONS, UpdateOne({"_id": company_id}, {"$set": dict(fields)}, upsert=True))


def changed(kind: str, id_: str, token: str, now: datetime) -> list[Write]:
    """Mark what changed and have the site built as soon as the due loop comes by.

    Every change moves the one item `site.build|site` to now (its runs are keyed by the
    scheduling: `DueRunner.on(..., each_scheduling=True)`). An item per change left a
    thousand items behind a burst of stories, each run once for a build that found
    nothing left to do, and each poll decoding all of them.
    """
    return [
        Write(
            CHANGES,
            UpdateOne({"_id": f"{kind}:{id_}"}, {"$set": {"token": token}}, upsert=True),
        ),
        due.schedule(BUILD, SITE_KEY, now, {}),
    ]


def built(marks: Mapping[str, str]) -> list[Write]:
    """Forget the marks a build took in, each only if no newer change replaced it."""
    return [
        Write(CHANGES, DeleteOne({"_id": mark, "token": token})) for mark, token in marks.items()
    ]


def record_build(build_id: str, at: datetime) -> Write:
    return Write(
        STATE,
        UpdateOne({"_id": "site"}, {"$set": {"build_id": build_id, "at": at}}, upsert=True),
    )


async def changes(db: AsyncDatabase) -> dict[str, str]:
    return {d["_id"]: d["token"] for d in await db[CHANGES].find({}).to_list(None)}


async def last_build(db: AsyncDatabase) -> str | None:
    document = await db[STATE].find_one({"_id": "site"})
    return None if document is None else document.get("build_id")


async def find_presentation(db: AsyncDatabase, company_id: str) -> dict[str, Any] | None:
    return await db[PRESENTATIONS].find_one({"_id": company_id})


async def build_soon(db: AsyncDatabase) -> None:
    """At start-up: a build under a key of this start, so that a process whose directory
    is empty (a new container, a new volume) has a site at once."""
    write = due.schedule(BUILD, f"start-{uuid.uuid4().hex}", datetime.now(UTC), {})
    await db[write.collection].bulk_write([write.op])
