"""The directory's rows written many at once (`RowWriter`), seen by two replicas' copies.

Two `Directory` copies on one real database stand for two replicas of the service: what
one writes (rows of many messages batched into one update per bucket), the other sees
at its next catch-up, and a replica whose bucket another replica changed in between
reads it back instead of trusting its own copy. The neighbours a duplicate check
compares come from the copy's blocks, sorted into strong evidence and name blocks.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from rapidfuzz import fuzz

from diko_companies import duplicates
from diko_companies.directory import (
    CHAIN_LENGTH,
    DIRECTORY,
    CompanyRow,
    Directory,
    RowWriter,
    bucket,
    chained,
    chunk,
    chunks_of,
    stage_company,
    version_of,
    written_since,
)
from diko_companies.duplicates import Profile, normalise_name
from harness.stack import SessionStack


@pytest.fixture
async def db(mongo: AsyncMongoClient, stack: SessionStack) -> AsyncIterator[AsyncDatabase]:
    database = mongo[stack.database(f"directory{uuid.uuid4().hex[:6]}")]
    yield database
    await mongo.drop_database(database.name)


def row(company_id: str, name: str) -> CompanyRow:
    profile = Profile(company_id, name, normalise_name(name), "Stendal", "39576", "")
    return CompanyRow(profile, "Handwerk", 52.6, 11.86, frozenset(), None, False)


def company_id(bucket_digits: str) -> str:
    return f"cmp_{bucket_digits}{uuid.uuid4().hex[:18]}"


async def test_rows_written_at_once_are_seen_by_the_writer_and_another_replica(
    db: AsyncDatabase,
) -> None:
    first, second = Directory(), Directory()
    writer = RowWriter(first)
    rows = [row(company_id(f"{n % 4:02x}"), f"Tischlerei Nummer{n}") for n in range(40)]

    await asyncio.gather(*(writer.put_company(db, r) for r in rows))

    for written in rows:  # each in its chunk; the bucket documents of before stay unwritten
        stored = await db[DIRECTORY].find_one({"_id": chunk(written.company_id)})
        assert stored is not None
        assert stored["r"][written.company_id] == written.to_doc()
    for name in ("c00", "c01", "c02", "c03"):
        assert await db[DIRECTORY].find_one({"_id": name}) is None
    await first.refresh(db)
    await second.refresh(db)
    expected = {r.company_id for r in rows}
    assert set(first.companies) == expected
    assert set(second.companies) == expected
    assert first.with_prefixes(("nummer7",)) == {rows[7].company_id}


async def test_a_bucket_another_replica_changed_meanwhile_is_read_back(db: AsyncDatabase) -> None:
    first, second = Directory(), Directory()
    first_writer, second_writer = RowWriter(first), RowWriter(second)
    mine, theirs, later = (row(company_id("ab"), f"Bäckerei {w}") for w in ("Eins", "Zwei", "Drei"))

    await first_writer.put_company(db, mine)
    await second_writer.put_company(db, theirs)
    await first_writer.put_company(db, later)  # announced over the other replica's token
    await first.refresh(db)
    await second.refresh(db)

    ids = {mine.company_id, theirs.company_id, later.company_id}
    assert set(first.companies) == ids
    assert set(second.companies) == ids


async def test_a_row_being_written_survives_a_reload_of_its_bucket(db: AsyncDatabase) -> None:
    """A catch-up that reads the bucket before this replica's row is in it keeps the row."""
    first, second = Directory(), Directory()
    other = row(company_id("cd"), "Autohaus Fremd")
    await RowWriter(second).put_company(db, other)
    own = row(company_id("cd"), "Autohaus Eigen")
    writing = asyncio.ensure_future(RowWriter(first).put_company(db, own))
    await first.refresh(db)  # may run before the row is written: the row stays all the same

    assert own.company_id in first.companies
    await writing
    await first.refresh(db)
    assert set(first.companies) == {own.company_id, other.company_id}


async def test_rows_of_the_layout_before_the_chunks_are_read_and_a_rewritten_one_replaces_them(
    db: AsyncDatabase,
) -> None:
    """A database written before the chunks keeps each bucket's rows in the bucket document;
    they are still read, and a row rewritten since (into its chunk) wins over its old one."""
    kept, renamed = row(company_id("5a"), "Gärtnerei Alt"), row(company_id("5a"), "Zimmerei Alt")
    name = bucket("c", kept.company_id)
    await db[DIRECTORY].insert_one(
        {"_id": name, "r": {r.company_id: r.to_doc() for r in (kept, renamed)}}
    )
    await db[DIRECTORY].insert_one({"_id": version_of(name), "revs": {name: "before"}})
    old_copy = Directory()
    await old_copy.refresh(db)
    assert set(old_copy.companies) == {kept.company_id, renamed.company_id}

    new_name = row(renamed.company_id, "Zimmerei Neu")
    await RowWriter(Directory()).put_company(db, new_name)

    for copy in (old_copy, Directory()):
        await copy.refresh(db)
        assert copy.companies[kept.company_id].profile.name == "Gärtnerei Alt"
        assert copy.companies[renamed.company_id].profile.name == "Zimmerei Neu"
        assert copy.with_prefixes(("zimmerei", "alt")) == set()
        assert copy.with_prefixes(("zimmerei", "neu")) == {renamed.company_id}
    legacy = await db[DIRECTORY].find_one({"_id": name})
    assert legacy is not None
    assert legacy["r"][renamed.company_id] == renamed.to_doc()  # read, never written


async def test_another_replicas_registration_is_read_back_from_its_chunk_alone(
    db: AsyncDatabase,
) -> None:
    """A replica reads of a bucket new to it only the chunks with rows, and of one it is up
    to date with only the chunks another replica wrote since: new rows, renamed ones and
    unchanged ones are as written."""
    first, second = Directory(), Directory()
    first_writer = RowWriter(first)
    kept, renamed = row("cmp_7a1" + "0" * 17, "Tischlerei Kant"), row("cmp_7a2" + "0" * 17, "Alt")
    await first_writer.put_company(db, kept)
    await first_writer.put_company(db, renamed)
    await second.refresh(db)
    assert second.reads == {"whole": 0, "chunks": 2}  # a new bucket: its chain names them

    added = row("cmp_7a3" + "1" * 17, "Malerei Blau")
    await asyncio.gather(
        first_writer.put_company(db, added),
        first_writer.put_company(db, row(renamed.company_id, "Neu")),
    )
    await second.refresh(db)

    assert second.reads == {"whole": 0, "chunks": 4}  # c7a.2 and c7a.3, not 17 documents
    assert set(second.companies) == {kept.company_id, renamed.company_id, added.company_id}
    assert second.companies[renamed.company_id].profile.name == "Neu"
    assert second.with_prefixes(("alt",)) == set()
    assert second.with_prefixes(("malerei",)) == {added.company_id}


async def test_each_replica_keeps_up_with_the_other_through_a_hundred_registrations(
    db: AsyncDatabase,
) -> None:
    """Two replicas writing into the same few buckets by turns, each catching up between:
    both copies end as the chunks are, and most catch-ups read single chunks."""
    copies = [Directory(), Directory()]
    writers = [RowWriter(copy) for copy in copies]
    rng = random.Random(7)
    written: dict[str, CompanyRow] = {}
    for n in range(100):
        side = rng.randrange(2)
        company = row(company_id(rng.choice(("e0", "e1", "e2"))), f"Firma Nummer{n}")
        await writers[side].put_company(db, company)
        written[company.company_id] = company
        await copies[1 - side].refresh(db)

    fresh = Directory()
    for copy in (*copies, fresh):
        await copy.refresh(db)
        assert {i: r.to_doc() for i, r in copy.companies.items()} == {
            i: r.to_doc() for i, r in written.items()
        }
    assert fresh.reads["whole"] == 3 * len(chunks_of("ce0"))
    for copy in copies:
        assert copy.reads["chunks"] > copy.reads["whole"]


async def test_a_chain_written_over_another_replicas_token_is_replaced_by_a_fresh_one(
    db: AsyncDatabase,
) -> None:
    """A replica that announces over a chain it has not caught up with would leave a chain
    that skips the other replica's token: a reader that loaded the older chain would read
    only the chunks of the newer entries. A fresh token alone replaces it."""
    first, second, reader = Directory(), Directory(), Directory()
    ids = iter(f"cmp_3c{digit}{uuid.uuid4().hex[:17]}" for digit in "1234")
    base, theirs, mine = (row(next(ids), name) for name in ("Bau Eins", "Bau Zwei", "Bau Drei"))
    await RowWriter(first).put_company(db, base)
    for copy in (second, reader):
        await copy.refresh(db)

    await RowWriter(second).put_company(db, theirs)  # `first` has not seen this one
    await RowWriter(first).put_company(db, mine)

    version = await db[DIRECTORY].find_one({"_id": version_of("c3c")})
    assert version is not None
    assert ";" not in version["revs"]["c3c"]  # a chain of one: every reader reads it whole
    expected = {base.company_id, theirs.company_id, mine.company_id}
    for copy in (first, second, reader):
        await copy.refresh(db)
        assert set(copy.companies) == expected


async def test_a_staged_change_has_the_other_replicas_read_its_bucket_whole(
    db: AsyncDatabase,
) -> None:
    """A change staged with a message's commit announces a chain of one token: a replica
    cannot tell what changed since its own and reads the bucket whole."""
    first, second = Directory(), Directory()
    company = row(company_id("9c"), "Gärtnerei Grün")
    await RowWriter(first).put_company(db, company)
    await second.refresh(db)
    whole_before = second.reads["whole"]

    changed = row(company.company_id, "Gärtnerei Rot")
    for write in stage_company(changed, "rev_staged"):
        await db[write.collection].bulk_write([write.op])
    await second.refresh(db)

    assert second.reads["whole"] == whole_before + len(chunks_of("c9c"))
    assert second.companies[company.company_id].profile.name == "Gärtnerei Rot"


async def test_a_bucket_with_rows_of_the_layout_before_the_chunks_is_always_read_whole(
    db: AsyncDatabase,
) -> None:
    old = row(company_id("4b"), "Schlosserei Alt")
    name = bucket("c", old.company_id)
    await db[DIRECTORY].insert_one({"_id": name, "r": {old.company_id: old.to_doc()}})
    await db[DIRECTORY].insert_one({"_id": version_of(name), "revs": {name: "before"}})
    reader = Directory()
    await reader.refresh(db)

    await RowWriter(Directory()).put_company(db, row(old.company_id, "Schlosserei Neu"))
    await reader.refresh(db)

    assert reader.reads == {"whole": 2 * len(chunks_of(name)), "chunks": 0}
    assert reader.companies[old.company_id].profile.name == "Schlosserei Neu"


def test_the_chunks_written_since_a_loaded_chain_are_those_of_the_newer_entries() -> None:
    loaded = chained("t2/3", "t1/0")
    newer = chained("t4/a", chained("t3/5f", loaded))

    assert written_since(newer, loaded) == {"a", "5", "f"}
    assert written_since(loaded, loaded) == set()
    assert written_since("t9/1", loaded) is None  # a chain of one: what came between?
    assert written_since(chained("t5/1", chained("staged", loaded)), loaded) is None
    assert written_since(chained("t2/3", chained("t7/6", loaded)), loaded) == {"3", "6"}
    long = loaded
    for n in range(20):
        long = chained(f"u{n}/0", long)
    assert len(long.split(";")) == CHAIN_LENGTH
    assert written_since(long, loaded) is None  # fell off the chain's end


def test_neighbours_sharing_a_phone_or_domain_are_compared_in_full_the_others_by_name() -> None:
    """The directory sorts neighbours by their blocks: a shared phone number makes a
    candidate whatever its name; a name block only one whose name is close, and only in
    the same town (elsewhere a name alone cannot make a duplicate)."""
    directory = Directory()

    def put(
        company_id: str, name: str, postcode: str, phone: str = "", town: str = "Stendal"
    ) -> Profile:
        profile = Profile(
            company_id,
            name,
            normalise_name(name),
            town,
            postcode,
            "",
            phones=(phone,) if phone else (),
        )
        directory.put_company(CompanyRow(profile, None, 52.6, 11.86, frozenset(), None, False))
        return profile

    new = put("cmp_00new", "Tischlerei Krademann GmbH", "39576", "039311234")
    same_phone = put("cmp_01phone", "Holzwerkstatt Nord", "39606", "039311234")
    typo = put("cmp_02typo", "Tischlerei Kraddemann", "39576")
    same_trade = put("cmp_03trade", "Tischlerei Wendeberg", "39576")
    put("cmp_04other", "Bäckerei Sonnenschein", "39576")
    put("cmp_05far", "Tischlerei Krademann", "10115", town="Berlin")

    strong, named = directory.neighbours(new)

    assert [p.company_id for p in strong] == [same_phone.company_id]
    assert {p.company_id for p in named} == {typo.company_id, same_trade.company_id}
    found = duplicates.candidates(new, named, strong)
    assert [other.company_id for other, _ in found] == [typo.company_id, same_phone.company_id]
    assert "same_phone" in {r.code for r in found[1][1].reasons}
    assert "similar_name" not in {r.code for r in found[1][1].reasons}


def test_a_registrations_candidates_are_those_of_comparing_every_neighbour_in_full() -> None:
    """The directory's shortcuts (strong blocks apart, name blocks within the town) find
    exactly what comparing every company that shares a blocking key finds."""
    rng = random.Random(10)
    towns = [("Stendal", "39576"), ("Stendal", "39578"), ("Tangerhütte", "39517"),
             ("Osterburg", "39606"), ("Havelberg", "39539"), ("Gardelegen", "39638")]  # fmt: skip
    trades = ["Tischlerei", "Bäckerei", "Autohaus", "Elektro Service", "Malerbetrieb"]
    owners = ["Krademann", "Müller", "Hollenberg", "Wendeberg", "Schulze", "Lütkemann"]
    directory = Directory()
    everyone: list[tuple[Profile, set[str]]] = []
    reasons: set[str] = set()
    for n in range(800):
        name = f"{rng.choice(trades)} {rng.choice(owners)}{rng.choice(['', 's', 'e', 'er'])}"
        if rng.random() < 0.3:
            name = " ".join(reversed(name.split()))
        town, postcode = rng.choice(towns)
        profile = Profile(
            f"cmp_{n:020x}",
            name,
            normalise_name(name),
            town,
            postcode,
            duplicates.fold(f"Markt {rng.randint(1, 5)}"),
            phones=(f"03931{rng.randint(1, 300)}",) if rng.random() < 0.5 else (),
            domains=(f"f{rng.randint(1, 200)}.example",) if rng.random() < 0.3 else (),
        )
        directory.put_company(CompanyRow(profile, None, 52.6, 11.86, frozenset(), None, False))

        strong, named = directory.neighbours(profile)
        found = duplicates.candidates(profile, named, strong)

        assert found == full_comparison(profile, everyone)
        reasons |= {r.code for _, match in found for r in match.reasons}
        everyone.append((profile, set(profile.block_keys())))
    # every way to become a candidate occurred
    assert {"same_phone", "same_web_domain", "same_postcode", "same_town"} <= reasons


def full_comparison(
    profile: Profile, others: list[tuple[Profile, set[str]]]
) -> list[tuple[Profile, Any]]:
    """Every company sharing a blocking key compared in full, a name block's after the
    same name filter (word order aside) the check applies."""
    keys = set(profile.block_keys())
    evidence = set(profile.phones) | set(profile.domains) | set(profile.mail_domains)
    cutoff = duplicates.name_cutoff(duplicates.SUSPECT_FROM)
    found = []
    for other, other_keys in others:
        if not keys & other_keys:
            continue
        shared = evidence & (set(other.phones) | set(other.domains) | set(other.mail_domains))
        if not shared and fuzz.token_sort_ratio(profile.key, other.key) < cutoff:
            continue
        match = duplicates.compare(profile, other)
        if match.score >= duplicates.SUSPECT_FROM:
            found.append((other, match))
    found.sort(key=lambda pair: (-pair[1].score, pair[0].company_id))
    return found[: duplicates.MOST_CANDIDATES]
