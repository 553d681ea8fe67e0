"""The media service's collections, the writes its handlers stage, and its queries.

Everything is addressed by string `_id` (the filter FerretDB serves from its index):
posts and their images, episodes, audio and its chunks, images, and the copies of what
companies told media (names, towns, consents). The few queries over other fields (the
published episodes, a company's posts) run over small collections.

State changes that must happen once (a post approved, an episode published) are
conditional updates that record the key of the message that made them, so that a
redelivery of that message recognises its own work and announces it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DeleteOne, IndexModel, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from diko_shared.store import guards
from diko_shared.store.group_commit import Write
from diko_shared.store.lookups import find_by_ids
from diko_shared.store.mongo import Indexes, bulk_write_in_batches

POSTS = "posts"
POST_IMAGES = "post_images"
EPISODES = "episodes"
AUDIO = "audio"
AUDIO_CHUNKS = "audio_chunks"
IMAGES = "images"
COMPANIES = "companies"
FEED_STATE = "feed_state"
#: The one document whose `version` changes whenever the feed or the podcast pages would.
FEED = "podcast"

INDEXES: Indexes = {
    EPISODES: [IndexModel([("status", ASCENDING)])],
    POSTS: [IndexModel([("company_id", ASCENDING)])],
    # The website's company photos (site/photos.py): a company's, and a photo's files.
    "company_photos": [IndexModel([("company_id", ASCENDING)])],
    "company_photo_files": [IndexModel([("photo_id", ASCENDING)])],
}

#: Post states from which a withdrawn consent takes a post out of the queue.
QUEUED = ("draft", "approved", "scheduled", "publishing", "failed")


# -- the feed's version ------------------------------------------------------------------------


def bump_feed(version: str) -> Write:
    """Stage a new version of everything the podcast shows (feed, pages): caches drop theirs."""
    return Write(FEED_STATE, UpdateOne({"_id": FEED}, {"$set": {"version": version}}, upsert=True))


async def feed_version(db: AsyncDatabase) -> str:
    document = await db[FEED_STATE].find_one({"_id": FEED})
    return str((document or {}).get("version", ""))


# -- posts -------------------------------------------------------------------------------------


def slide_id(post_id: str, number: int) -> str:
    return f"{post_id}/{number}"


def insert_post(document: Mapping[str, Any]) -> list[Write]:
    """The post and a record per slide for the files its first request renders
    (`keep_slide_files`), under ids from the post id: a repeat finds them."""
    post_id = document["_id"]
    records = (
        guards.insert(POST_IMAGES, {"_id": slide_id(post_id, number)})
        for number in range(1, len(document["slides"]) + 1)
    )
    return [guards.insert(POSTS, document), *records]


async def find_post(db: AsyncDatabase, post_id: str) -> dict[str, Any] | None:
    return await db[POSTS].find_one({"_id": post_id})


async def find_slide(
    db: AsyncDatabase, post_id: str, number: int, fields: Iterable[str] | None = None
) -> dict[str, Any] | None:
    """A slide's record; with `fields`, only those (a record holds a PNG and a JPEG)."""
    projection = dict.fromkeys(fields, 1) if fields is not None else None
    return await db[POST_IMAGES].find_one({"_id": slide_id(post_id, number)}, projection)


async def keep_slide_files(
    db: AsyncDatabase, post_id: str, number: int, files: Mapping[str, Any]
) -> None:
    """A slide's files, rendered at a request, for the next: the same bytes whoever renders
    them, so two replicas racing write the same. Into the slide's record only, never a new
    one: a post erased while its slide was being drawn stays erased."""
    await db[POST_IMAGES].update_one({"_id": slide_id(post_id, number)}, {"$set": dict(files)})


def change_post(
    post_id: str, expected: Iterable[str], changes: Mapping[str, Any], *, unset: Iterable[str] = ()
) -> Write:
    """Stage a change of a post that holds only while it is in one of the `expected` states."""
    update: dict[str, Any] = {"$set": dict(changes)}
    fields = list(unset)
    if fields:
        update["$unset"] = dict.fromkeys(fields, "")
    return Write(POSTS, UpdateOne({"_id": post_id, "status": {"$in": list(expected)}}, update))


async def set_post(db: AsyncDatabase, post_id: str, changes: Mapping[str, Any]) -> None:
    """Write at once (the publisher records each step before the next call to Instagram)."""
    await db[POSTS].update_one({"_id": post_id}, {"$set": dict(changes)})


async def posts_of(db: AsyncDatabase, company_id: str) -> list[dict[str, Any]]:
    return await db[POSTS].find({"company_id": company_id}).to_list(None)


async def episode_posts(db: AsyncDatabase, episode_id: str) -> list[dict[str, Any]]:
    return await db[POSTS].find({"episode_id": episode_id}).to_list(None)


# -- episodes ----------------------------------------------------------------------------------


def insert_episode(document: Mapping[str, Any]) -> Write:
    return guards.insert(EPISODES, document)


async def find_episode(db: AsyncDatabase, episode_id: str) -> dict[str, Any] | None:
    return await db[EPISODES].find_one({"_id": episode_id})


def change_episode(
    episode_id: str, changes: Mapping[str, Any], *, unset: Iterable[str] = ()
) -> Write:
    update: dict[str, Any] = {}
    if changes:
        update["$set"] = dict(changes)
    fields = list(unset)
    if fields:
        update["$unset"] = dict.fromkeys(fields, "")
    return Write(EPISODES, UpdateOne({"_id": episode_id}, update))


async def publish_episode(
    db: AsyncDatabase, episode_id: str, *, at: datetime, key: str, from_status: Iterable[str]
) -> dict[str, Any] | None:
    """Publish at once, noting which message (or due item) did it; None if not allowed.

    A single conditional update decides who publishes: of two racing, one wins, and the
    other sees the episode published by someone else.
    """
    return await db[EPISODES].find_one_and_update(
        {"_id": episode_id, "status": {"$in": list(from_status)}},
        {
            "$set": {"status": "published", "published_at": at, "published_by": key},
            "$unset": {"publish_at": ""},
        },
        return_document=ReturnDocument.AFTER,
    )


async def published_episodes(db: AsyncDatabase) -> list[dict[str, Any]]:
    return await db[EPISODES].find({"status": "published"}).to_list(None)


async def episodes_of(db: AsyncDatabase, company_id: str) -> list[dict[str, Any]]:
    return await db[EPISODES].find({"company_id": company_id}).to_list(None)


# -- companies (copies) ------------------------------------------------------------------------


async def find_company(db: AsyncDatabase, company_id: str) -> dict[str, Any] | None:
    return await db[COMPANIES].find_one({"_id": company_id})


async def find_companies(db: AsyncDatabase, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    return await find_by_ids(db[COMPANIES], sorted(set(ids)))


def set_company(company_id: str, changes: Mapping[str, Any]) -> Write:
    return Write(COMPANIES, UpdateOne({"_id": company_id}, {"$set": dict(changes)}, upsert=True))


# -- images (covers, logos) and audio ----------------------------------------------------------


async def find_image(db: AsyncDatabase, image_id: str) -> dict[str, Any] | None:
    return await db[IMAGES].find_one({"_id": image_id})


async def save_image(db: AsyncDatabase, document: Mapping[str, Any]) -> None:
    """Images are named by their content (`img_<sha256>`): saving one twice changes nothing."""
    await db[IMAGES].replace_one({"_id": document["_id"]}, dict(document), upsert=True)


async def find_audio(db: AsyncDatabase, audio_id: str) -> dict[str, Any] | None:
    return await db[AUDIO].find_one({"_id": audio_id})


def chunk_id(audio_id: str, number: int) -> str:
    return f"{audio_id}/{number:06d}"


async def save_audio_chunk(db: AsyncDatabase, audio_id: str, number: int, data: bytes) -> None:
    await db[AUDIO_CHUNKS].replace_one(
        {"_id": chunk_id(audio_id, number)}, {"data": data}, upsert=True
    )


async def find_audio_chunk(db: AsyncDatabase, audio_id: str, number: int) -> bytes | None:
    document = await db[AUDIO_CHUNKS].find_one({"_id": chunk_id(audio_id, number)})
    return None if document is None else bytes(document["data"])


async def save_audio(db: AsyncDatabase, document: Mapping[str, Any]) -> None:
    await db[AUDIO].replace_one({"_id": document["_id"]}, dict(document), upsert=True)


async def forget_audio(db: AsyncDatabase, audio_id: str, chunks: int) -> None:
    deletes = [DeleteOne({"_id": chunk_id(audio_id, n)}) for n in range(chunks)]
    await bulk_write_in_batches(db[AUDIO_CHUNKS], deletes, ordered=False)
    await db[AUDIO].delete_one({"_id": audio_id})


async def stale_audio(db: AsyncDatabase, before: datetime) -> list[dict[str, Any]]:
    """Audio that is unfinished or no episode uses, older than `before` (hourly chore)."""
    used = {
        (document.get("audio") or {}).get("id")
        for document in await db[EPISODES].find({}, {"audio.id": 1}).to_list(None)
    }
    old = await db[AUDIO].find({"created_at": {"$lt": before}}).to_list(None)
    return [a for a in old if a["_id"] not in used or not a.get("complete")]
