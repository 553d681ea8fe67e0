"""The media service's collections, the writes its handlers stage, and its queries.

Posts and their images live apart: `post.get` never loads the bytes, and the image route
loads nothing else. Both are addressed by the post id (`{"_id": <str>}`, which FerretDB
serves from its index). Episodes are few, so the feed may filter them freely.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from diko_media.domain import PostDraft
from diko_media.graphics.render import Rendered
from diko_shared.contract.media import Episode, Post
from diko_shared.store import guards
from diko_shared.store.group_commit import Write
from diko_shared.store.mongo import Indexes

POSTS = "posts"
POST_IMAGES = "post_images"
EPISODES = "episodes"

INDEXES: Indexes = {
    EPISODES: [IndexModel([("status", ASCENDING), ("published_at", DESCENDING)])],
}


@dataclass(frozen=True)
class PostImage:
    png: bytes
    sha256: str


@dataclass(frozen=True)
class EpisodeRecord:
    """An episode and the key of the message that published it (None while a draft)."""

    episode: Episode
    published_by: str | None


# -- posts --------------------------------------------------------------------------------


def insert_post(draft: PostDraft, image: Rendered) -> list[Write]:
    """The post (a draft) and its image, under the post id: a repeat finds them there."""
    digest = hashlib.sha256(image.png).hexdigest()
    post = {
        "_id": draft.post_id,
        "kind": draft.kind,
        "status": "draft",
        "layout": draft.layout,
        "company_id": draft.company_id,
        "position_id": draft.position_id,
        "fields": dict(draft.fields),
        "caption": draft.caption,
        "hashtags": list(draft.hashtags),
        "image": {"width": image.width, "height": image.height, "sha256": digest},
        "created_at": draft.created_at,
    }
    png = {"_id": draft.post_id, "png": image.png, "sha256": digest}
    return [guards.insert(POSTS, post), guards.insert(POST_IMAGES, png)]


async def find_post(db: AsyncDatabase, post_id: str) -> Mapping[str, Any] | None:
    return await db[POSTS].find_one({"_id": post_id})


def post_from(document: Mapping[str, Any], *, image_url: str) -> Post:
    return Post(
        post_id=document["_id"],
        kind=document["kind"],
        status=document["status"],
        company_id=document["company_id"],
        position_id=document.get("position_id"),
        caption=document["caption"],
        hashtags=list(document["hashtags"]),
        image_url=image_url,
        image_width=document["image"]["width"],
        image_height=document["image"]["height"],
        created_at=document["created_at"],
    )


async def find_image(db: AsyncDatabase, post_id: str) -> PostImage | None:
    document = await db[POST_IMAGES].find_one({"_id": post_id})
    if document is None:
        return None
    return PostImage(png=bytes(document["png"]), sha256=document["sha256"])


# -- episodes -----------------------------------------------------------------------------


def insert_episode(episode: Episode, *, created_at: datetime) -> Write:
    document = episode.model_dump(exclude={"episode_id"})
    return guards.insert(
        EPISODES, {"_id": episode.episode_id, **document, "created_at": created_at}
    )


async def find_episode(db: AsyncDatabase, episode_id: str) -> EpisodeRecord | None:
    document = await db[EPISODES].find_one({"_id": episode_id})
    return None if document is None else _record(document)


async def publish_episode(
    db: AsyncDatabase, episode_id: str, *, at: datetime, key: str
) -> EpisodeRecord | None:
    """Publish a draft at once, noting which message did it; None if it is no draft.

    A single conditional update decides who publishes: of two messages racing (two
    replicas), one wins, and the other sees the episode published by someone else.
    """
    document = await db[EPISODES].find_one_and_update(
        {"_id": episode_id, "status": "draft"},
        {"$set": {"status": "published", "published_at": at, "published_by": key}},
        return_document=ReturnDocument.AFTER,
    )
    return None if document is None else _record(document)


async def published_episodes(db: AsyncDatabase) -> list[Episode]:
    cursor = db[EPISODES].find({"status": "published"})
    return [_record(document).episode async for document in cursor]


def _record(document: Mapping[str, Any]) -> EpisodeRecord:
    fields = {name: document.get(name) for name in Episode.model_fields if name != "episode_id"}
    episode = Episode.from_stored({**fields, "episode_id": document["_id"]})
    return EpisodeRecord(episode=episode, published_by=document.get("published_by"))
