"""The pure parts of data-subject rights: finding a person in a document, scrubbing, the summary."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from diko_shared.messaging.publisher import Outgoing, pack
from diko_shared.rights.holdings import (
    SCRUBBED,
    Holding,
    mentions,
    redact,
    scrub,
    searchable,
)
from diko_shared.rights.owner import erasure_id
from diko_shared.rights.summary import export_html, export_json, listed

APL = "apl_0123456789abcdef0123"


def test_a_query_finds_ids_in_fields_and_inside_longer_values() -> None:
    holding = Holding("triggers", ("applicant",), fields=("applicant_id",), contains=("_id",))
    query = holding.query([APL, "prp_x.y"])
    assert query == {
        "$or": [
            {"applicant_id": {"$in": [APL, "prp_x.y"]}},
            {"_id": {"$regex": f"{APL}|prp_x\\.y"}},
        ]
    }
    assert Holding("fairs", ("applicant",), scan=True).query([APL]) == {}


def test_packed_outbox_messages_are_searched_unescaped() -> None:
    body = json.dumps({"data": {"name": "Lena Schröder", "applicant_id": APL}}).encode()
    message = Outgoing.from_document(
        {
            "exchange": "diko.events",
            "routing_key": "applicant.registered",
            "body": body.decode(),
            "message_id": "m1",
            "type": "applicant.registered",
            "source": "matching",
            "correlation_id": "c1",
        }
    )
    entry = {"_id": "k", "messages": pack([message])}
    assert "\\u00f6" in body.decode()  # the body escapes the umlaut ...
    assert mentions(entry, ["Lena Schröder"])  # ... the search does not miss it
    assert not mentions(entry, ["Jana Müller"])
    assert "Schröder" in searchable(entry)


def test_scrub_overwrites_personal_fields_only_where_the_person_is() -> None:
    fair = {
        "_id": "fair_1",
        "applicants": [
            {"applicant_id": APL, "name": "Lena Schröder", "home_town": "Osterburg", "slots": [1]},
            {"applicant_id": "apl_other", "name": "Tom Weber", "home_town": "Stendal"},
        ],
        "title": "Bewerberbörse",
    }
    scrubbed = scrub(fair, [APL])
    assert scrubbed["applicants"][0] == {
        "applicant_id": APL,
        "name": SCRUBBED,
        "home_town": SCRUBBED,
        "slots": [1],
    }
    assert scrubbed["applicants"][1] == fair["applicants"][1]
    assert scrubbed["title"] == "Bewerberbörse"


def test_redact_drops_the_person_and_overwrites_their_name_in_texts() -> None:
    cnt = "cnt_0123456789abcdef0123"
    needles = [cnt, "Jana Müller", "jana@tischlerei.example"]
    episode = {
        "_id": "epi_1",
        "description": "Jana Müller erzählt, wie ihr Betrieb ausbildet.",
        "persons": [
            {"name": "Birte Albrecht", "role": "host"},
            {"name": "Jana Müller", "role": "guest", "contact_id": cnt},
        ],
    }
    assert redact(episode, needles) == {
        "_id": "epi_1",
        "description": f"{SCRUBBED} erzählt, wie ihr Betrieb ausbildet.",
        "persons": [{"name": "Birte Albrecht", "role": "host"}],
    }
    company = {"_id": "cmp_1", "contacts": {cnt: {"consents": {}}, "cnt_other": {}}}
    assert redact(company, needles) == {"_id": "cmp_1", "contacts": {"cnt_other": {}}}
    shown = {"_id": "cmp_1", "about": "Wir backen.", "contact": {"email": needles[2]}}
    assert redact(shown, needles) == {"_id": "cmp_1", "about": "Wir backen."}
    post = {"_id": "pst_1", "rejected_by": "Jana Müller", "caption": "Mit Jana (Gast)"}
    assert redact(post, ["Jana Müller", "Jana"]) == {
        "_id": "pst_1",
        "rejected_by": SCRUBBED,
        "caption": "Mit Jana (Gast)",  # a needle this short is no name to replace in a text
    }


def test_one_erasure_per_person() -> None:
    assert erasure_id(APL) == erasure_id(APL)
    assert erasure_id(APL) != erasure_id("apl_0123456789abcdef0124")
    assert erasure_id(APL).startswith("ers_")
    assert len(erasure_id(APL)) == 24


def test_the_summary_says_what_is_missing_in_german() -> None:
    at = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    document = {
        "_id": "exp_0123456789abcdef0123",
        "person": {"kind": "applicant", "person_id": APL},
        "requested_at": at,
        "expires_at": at,
        "parts": {
            "matching": {
                "at": at,
                "collections": [
                    {
                        "collection": "applicants",
                        "purpose": "Bewerbung",
                        "records": [{"_id": APL, "first_name": "Lena", "driving_licence": True}],
                    }
                ],
                "elsewhere": [],
            }
        },
    }
    data = export_json(document)
    assert data["outstanding"] == ["companies", "media", "notifications"]
    assert not data["complete"]
    html = export_html(document)
    assert "Noch nicht vollständig" in html
    assert (
        "Es fehlen noch die Angaben von „Betriebe und Ausbildungsstellen“, "
        "„Podcast, Posts und Website“ und „Benachrichtigungen“." in " ".join(html.split())
    )
    assert '<th scope="row">Vorname</th><td>Lena</td>' in html
    assert '<th scope="row">Führerschein</th><td>ja</td>' in html
    assert "3.\u00a0Dezember 2026, 13:00\u00a0Uhr" in html


def test_names_are_listed_as_german_prose() -> None:
    assert listed([]) == ""
    assert listed(["Vermittlung"]) == "„Vermittlung“"
    assert listed(["A", "B, C und D", "E"]) == "„A“, „B, C und D“ und „E“"
