"""Audio files: read with mutagen, kept in the database in chunks, served in byte ranges.

The type, length and size of an episode's audio come from the file, never from the
message: the feed's enclosure must state the exact length of what is served, and
podcast apps trust the duration it gives. An MP3 (MPEG audio) or an M4A (MP4 with AAC)
is accepted; anything else is refused with what it is.

The bytes live in `audio_chunks` under `<audio id>/<number>` (FerretDB answers `_id`
lookups from its index; GridFS would ask by `files_id` and `n`, which it scans), and
their description in `audio` with `complete` set once every chunk is written: a crash
half-way leaves an incomplete record the hourly chore deletes.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import mutagen
from mutagen.mp3 import MP3, HeaderNotFoundError
from mutagen.mp4 import MP4
from pymongo.asynchronous.database import AsyncDatabase

from diko_media import store

#: 512 KiB: far below MongoDB's 16 MiB document limit, few round trips per second of audio.
CHUNK_SIZE = 512 * 1024


class AudioRefused(Exception):
    """Not an audio file media can put into the feed; the message is German."""


@dataclass(frozen=True)
class AudioInfo:
    """What the feed states about an audio file, read from the file."""

    type: str
    extension: str
    size: int
    duration_s: int
    sha256: str

    @property
    def audio_id(self) -> str:
        """Named by its content: the same file uploaded twice is kept once."""
        return f"aud_{self.sha256[:20]}"


def probe(path: Path) -> AudioInfo:
    """Read type and length with mutagen; `AudioRefused` for what is not MP3 or M4A."""
    size = path.stat().st_size
    if size == 0:
        raise AudioRefused("Die Audiodatei ist leer.")
    try:
        audio = mutagen.File(path)
    except (mutagen.MutagenError, HeaderNotFoundError) as exc:
        raise AudioRefused(f"Die Datei ist keine lesbare Audiodatei ({exc}).") from None
    if isinstance(audio, MP3):
        kind, extension = "audio/mpeg", "mp3"
    elif isinstance(audio, MP4) and _has_audio_track(audio):
        kind, extension = "audio/x-m4a", "m4a"
    else:
        found = type(audio).__name__ if audio is not None else "unbekanntes Format"
        raise AudioRefused(
            f"Die Datei ist keine MP3- oder M4A-Audiodatei (erkannt: {found}); Podcast-Apps "
            "spielen nur diese Formate zuverlässig ab."
        )
    length = float(getattr(audio.info, "length", 0.0) or 0.0)
    if length < 1:
        raise AudioRefused("Die Audiodatei ist kürzer als eine Sekunde oder ohne Ton.")
    return AudioInfo(kind, extension, size, max(1, round(length)), _sha256(path))


def _has_audio_track(audio: MP4) -> bool:
    return getattr(audio.info, "codec", "").startswith(("mp4a", "alac")) or bool(
        getattr(audio.info, "channels", 0)
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


async def keep(db: AsyncDatabase, path: Path, info: AudioInfo, *, now: datetime) -> str:
    """Store the file's chunks and its record (complete last); returns its audio id."""
    existing = await store.find_audio(db, info.audio_id)
    if existing is not None and existing.get("complete"):
        return info.audio_id
    chunks = (info.size + CHUNK_SIZE - 1) // CHUNK_SIZE
    record = {
        "_id": info.audio_id,
        "type": info.type,
        "extension": info.extension,
        "size": info.size,
        "duration_s": info.duration_s,
        "sha256": info.sha256,
        "chunks": chunks,
        "chunk_size": CHUNK_SIZE,
        "complete": False,
        "created_at": now,
    }
    await store.save_audio(db, record)
    with path.open("rb") as file:
        for number in range(chunks):
            await store.save_audio_chunk(db, info.audio_id, number, file.read(CHUNK_SIZE))
    await store.save_audio(db, {**record, "complete": True})
    return info.audio_id


async def read_range(db: AsyncDatabase, record: dict, start: int, end: int) -> AsyncIterator[bytes]:
    """The bytes `start` to `end` (inclusive) of a stored file, chunk by chunk."""
    size = int(record["chunk_size"])
    first, last = start // size, end // size
    for number in range(first, last + 1):
        data = await store.find_audio_chunk(db, record["_id"], number)
        if data is None:
            raise LookupError(f"chunk {number} of {record['_id']} is missing")
        low = start - number * size if number == first else 0
        high = end - number * size + 1 if number == last else len(data)
        yield data[low:high]
