"""The matching service as a real process on the real stack, driven through the bus.

Every test works in its own occupation (a KldB code that shares fewer than three leading
digits with the others'), so that applicants and positions of one test are never
acceptable pairs in another, although they share the service's database.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from diko_shared.contract.companies import PositionFilled
from diko_shared.contract.matching import (
    ApplicantRegistered,
    DecideMatch,
    GetApplicant,
    GetShortlist,
)
from harness.bus import Bus
from harness.processes import ServiceProcess
from matching_bus import (
    applicant,
    event_message,
    handled,
    new_id,
    one_proposed,
    open_position,
    position,
    proposed_for,
    register,
    settled,
)

CRITERIA = ["occupation", "distance", "school", "start", "preference"]
KEYS = ["occupation.exact", "distance.within_reach", "school.met", "start.within_window"]


# -- applicants ----------------------------------------------------------------------------


async def test_an_applicant_is_registered_and_read_back(bus: Bus, matching: ServiceProcess) -> None:
    tap = await bus.tap(pattern="applicant.registered")
    [applicant_id] = await register(
        bus, matching, applicant("11102", "osterburg", driving_licence=True)
    )

    stored = await bus.ok(GetApplicant(applicant_id=applicant_id))
    assert stored["home_town"] == "Osterburg (Altmark)"
    assert (stored["first_name"], stored["last_name"]) == ("Lena", "Schröder")
    assert stored["desired_occupations"] == ["11102"]
    assert stored["status"] == "active"
    [event] = await tap.wait_for(lambda m: m.data["applicant_id"] == applicant_id)
    assert set(event.data) == set(ApplicantRegistered.model_fields)
    assert event.data["home_town"] == "Osterburg (Altmark)"
    assert "Schröder" not in event.body.decode()
    assert "lena.schroeder" not in event.body.decode()


async def test_an_unknown_home_town_is_refused_with_suggestions(
    bus: Bus, matching: ServiceProcess
) -> None:
    reply = await bus.request(applicant("11102", "Osterbrug"))
    assert reply["ok"] is False
    assert reply["error"]["code"] == "validation_error"
    [detail] = reply["error"]["details"]
    assert detail["field"] == "data.home_town"
    assert "Osterburg (Altmark)" in detail["problem"]


async def test_unknown_and_repeated_occupations_are_refused(
    bus: Bus, matching: ServiceProcess
) -> None:
    reply = await bus.request(
        applicant("11102", "Stendal", desired_occupations=["99999", "11102", "11102"])
    )
    assert reply["error"]["code"] == "validation_error"
    fields = {d["field"]: d["problem"] for d in reply["error"]["details"]}
    assert set(fields) == {"data.desired_occupations.0", "data.desired_occupations.2"}
    assert "99999" in fields["data.desired_occupations.0"]


async def test_unknown_ids_are_not_found(bus: Bus, matching: ServiceProcess) -> None:
    for query in (
        GetApplicant(applicant_id=new_id("apl")),
        GetShortlist(position_id=new_id("pos")),
        DecideMatch(proposal_id=new_id("prp"), decision="accept"),
    ):
        reply = await bus.request(query)
        assert reply["ok"] is False, query
        assert reply["error"]["code"] == "not_found", reply


# -- proposals -----------------------------------------------------------------------------


async def test_a_new_position_is_proposed_to_applicants_within_reach(
    bus: Bus, matching: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="match.*")
    near, licence, far = await register(
        bus,
        matching,
        applicant("29302", "Tangermünde"),  # 10 km from Stendal
        applicant("29302", "Gardelegen", reach_km=20, driving_licence=True),  # 33 km
        applicant("29302", "Salzwedel", reach_km=30),  # 55 km: beyond reach
    )
    opened = position("29302", "Koch/Köchin")
    await open_position(bus, matching, opened)

    event = await one_proposed(tap, opened.position_id)
    assert event["trigger"] == "position"
    proposals = event["proposals"]
    assert [p["applicant"]["applicant_id"] for p in proposals] == [near, licence]
    assert [p["rank"] for p in proposals] == [1, 2]
    assert proposals[0]["score"] > proposals[1]["score"]
    for proposal in proposals:
        assert proposal["position"]["position_id"] == opened.position_id
        assert proposal["applicant"]["name"] == "Lena Schröder"
        assert [r["criterion"] for r in proposal["reasons"]] == CRITERIA
        assert [r["key"] for r in proposal["reasons"]][:4] == KEYS
    distance = proposals[1]["reasons"][1]
    assert distance["text"] == (
        "Vom Wohnort Gardelegen bis zum Ausbildungsort Stendal sind es 33\u00a0km; "
        "erreichbar sind 35\u00a0km mit Führerschein."
    )
    assert proposals[0]["reasons"][0]["text"] == (
        "Die Stelle bildet im Wunschberuf Koch/Köchin (KldB 29302) aus."
    )
    assert far not in str(tap.seen)


async def test_a_new_applicant_is_proposed_the_open_positions_that_suit_them(
    bus: Bus, matching: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="match.proposed")
    stendal = position("81302", "Pflegefachmann/-frau")
    salzwedel = position("81302", "Pflegefachmann/-frau", town="Salzwedel")
    for opened in (stendal, salzwedel):
        await open_position(bus, matching, opened)

    [applicant_id] = await register(bus, matching, applicant("81302", "Arneburg", reach_km=20))

    event = await one_proposed(tap, applicant_id)
    assert event["trigger"] == "applicant"
    [proposal] = event["proposals"]
    assert proposal["position"]["position_id"] == stendal.position_id
    assert proposal["position"]["company_name"] == stendal.company_name
    assert [r["criterion"] for r in proposal["reasons"]] == CRITERIA
    texts = " ".join(r["text"] for r in proposal["reasons"])
    assert "Vom Wohnort Arneburg bis zum Ausbildungsort Stendal sind es 12\u00a0km" in texts


async def test_a_filled_position_is_no_longer_proposed(bus: Bus, matching: ServiceProcess) -> None:
    tap = await bus.tap(pattern="match.proposed")
    opened = position("82312", "Friseur/in")
    await open_position(bus, matching, opened)
    filled = PositionFilled(
        **opened.model_dump(include=set(PositionFilled.model_fields), mode="python")
    )
    before = handled(matching, "position.filled")
    await bus.publisher.publish(event_message("position.filled", filled))
    await settled(matching, "position.filled", before, 1)

    [applicant_id] = await register(bus, matching, applicant("82312", "Stendal"))

    await tap.fence()
    assert proposed_for(tap, applicant_id) == []


async def test_the_same_position_opened_twice_is_proposed_once(
    bus: Bus, matching: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="match.proposed")
    [applicant_id] = await register(bus, matching, applicant("62102", "Tangermünde"))
    opened = position("62102", "Kaufmann/-frau im Einzelhandel")
    message = event_message("position.opened", opened)
    repeat = event_message("position.opened", opened)  # the same fact, a new message id
    processed = handled(matching, "position.opened")
    duplicates = handled(matching, "position.opened", "duplicate")

    await bus.publisher.publish(message)
    await settled(matching, "position.opened", processed, 1)
    await bus.publisher.publish(message)
    await bus.publisher.publish(repeat)
    await settled(matching, "position.opened", duplicates, 1, "duplicate")
    await settled(matching, "position.opened", processed, 2)

    event = await one_proposed(tap, opened.position_id)
    assert [p["applicant"]["applicant_id"] for p in event["proposals"]] == [applicant_id]
    shortlist = await bus.ok(GetShortlist(position_id=opened.position_id))
    assert len(shortlist["candidates"]) == 1


async def test_applicants_and_positions_arriving_together_pair_up_exactly_once(
    bus: Bus, matching: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="match.proposed")
    towns = ["Stendal", "Tangermünde", "Arneburg", "Tangerhütte", "Bismark", "Osterburg"]
    registrations = [applicant("24412", town, reach_km=60) for town in towns]
    positions = [position("24412", "Metallbauer/in", town) for town in towns[:4]]
    registered = handled(matching, "applicant.registered")
    opened = handled(matching, "position.opened")

    replies, _ = await asyncio.gather(
        asyncio.gather(*(bus.ok(r) for r in registrations)),
        asyncio.gather(
            *(bus.publisher.publish(event_message("position.opened", p)) for p in positions)
        ),
    )
    await settled(matching, "applicant.registered", registered, len(registrations))
    await settled(matching, "position.opened", opened, len(positions))
    await tap.fence()

    subjects = {r["applicant_id"] for r in replies} | {p.position_id for p in positions}
    pairs = [
        (p["position"]["position_id"], p["applicant"]["applicant_id"])
        for event in tap.seen
        if event.data["subject_id"] in subjects
        for p in event.data["proposals"]
    ]
    assert len(pairs) == len(set(pairs))  # no pair twice
    everyone = {(p.position_id, r["applicant_id"]) for p in positions for r in replies}
    assert set(pairs) == everyone  # all within reach of each other: no pair missed


async def test_a_restarted_service_proposes_once(bus: Bus, matching: ServiceProcess) -> None:
    [applicant_id] = await register(bus, matching, applicant("32142", "Stendal"))
    tap = await bus.tap(pattern="match.proposed")
    opened = position("32142", "Dachdecker/in")

    await bus.publisher.publish(event_message("position.opened", opened))
    matching.kill()  # wherever the handler is: before, during or after its work
    matching.start()

    event = await one_proposed(tap, opened.position_id)
    assert [p["applicant"]["applicant_id"] for p in event["proposals"]] == [applicant_id]


async def test_the_shortlist_ranks_candidates_with_reasons_and_status(
    bus: Bus, matching: ServiceProcess
) -> None:
    near, middle, far = await register(
        bus,
        matching,
        applicant("43412", "Stendal"),
        applicant("43412", "Tangerhütte"),  # 19 km
        applicant("43412", "Havelberg", reach_km=30),  # 28 km
    )
    opened = position("43412", "Fachinformatiker/in Anwendungsentwicklung")
    tap = await bus.tap(pattern="match.proposed")
    await open_position(bus, matching, opened)
    await one_proposed(tap, opened.position_id)

    shortlist = await bus.ok(GetShortlist(position_id=opened.position_id))
    candidates = shortlist["candidates"]
    assert shortlist["position_id"] == opened.position_id
    assert [c["applicant"]["applicant_id"] for c in candidates] == [near, middle, far]
    assert [c["rank"] for c in candidates] == [1, 2, 3]
    assert {c["status"] for c in candidates} == {"proposed"}
    assert all([r["criterion"] for r in c["reasons"]] == CRITERIA for c in candidates)
    short = await bus.ok(GetShortlist(position_id=opened.position_id, limit=2))
    assert short["candidates"] == candidates[:2]


# -- decisions -----------------------------------------------------------------------------


async def proposal_for(bus: Bus, matching: ServiceProcess, code: str, name: str) -> dict[str, Any]:
    """One applicant, one position, and the proposal that pairs them."""
    tap = await bus.tap(pattern="match.proposed")
    await register(bus, matching, applicant(code, "Stendal"))
    opened = position(code, name)
    await open_position(bus, matching, opened)
    event = await one_proposed(tap, opened.position_id)
    return event["proposals"][0]


async def test_an_accepted_proposal_is_announced_once(bus: Bus, matching: ServiceProcess) -> None:
    proposal = await proposal_for(bus, matching, "63222", "Hotelfachmann/-frau")
    proposal_id = proposal["proposal_id"]
    tap = await bus.tap(pattern="match.*")
    staff = new_id("stf")
    accept = bus.publisher.command(
        DecideMatch(proposal_id=proposal_id, decision="accept", decided_by=staff)
    )

    first = await bus.publisher.request_raw(accept)
    again = await bus.publisher.request_raw(accept)  # the same message redelivered
    other = await bus.request(DecideMatch(proposal_id=proposal_id, decision="accept"))
    reversed_ = await bus.request(DecideMatch(proposal_id=proposal_id, decision="decline"))

    expected = {"ok": True, "data": {"proposal_id": proposal_id, "status": "accepted"}}
    assert first == again == other == expected
    assert reversed_["ok"] is False
    assert reversed_["error"]["code"] == "conflict"
    await tap.wait_type("match.accepted")
    await tap.fence()
    [accepted] = tap.of_type("match.accepted")
    assert accepted.data == {
        "proposal_id": proposal_id,
        "position_id": proposal["position"]["position_id"],
        "company_id": proposal["position"]["company_id"],
        "applicant_id": proposal["applicant"]["applicant_id"],
        "decided_by": staff,
    }
    assert tap.of_type("match.declined") == []
    shortlist = await bus.ok(GetShortlist(position_id=proposal["position"]["position_id"]))
    assert [c["status"] for c in shortlist["candidates"]] == ["accepted"]
    placed = await bus.ok(GetApplicant(applicant_id=proposal["applicant"]["applicant_id"]))
    assert placed["status"] == "placed"


async def test_an_acceptance_reads_back_nothing_it_wrote_or_knows(
    bus: Bus, matching: ServiceProcess
) -> None:
    # The proposal and the applicant come back from the writes that set their status (not
    # read again for the index after the announcement); of the position's two places only
    # the second is read to see whether it is full: the first is the one it took.
    proposal = await proposal_for(bus, matching, "11712", "Forstwirt/in")

    def finds(collection: str) -> float:
        return matching.metric(
            "diko_store_command_seconds_count", command="find", collection=collection
        )

    before = {c: finds(c) for c in ("proposals", "applicants", "seats")}
    decided = await bus.ok(DecideMatch(proposal_id=proposal["proposal_id"], decision="accept"))

    assert decided["status"] == "accepted"
    assert {c: finds(c) - before[c] for c in before} == {
        "proposals": 1,
        "applicants": 1,
        "seats": 1,
    }
    shortlist = await bus.ok(GetShortlist(position_id=proposal["position"]["position_id"]))
    assert [c["status"] for c in shortlist["candidates"]] == ["accepted"]


async def test_a_declined_proposal_stays_declined(bus: Bus, matching: ServiceProcess) -> None:
    proposal = await proposal_for(bus, matching, "51612", "Kaufmann/-frau für Spedition")
    proposal_id = proposal["proposal_id"]
    tap = await bus.tap(pattern="match.*")

    declined = await bus.ok(DecideMatch(proposal_id=proposal_id, decision="decline"))
    again = await bus.ok(DecideMatch(proposal_id=proposal_id, decision="decline"))
    accept = await bus.request(DecideMatch(proposal_id=proposal_id, decision="accept"))

    assert declined == again == {"proposal_id": proposal_id, "status": "declined"}
    assert accept["error"]["code"] == "conflict"
    await tap.wait_type("match.declined")
    await tap.fence()
    assert len(tap.of_type("match.declined")) == 1
    assert tap.of_type("match.accepted") == []
    shortlist = await bus.ok(GetShortlist(position_id=proposal["position"]["position_id"]))
    assert [c["status"] for c in shortlist["candidates"]] == ["declined"]
    applicant_id = proposal["applicant"]["applicant_id"]
    assert (await bus.ok(GetApplicant(applicant_id=applicant_id)))["status"] == "active"


async def test_a_filled_position_withdraws_its_open_proposals(
    bus: Bus, matching: ServiceProcess
) -> None:
    proposal = await proposal_for(bus, matching, "53112", "Fachkraft für Schutz und Sicherheit")
    tap = await bus.tap(pattern="match.*")
    copy = proposal["position"]
    fields = ("position_id", "company_id", "company_name", "occupation", "town", "start_date")
    filled = PositionFilled.model_validate_json(
        json.dumps({**{k: copy[k] for k in fields}, "places": 1})
    )
    before = handled(matching, "position.filled")
    await bus.publisher.publish(event_message("position.filled", filled))
    await settled(matching, "position.filled", before, 1)

    [withdrawn] = await tap.wait_type("match.withdrawn")
    refused = await bus.request(DecideMatch(proposal_id=proposal["proposal_id"], decision="accept"))
    declined = await bus.request(
        DecideMatch(proposal_id=proposal["proposal_id"], decision="decline")
    )

    assert withdrawn.data == {
        "proposal_id": proposal["proposal_id"],
        "position_id": copy["position_id"],
        "company_id": copy["company_id"],
        "applicant_id": proposal["applicant"]["applicant_id"],
        "reason": "position_filled",
        "text": "Die Stelle ist inzwischen besetzt.",
    }
    for reply in (refused, declined):
        assert reply["ok"] is False
        assert reply["error"]["code"] == "conflict"
    assert "inzwischen besetzt" in refused["error"]["message"]
    assert "zurückgezogen" in declined["error"]["message"]
    await tap.fence()
    assert tap.of_type("match.accepted") == []
    assert len(tap.of_type("match.withdrawn")) == 1
    applicant_id = proposal["applicant"]["applicant_id"]
    assert (await bus.ok(GetApplicant(applicant_id=applicant_id)))["status"] == "active"
    shortlist = await bus.ok(GetShortlist(position_id=copy["position_id"]))
    [candidate] = shortlist["candidates"]
    assert (candidate["status"], candidate["withdrawn_reason"]) == ("withdrawn", "position_filled")
