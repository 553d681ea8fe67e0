"""The directory: compact rows of every company and position, for search and duplicates.

FerretDB answers only `{"_id": …}` from an index and scans the collection for anything
else (a filter over 50,000 companies takes seconds there), so search cannot be a query.
Instead every change of a company or position also stages its compact row into one of
256 buckets (`c<xx>`, `p<xx>`, by the id's first two hex digits) and a new revision
token into one of 16 version documents (`directory/v<x>`, by the bucket's first hex
digit: FerretDB's cost of reading or updating a document grows with its fields, and one
version document of 512 tokens cost 20–40 ms a touch). A position bucket is one document
(`directory/p<xx>`); a company bucket is 16 chunk documents (`directory/c<xx>.<x>`, by
the id's third hex digit), since every registration writes one, plus the bucket
document of the layout before the chunks (`directory/c<xx>`), still read, no longer
written. Each replica keeps the rows in memory; before a search or a duplicate check it
reads the 16 version documents (point reads at once) and reloads only the buckets whose
token changed, and of a company bucket only the chunks written since, where the bucket's
chain of tokens says which (see `written_since`). What one replica committed, the others
see at their next read.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import json
import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from diko_companies.duplicates import (
    MOST_IN_TOKEN_BLOCK,
    NAME_NEEDS_PLACE,
    STRONG_KEYS,
    Profile,
    fold,
)
from diko_shared.store.group_commit import Write
from diko_shared.store.mongo import bulk_write_in_batches

DIRECTORY = "directory"
#: The version documents: `v0` … `vf`.
VERSIONS = [f"v{digit:x}" for digit in range(16)]


def version_of(name: str) -> str:
    """The version document that holds the token of bucket `name` (`c3f` → `v3`)."""
    return f"v{name[1]}"


#: Directory documents read at once when the directory catches up.
READ_AT_ONCE = 32


def bucket(kind: str, entity_id: str) -> str:
    """`c3f` for a company id `cmp_3f…`, `p3f` for a position id `pos_3f…`."""
    return f"{kind}{entity_id[4:6]}"


#: Company rows are kept in 16 chunk documents per bucket (`c3f.0` … `c3f.f`, by the id's
#: third hex digit): FerretDB reads and writes back a whole document for every update, and
#: one row written into a bucket of 40 rows cost it 2.3 ms of CPU against 0.8 ms into a
#: small document, a cost that grew with every company (at 50,000, 200 rows a bucket).
CHUNKS = [f"{digit:x}" for digit in range(16)]


def chunk(company_id: str) -> str:
    """The document that holds a company's row: `c3f.a` for `cmp_3fa…`."""
    return f"{bucket('c', company_id)}.{company_id[6:7] or '0'}"


def chunks_of(name: str) -> list[str]:
    """The documents whose rows make up bucket `name`: for a company bucket its chunks and
    the bucket document itself, where rows were kept before the chunks (read, never
    written); a position bucket is one document."""
    if not name.startswith("c"):
        return [name]
    return [name, *(f"{name}.{digit}" for digit in CHUNKS)]


def _town_key(profile: Profile) -> str:
    """The directory's block of every company in a town (not a blocking key of the scan)."""
    return f"town:{profile.town}"


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


@dataclass(frozen=True, slots=True)
class CompanyRow:
    """What search and duplicate detection need of one company.

    Stored as one JSON string per row: FerretDB converts every field of a document it
    reads, and a bucket of 200 rows of a dozen fields each took it ten times longer.
    """

    profile: Profile
    industry: str | None
    lat: float
    lon: float
    consents: frozenset[str]
    score: int | None
    merged: bool
    words: tuple[str, ...] = ()  # folded words of name and town, for text search
    sort_name: str = ""

    def __post_init__(self) -> None:
        if not self.words:
            folded = fold(f"{self.profile.name} {self.profile.town}")
            object.__setattr__(self, "words", tuple(folded.split()))
            object.__setattr__(self, "sort_name", fold(self.profile.name))

    @property
    def company_id(self) -> str:
        return self.profile.company_id

    def to_doc(self) -> str:
        p = self.profile
        return _pack(
            {
                "n": p.name,
                "k": p.key,
                "t": p.town,
                "pc": p.postcode,
                "s": p.street,
                "tel": list(p.phones),
                "web": list(p.domains),
                "mail": list(p.mail_domains),
                "i": self.industry,
                "ll": [self.lat, self.lon],
                "c": sorted(self.consents),
                "sc": self.score,
                "m": self.merged,
            }
        )

    @classmethod
    def from_doc(cls, company_id: str, packed: str) -> CompanyRow:
        doc = json.loads(packed)
        profile = Profile(
            company_id=company_id,
            name=doc["n"],
            key=doc["k"],
            town=doc["t"],
            postcode=doc["pc"],
            street=doc["s"],
            phones=tuple(doc.get("tel", ())),
            domains=tuple(doc.get("web", ())),
            mail_domains=tuple(doc.get("mail", ())),
        )
        lat, lon = doc["ll"]
        return cls(
            profile,
            doc.get("i"),
            lat,
            lon,
            frozenset(doc.get("c", ())),
            doc.get("sc"),
            bool(doc.get("m")),
        )


@dataclass(frozen=True, slots=True)
class PositionRow:
    """What position search needs of one position."""

    position_id: str
    company_id: str
    code: str
    start: str  # ISO date
    town: str
    lat: float
    lon: float
    status: str

    def to_doc(self) -> str:
        return _pack(
            {
                "c": self.company_id,
                "o": self.code,
                "d": self.start,
                "t": self.town,
                "ll": [self.lat, self.lon],
                "st": self.status,
            }
        )

    @classmethod
    def from_doc(cls, position_id: str, packed: str) -> PositionRow:
        doc = json.loads(packed)
        lat, lon = doc["ll"]
        return cls(position_id, doc["c"], doc["o"], doc["d"], doc["t"], lat, lon, doc["st"])


def _pack(fields: dict[str, Any]) -> str:
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


def stage_company(row: CompanyRow, token: str) -> list[Write]:
    """The writes that put a company's row into its chunk and announce its bucket's change
    (a chain of one token, which names the chunk)."""
    company_id = row.company_id
    document = chunk(company_id)
    entry = chain_entry(token, document[-1])
    return _stage(bucket("c", company_id), document, company_id, row.to_doc(), entry)


def stage_position(row: PositionRow, token: str) -> list[Write]:
    name = bucket("p", row.position_id)
    return _stage(name, name, row.position_id, row.to_doc(), token)


def _stage(name: str, document: str, entity_id: str, doc: str, token: str) -> list[Write]:
    return [
        Write(
            DIRECTORY,
            UpdateOne({"_id": document}, {"$set": {f"r.{entity_id}": doc}}, upsert=True),
        ),
        Write(
            DIRECTORY,
            UpdateOne({"_id": version_of(name)}, {"$set": {f"revs.{name}": token}}, upsert=True),
        ),
    ]


# -- chains of tokens --------------------------------------------------------------------------

#: Tokens a bucket's chain keeps, newest first: enough for a replica that catches up
#: several times a second to find the one it loaded.
CHAIN_LENGTH = 4
#: The chain's first token, of a bucket with no rows: a chain that still ends in it
#: names every chunk with rows, so a replica that never read the bucket reads only those.
EMPTY = "0"


def chain_entry(token: str, digits: str) -> str:
    """One entry of a bucket's chain: a token and the chunks (`3a`: `c3f.3`, `c3f.a`)
    that its write changed."""
    return f"{token}/{digits}"


def chained(entry: str, before: str) -> str:
    """The chain of `entry` written over the chain `before` (kept to CHAIN_LENGTH)."""
    return ";".join([entry, *before.split(";")][:CHAIN_LENGTH])


def written_since(chain: str, loaded: str) -> set[str] | None:
    """The chunk digits changed between the chain `loaded` and the later `chain`; None
    where the chain cannot tell (the loaded one fell off its end, or an entry written by
    a staged change or an older replica names no chunks): then the whole bucket is read.

    A chain is a bucket's last tokens, newest first, each written over the one before it.
    The loaded chain is found where its entries continue the newer one's, not at the
    first equal entry: a token written again (a redelivered message's) cannot hide the
    writes between.
    """
    entries, known = chain.split(";"), loaded.split(";")
    for start, entry in enumerate(entries):
        if entry != known[0]:
            continue
        overlap = entries[start:]
        if overlap != known[: len(overlap)]:
            continue
        digits: set[str] = set()
        for newer in entries[:start]:
            _, slash, written = newer.partition("/")
            if not slash or not written:
                return None
            digits.update(written)
        return digits
    return None


# -- writing many rows at once -----------------------------------------------------------------


class RowWriter:
    """Writes the company rows of concurrently handled messages, one update per chunk.

    Staged with each message's commit, every row cost two updates (its chunk and its
    version document), each a read and write-back of the whole document on FerretDB:
    an import paid that per row. Here a handler hands its row over and waits; while one
    flush runs, rows queue up, and the next flush writes each touched chunk once (all
    its rows in one `$set`), then each touched version document once.

    The rows are written before the handler returns, so before the platform commits the
    message: a row is derived from the message (its ids are), and a redelivery after a
    crash writes the same row again.

    Each flush announces a fresh token per touched bucket, naming the chunks it wrote,
    chained over the bucket's chain as this replica loaded it, with `find_one_and_update`.
    Where the chain before was the one loaded, nobody else announced a change since: this
    replica's copy (which has its own rows at once) stays up to date without reading the
    bucket back, and the other replicas read back only the chunks written. Where another
    replica's token came in between, the chain just written skipped it, and a fresh token
    alone (a chain of one) replaces it, so that every replica reads the bucket whole.
    """

    def __init__(self, directory: Directory) -> None:
        self._directory = directory
        self._rows: dict[str, CompanyRow] = {}
        self._waiting: list[asyncio.Future[None]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def put_company(self, db: AsyncDatabase, row: CompanyRow) -> None:
        """Put a company's row into this replica's copy now, and into its chunk document."""
        self._directory.put_own(row)
        self._rows[row.company_id] = row
        done = asyncio.get_running_loop().create_future()
        self._waiting.append(done)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_while_pending(db))
        await done

    async def _flush_while_pending(self, db: AsyncDatabase) -> None:
        while self._waiting:
            rows, waiting = self._rows, self._waiting
            self._rows, self._waiting = {}, []
            try:
                await self._flush(db, rows)
            except Exception as exc:  # noqa: BLE001 - handed to every waiting handler
                self._directory.drop_own(rows.values())
                for done in waiting:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for done in waiting:
                    if not done.done():
                        done.set_result(None)

    async def _flush(self, db: AsyncDatabase, rows: dict[str, CompanyRow]) -> None:
        by_chunk: dict[str, dict[str, str]] = defaultdict(dict)
        for company_id, row in rows.items():
            by_chunk[chunk(company_id)][f"r.{company_id}"] = row.to_doc()
        updates = [
            UpdateOne({"_id": name}, {"$set": fields}, upsert=True)
            for name, fields in by_chunk.items()
        ]
        await bulk_write_in_batches(db[DIRECTORY], updates, ordered=False)
        by_version: dict[str, dict[str, str]] = defaultdict(lambda: defaultdict(str))
        for name in sorted(by_chunk):
            bucket_name = name.partition(".")[0]
            by_version[version_of(bucket_name)][bucket_name] += name[-1]
        await asyncio.gather(
            *(self._announce(db, version, digits) for version, digits in by_version.items())
        )
        self._directory.drop_own(rows.values())

    async def _announce(self, db: AsyncDatabase, version: str, digits: dict[str, str]) -> None:
        """Chain a fresh token naming the chunks written (`digits`, by bucket) over the
        chains this replica loaded; where the tokens before show that another replica
        announced in between, announce a fresh token alone over the chain that skipped
        it. A bucket without a chain has no rows: its chain begins with EMPTY.

        Not an update conditional on the chain: FerretDB answers a filter of anything but
        `_id` alone by reading the whole collection (an import of 10,000 rows took 87 s
        instead of 57 s so). The chain written over another replica's token stands until
        the fresh token replaces it, one round trip later.
        """
        token = uuid.uuid4().hex[:8]
        loaded = {name: self._directory.loaded_chain(name) for name in digits}
        chains = {
            name: chained(chain_entry(token, written), loaded[name] or EMPTY)
            for name, written in digits.items()
        }
        before = await db[DIRECTORY].find_one_and_update(
            {"_id": version},
            {"$set": {f"revs.{name}": chain for name, chain in chains.items()}},
            upsert=True,
            return_document=ReturnDocument.BEFORE,
        )
        tokens = (before or {}).get("revs", {})
        self._directory.seen_own(tokens, chains, loaded)
        skipped = [name for name in digits if tokens.get(name) != loaded[name]]
        if skipped:
            fresh = uuid.uuid4().hex[:8]
            alone = {name: chain_entry(fresh, digits[name]) for name in skipped}
            await db[DIRECTORY].update_one(
                {"_id": version}, {"$set": {f"revs.{name}": c for name, c in alone.items()}}
            )


# -- cursors -----------------------------------------------------------------------------------


def encode_cursor(key: Iterable[Any]) -> str:
    raw = json.dumps(list(key), separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any] | None:
    """The sort key a cursor continues after; None if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, list) and len(value) == 2 else None


# -- the in-memory copy ------------------------------------------------------------------------


async def _read_documents(
    db: AsyncDatabase, wanted: dict[str, list[str]]
) -> dict[str, dict[str, dict[str, str]]]:
    """The rows of each document in `wanted` (documents by bucket), by bucket and document
    (point reads, many at once); a document not there has none."""
    reads = [(name, document) for name, documents in wanted.items() for document in documents]
    rows: dict[str, dict[str, dict[str, str]]] = {name: {} for name in wanted}
    for start in range(0, len(reads), READ_AT_ONCE):
        part = reads[start : start + READ_AT_ONCE]
        docs = await asyncio.gather(*(db[DIRECTORY].find_one({"_id": d}) for _, d in part))
        for (name, document), doc in zip(part, docs, strict=True):
            rows[name][document] = (doc or {}).get("r", {})
    return rows


class Directory:
    """One replica's copy of the rows, kept up to date from the bucket documents."""

    def __init__(self) -> None:
        self.companies: dict[str, CompanyRow] = {}
        self.positions: dict[str, PositionRow] = {}
        self.blocks: dict[str, set[str]] = defaultdict(set)
        self.open_positions: dict[str, int] = defaultdict(int)
        #: Companies by each folded word of name and town, for prefix search.
        self.word_ids: dict[str, set[str]] = defaultdict(set)
        self._words: list[str] | None = None
        self._in_bucket: dict[str, set[str]] = defaultdict(set)
        #: The chain of tokens of each bucket as this copy has it loaded.
        self._revs: dict[str, str] = {}
        #: Company buckets whose document of the layout before the chunks had rows when
        #: last read: always read whole (a row there may be hidden by one in a chunk).
        self._with_old_rows: set[str] = set()
        #: This replica's rows being written (see `RowWriter`), by company id.
        self._own: dict[str, CompanyRow] = {}
        self._lock = asyncio.Lock()
        self._begun = 0
        #: Documents read by the catch-ups so far, whole buckets and chunks read alone.
        self.reads = {"whole": 0, "chunks": 0}

    async def refresh(self, db: AsyncDatabase, max_age: float = 0.0) -> None:
        """Catch up with every change committed before this call (by any replica).

        Concurrent callers share the work: a catch-up that began after this call was
        made (and has ended once the lock is ours) has seen everything this call must.
        With `max_age`, a catch-up that began less than that many seconds ago is enough
        (duplicate checks during an import: this replica's own rows are put in at once).
        """
        loop = asyncio.get_running_loop()
        if max_age and loop.time() - self._last_began < max_age:
            return
        ticket = self._begun
        async with self._lock:
            if self._begun > ticket:
                return
            self._begun += 1
            self._last_began = loop.time()
            await self._catch_up(db)

    _last_began = float("-inf")

    async def _catch_up(self, db: AsyncDatabase) -> None:
        versions = await asyncio.gather(*(db[DIRECTORY].find_one({"_id": v}) for v in VERSIONS))
        revs: dict[str, str] = {}
        for version in versions:
            revs.update((version or {}).get("revs", {}))
        wanted = {
            name: self._documents_to_read(name, chain)
            for name, chain in revs.items()
            if self._revs.get(name) != chain
        }
        self._own_since = dict(self._own)
        try:
            read = await _read_documents(db, wanted)
            for name, documents in read.items():
                whole = documents.keys() == set(chunks_of(name))
                self.reads["whole" if whole else "chunks"] += len(documents)
                self._load(name, documents, whole)
                if self._written_meanwhile(name, documents, whole):
                    self._revs.pop(name, None)  # read again at the next catch-up
                else:
                    self._revs[name] = revs[name]
        finally:
            self._own_since = None

    def _documents_to_read(self, name: str, chain: str) -> list[str]:
        """The documents of bucket `name` to read for its newer `chain`: of a company
        bucket only the chunks written since the chain loaded here, where it tells."""
        if not name.startswith("c") or name in self._with_old_rows:
            return chunks_of(name)
        digits = written_since(chain, self._revs.get(name, EMPTY))
        if digits is None:
            return chunks_of(name)
        return [f"{name}.{digit}" for digit in sorted(digits)]

    def loaded_chain(self, name: str) -> str | None:
        """The chain of tokens of bucket `name` this copy is up to date with, if any."""
        return self._revs.get(name)

    def _written_meanwhile(
        self, name: str, documents: dict[str, dict[str, str]], whole: bool
    ) -> bool:
        """Put back this replica's rows of the documents read that were written while the
        catch-up read them but are not in what it read: they left `_own` when written, and
        the documents, read before, did not have them yet. True if there were any."""
        missed = [
            row
            for company_id, row in (self._own_since or {}).items()
            if bucket("c", company_id) == name
            and (whole or chunk(company_id) in documents)
            and company_id not in self._own
            and documents.get(chunk(company_id), {}).get(company_id) != row.to_doc()
        ]
        for row in missed:
            self.put_company(row)
        return bool(missed)

    #: This replica's rows being written since a catch-up began (None while none runs).
    _own_since: dict[str, CompanyRow] | None = None

    def put_own(self, row: CompanyRow) -> None:
        """A row of this replica's that is being written: kept over reloads of its bucket."""
        self._own[row.company_id] = row
        if self._own_since is not None:
            self._own_since[row.company_id] = row
        self.put_company(row)

    def drop_own(self, rows: Iterable[CompanyRow]) -> None:
        """Rows written and announced (or failed): their bucket's document speaks for them."""
        for row in rows:
            if self._own.get(row.company_id) is row:
                del self._own[row.company_id]

    def seen_own(
        self,
        before: Mapping[str, str],
        written: Mapping[str, str],
        loaded: Mapping[str, str | None],
    ) -> None:
        """Take this replica's own chains as loaded where nobody else wrote in between.

        `before` holds a version document's chains just before this replica's update set
        `written` over the chains it had `loaded`: a bucket whose chain then was the one
        loaded, and still is here, changed only by rows this replica has put in already.
        """
        for name, chain in written.items():
            if before.get(name) == loaded[name] == self._revs.get(name):
                self._revs[name] = chain

    def _load(self, name: str, documents: dict[str, dict[str, str]], whole: bool) -> None:
        """Replace the rows of bucket `name` by those of the documents read: all of them,
        or (not `whole`) those of the chunks read."""
        held = self._in_bucket[name]
        gone = held if whole else {i for i in held if chunk(i) in documents}
        for entity_id in gone:
            self._forget(entity_id)
        held -= gone
        if whole and name.startswith("c"):
            if documents.get(name):
                self._with_old_rows.add(name)
            else:
                self._with_old_rows.discard(name)
        for document in chunks_of(name):  # the layout before the chunks first: older
            for entity_id, doc in documents.get(document, {}).items():
                if name.startswith("c"):
                    self.put_company(CompanyRow.from_doc(entity_id, doc))
                else:
                    self.put_position(PositionRow.from_doc(entity_id, doc))
        for own in [r for r in self._own.values() if bucket("c", r.company_id) == name]:
            self.put_company(own)  # being written: newer than what the bucket said

    def _forget(self, entity_id: str) -> None:
        if (row := self.companies.pop(entity_id, None)) is not None:
            for key in row.profile.block_keys():
                self.blocks[key].discard(entity_id)
            self.blocks[_town_key(row.profile)].discard(entity_id)
            for word in row.words:
                self.word_ids[word].discard(entity_id)
        position = self.positions.pop(entity_id, None)
        if position is not None and position.status == "open":
            self.open_positions[position.company_id] -= 1

    def put_company(self, row: CompanyRow) -> None:
        self._forget(row.company_id)
        self.companies[row.company_id] = row
        self._in_bucket[bucket("c", row.company_id)].add(row.company_id)
        if not row.merged:
            for key in row.profile.block_keys():
                self.blocks[key].add(row.company_id)
            self.blocks[_town_key(row.profile)].add(row.company_id)
        for word in row.words:
            if word not in self.word_ids:
                self._words = None
            self.word_ids[word].add(row.company_id)

    def put_position(self, row: PositionRow) -> None:
        self._forget(row.position_id)
        self.positions[row.position_id] = row
        self._in_bucket[bucket("p", row.position_id)].add(row.position_id)
        if row.status == "open":
            self.open_positions[row.company_id] += 1

    def with_prefixes(self, prefixes: tuple[str, ...]) -> set[str]:
        """Companies with, for every prefix, a word of name or town that starts with it."""
        if self._words is None:
            self._words = sorted(self.word_ids)
        found: set[str] | None = None
        for prefix in prefixes:
            start = bisect.bisect_left(self._words, prefix)
            ids: set[str] = set()
            for word in self._words[start:]:
                if not word.startswith(prefix):
                    break
                ids |= self.word_ids[word]
            found = ids if found is None else found & ids
            if not found:
                return set()
        return found or set()

    # -- reading ---------------------------------------------------------------------------

    def neighbours(self, profile: Profile) -> tuple[list[Profile], list[Profile]]:
        """Companies sharing a blocking key with `profile` that may look like it: those
        sharing a phone number, web or mail domain (compared in full), and those sharing
        only a name block (generic name tokens left out). Of a name token's block, only
        companies in the same town: elsewhere, without strong evidence, a name alone
        cannot reach `SUSPECT_FROM` (`NAME_NEEDS_PLACE`); the same postcode is a block
        of its own."""
        strong: set[str] = set()
        named: set[str] = set()
        in_town = self.blocks.get(_town_key(profile), set())
        for key in profile.block_keys():
            members = self.blocks.get(key)
            if not members:
                continue
            if key.startswith(STRONG_KEYS):
                strong |= members
            elif not key.startswith("tok:"):
                named |= members
            elif len(members) <= MOST_IN_TOKEN_BLOCK:
                named |= members & in_town if NAME_NEEDS_PLACE else members
        named -= strong
        strong.discard(profile.company_id)
        named.discard(profile.company_id)
        companies = self.companies
        return [companies[i].profile for i in strong], [companies[i].profile for i in named]

    def profiles(self, postcode_prefix: str | None = None) -> list[Profile]:
        rows = (r for r in self.companies.values() if not r.merged)
        if postcode_prefix:
            rows = (r for r in rows if r.profile.postcode.startswith(postcode_prefix))
        return sorted((r.profile for r in rows), key=lambda p: p.company_id)
