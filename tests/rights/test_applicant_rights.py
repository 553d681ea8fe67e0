"""An applicant's export and erasure across the four services, after the whole story.

The story registers the applicant, proposes them, sends the e-mails, staff accept through
the e-mail's link, the place is taken; then matching plans a fair with them. The export
must contain every record any service holds that mentions the applicant, found here by
reading every collection of every service's database; the erasure, requested while
notifications is down, must leave their name and e-mail address nowhere.
"""

from __future__ import annotations

import json
import secrets
from datetime import date
from typing import Any

import httpx
import pytest
from e2e.accept import accept_by_link
from pymongo import AsyncMongoClient

from diko_shared.contract.envelope import new_envelope
from diko_shared.contract.matching import GetApplicant, PlanFair, RegisterApplicant
from diko_shared.contract.rights import EraseApplicant, ExportApplicant
from diko_shared.rights.holdings import searchable
from diko_shared.story import Story, StoryResult
from harness.browser import Eyes
from harness.bus import Bus
from harness.cli import diko
from harness.mailpit import Mailpit
from harness.quiet import quiet
from harness.stack import SessionStack
from harness.waiting import eventually

from .conftest import PLATFORM, System, every_document

#: Collections of the rights machinery itself: the export, the proof and the tombstones.
RIGHTS = {
    "rights_exports",
    "rights_export_parts",
    "rights_erasures",
    "rights_confirmations",
    "rights_erased",
    "rights_secret",
}


@pytest.fixture(scope="module")
async def story(stack: SessionStack, system: System, bus: Bus, mailpit: Mailpit) -> dict[str, Any]:
    """The story played once, then a fair planned with its applicant and company, and
    everything they cause done: the fair's timetables and the placement mails are sent
    after the answers the story waits for, and a delivery recorded after the export was
    taken would be one it "leaves out" (seen in the whole suite on a loaded machine)."""
    async with Story(
        stack.amqp_url,
        timeout=120,
        say=lambda _: None,
        staff_email=f"birte.albrecht+{secrets.token_hex(3)}@diko.example",
        decide=accept_by_link(mailpit, bus),
    ) as played:
        result: StoryResult = await played.play()
    applicant = await bus.ok(GetApplicant(applicant_id=result.applicant_id))
    await bus.ok(
        PlanFair.model_validate_json(
            json.dumps(
                {
                    "title": "Bewerberbörse Stendal",
                    "date": "2027-03-13",
                    "venue": {"name": "Berufsbildende Schulen Stendal", "town": "Stendal"},
                    "n_slots": 4,
                    "min_interviews": 1,
                    "time_limit_s": 20.0,
                    "companies": [{"company_id": result.company_id, "tables": 1}],
                    "applicants": [
                        {"applicant_id": result.applicant_id, "wishes": [result.company_id]}
                    ],
                }
            )
        ),
        timeout=90,
    )
    await quiet(stack, timeout=120)
    return {"result": result, "applicant": applicant}


def needles(story: dict[str, Any]) -> list[str]:
    applicant = story["applicant"]
    return [
        story["result"].applicant_id,
        f"{applicant['first_name']} {applicant['last_name']}",
        applicant["email"],
    ]


async def mentioning(
    mongo: AsyncMongoClient, stack: SessionStack, words: list[str]
) -> dict[tuple[str, str], set[str]]:
    """Every (service, collection) whose documents mention a word, with the documents' ids."""
    found: dict[tuple[str, str], set[str]] = {}
    async for service, collection, document in every_document(mongo, stack):
        text = searchable(document)
        if any(word in text for word in words):
            found.setdefault((service, collection), set()).add(str(document["_id"]))
    return found


async def dead_letters(bus: Bus) -> list[tuple[str, str, str]]:
    """Every dead letter of the four services: (queue, reason, error)."""
    found = []
    for service in ("companies", "matching", "notifications", "media"):
        for seen in await bus.drain(f"{service}.dlq"):
            headers = seen.headers
            found.append(
                (
                    str(headers.get("x-diko-queue")),
                    str(headers.get("x-diko-reason")),
                    str(headers.get("x-diko-error"))[:300],
                )
            )
    return found


async def complete_export(receipt: dict[str, Any], bus: Bus) -> dict[str, Any]:
    last: dict[str, Any] = {}

    async def arrived() -> dict[str, Any] | None:
        async with httpx.AsyncClient() as client:
            response = await client.get(receipt["json_url"])
        response.raise_for_status()
        last.update(response.json())
        return last if last["complete"] else None

    try:
        return await eventually(arrived, timeout=60, interval=0.5, what="every service's part")
    except TimeoutError:
        raise AssertionError(
            f"parts still outstanding: {last.get('outstanding')}; {await dead_letters(bus)}"
        ) from None


async def test_the_export_holds_every_record_that_mentions_the_applicant(
    story: dict[str, Any], bus: Bus, mongo: AsyncMongoClient, stack: SessionStack, eyes: Eyes
) -> None:
    applicant_id = story["result"].applicant_id
    receipt = await bus.ok(ExportApplicant(applicant_id=applicant_id))
    assert receipt["person"] == {"kind": "applicant", "person_id": applicant_id}
    assert "matching" in receipt["contributed"]
    document = await complete_export(receipt, bus)
    assert document["outstanding"] == []

    exported = {
        (service, part["collection"]): {str(r["_id"]) for r in part["records"]}
        for service, contribution in document["services"].items()
        for part in contribution["collections"]
    }
    proposal_ids = {
        r["_id"]
        for r in next(
            p["records"]
            for p in document["services"]["matching"]["collections"]
            if p["collection"] == "proposals"
        )
    }
    held = await mentioning(mongo, stack, [*needles(story), *proposal_ids])
    missing = {
        where: ids - exported.get(where, set())
        for where, ids in held.items()
        if where[1] not in PLATFORM | RIGHTS and ids - exported.get(where, set())
    }
    assert missing == {}, f"records the export leaves out: {missing}"
    # the story left a record in each of these, and the export names where it came from
    for where in [
        ("matching", "applicants"),
        ("matching", "proposals"),
        ("matching", "fairs"),
        ("companies", "places"),
        ("notifications", "proposals"),
    ]:
        assert exported.get(where), f"nothing from {where}"
    [record] = next(
        p["records"]
        for p in document["services"]["matching"]["collections"]
        if p["collection"] == "applicants"
    )
    assert record["email"] == story["applicant"]["email"]

    # the German summary, as the person sees it
    look = await eyes.look(receipt["html_url"], "rights-export-summary")
    look.assert_sound()
    applicant = story["applicant"]
    look.assert_shows(
        "Auskunft über Ihre gespeicherten Daten",
        "Vollständig: Alle vier Dienste haben ihre Angaben geliefert.",
        "Vermittlung (matching)",
        "Betriebe und Ausbildungsstellen (companies)",
        "Sammlung „applicants“",
        applicant["first_name"],
        applicant["email"],
    )
    phone = await eyes.look(receipt["html_url"], "rights-export-summary-phone", width=390)
    phone.assert_sound()
    phone.assert_shows("Auskunft über Ihre gespeicherten Daten", applicant["email"])
    # the link is signed: another token, or none, shows nothing
    async with httpx.AsyncClient() as client:
        forged = receipt["json_url"].rsplit("=", 1)[0] + "=" + "0" * 64
        assert (await client.get(forged)).status_code == 404
        assert (await client.get(receipt["json_url"].split("?")[0])).status_code == 404


async def test_erasure_reaches_a_service_that_was_down_and_leaves_no_trace(
    story: dict[str, Any], bus: Bus, mongo: AsyncMongoClient, stack: SessionStack, system: System
) -> None:
    applicant_id = story["result"].applicant_id
    words = needles(story)[1:]  # the name and the e-mail address
    before = await mentioning(mongo, stack, words)
    assert ("notifications", "proposals") in before, "the story left the name there"

    system["notifications"].stop()
    try:
        proof = await bus.ok(EraseApplicant(applicant_id=applicant_id, reason="Antrag vom 3.12."))
        assert [c["service"] for c in proof["confirmations"]] == ["matching"]
        assert "notifications" in proof["outstanding"]
        assert not proof["complete"]

        async def others_confirmed() -> dict[str, Any] | None:
            again = await bus.ok(EraseApplicant(applicant_id=applicant_id))
            confirmed = {c["service"] for c in again["confirmations"]}
            return again if {"companies", "matching", "media"} <= confirmed else None

        proof = await eventually(others_confirmed, timeout=60, interval=0.5, what="confirmations")
        assert proof["outstanding"] == ["notifications"]
        assert proof["erasure_id"].startswith("ers_")
        companies = next(c for c in proof["confirmations"] if c["service"] == "companies")
        assert companies["removed"]["places"] == 1
        assert any("besetzt" in note for note in companies["kept"])
    finally:
        system["notifications"].start(timeout=120)

    async def complete() -> dict[str, Any] | None:
        again = await bus.ok(EraseApplicant(applicant_id=applicant_id))
        return again if again["complete"] else None

    proof = await eventually(complete, timeout=90, interval=0.5, what="notifications' confirmation")
    notifications = next(c for c in proof["confirmations"] if c["service"] == "notifications")
    assert notifications["removed"].get("proposals", 0) >= 1

    left = await mentioning(mongo, stack, words)
    assert left == {}, f"the name or e-mail address is still in {left}"
    for service in ("companies", "matching", "notifications", "media"):
        for seen in await bus.drain(f"{service}.dlq"):
            assert not any(w in searchable(seen.body) for w in words), seen.headers
    for service in ("companies", "matching", "notifications", "media"):
        log = system[service].log_path.read_text(errors="replace")
        assert not [w for w in words if w in log], f"{service}'s log names the applicant"
    missing = await bus.request(GetApplicant(applicant_id=applicant_id))
    assert missing["error"]["code"] == "not_found"
    gone = await bus.request(ExportApplicant(applicant_id=applicant_id))
    assert "gelöscht" in gone["error"]["message"]

    # the same person registers again: a new applicant, nothing of the old one
    applicant = story["applicant"]
    again = await bus.ok(
        RegisterApplicant(
            first_name=applicant["first_name"],
            last_name=applicant["last_name"],
            email=applicant["email"],
            home_town=applicant["home_town"],
            reach_km=applicant["reach_km"],
            driving_licence=applicant["driving_licence"],
            school_certificate=applicant["school_certificate"],
            desired_occupations=applicant["desired_occupations"],
            earliest_start=date.fromisoformat(applicant["earliest_start"]),
        )
    )
    assert again["applicant_id"] != applicant_id
    fresh = await bus.ok(GetApplicant(applicant_id=again["applicant_id"]))
    assert fresh["status"] == "active"


async def test_a_replayed_registration_does_not_bring_an_erased_applicant_back(
    story: dict[str, Any], bus: Bus, mongo: AsyncMongoClient, stack: SessionStack
) -> None:
    """An old registration sent again after its processed record was pruned is refused."""
    registration = RegisterApplicant(
        first_name="Mia",
        last_name="Wiederkehr",
        email="mia.wiederkehr@example.org",
        home_town="Stendal",
        reach_km=20,
        driving_licence=False,
        school_certificate="hauptschule",
        desired_occupations=["22342"],
        earliest_start=date(2027, 8, 1),
    )
    envelope = new_envelope("applicant.register", registration, source="website")
    body = json.dumps(envelope).encode()
    first = await bus.request_raw("applicant.register", body)
    applicant_id = first["data"]["applicant_id"]
    proof = await bus.ok(EraseApplicant(applicant_id=applicant_id))
    assert proof["confirmations"][0]["removed"]["applicants"] == 1

    # the inbox forgets the message after DIKO_INBOX_RETENTION_DAYS; here at once
    matching = mongo[stack.database("matching")]
    for collection in ("inbox", "processed"):
        await matching[collection].delete_many({"_id": {"$regex": envelope["id"]}})
    replayed = await bus.request_raw("applicant.register", body)
    assert replayed["ok"] is False
    assert replayed["error"]["code"] == "conflict"
    assert "gelöscht" in replayed["error"]["message"]
    gone = await bus.request(GetApplicant(applicant_id=applicant_id))
    assert gone["error"]["code"] == "not_found"
    assert not await mentioning(mongo, stack, ["Mia Wiederkehr", "mia.wiederkehr@example.org"])


async def test_dead_letters_that_name_a_person_are_purged_and_the_others_kept(
    system: System, bus: Bus, stack: SessionStack
) -> None:
    """After an erasure the operator purges the dead letters that mention the person."""
    await bus.drain("matching.dlq")
    for first_name in ("Paula", "Greta"):
        broken = new_envelope(
            "applicant.register",
            {"first_name": first_name, "last_name": "Falsch", "email": "kein-at-zeichen"},
            source="website",
        )
        await bus.publish_raw("applicant.register", json.dumps(broken).encode())

    async def both_dead() -> bool:
        return await bus.depth("matching.dlq") == 2

    await eventually(both_dead, timeout=60, interval=0.5, what="two dead letters")
    result = diko(stack, "dlq", "purge", "matching", "--mentioning", "Paula")
    assert result.returncode == 0, result.stderr
    assert "purged 1 dead letter(s)" in result.stdout
    [kept] = await bus.drain("matching.dlq")
    assert kept.data["first_name"] == "Greta"
