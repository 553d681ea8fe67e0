"""The companies service's rules, without any server."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from diko_companies import domain
from diko_shared.contract.common import Occupation
from diko_shared.contract.companies import (
    Address,
    Company,
    Contact,
    OpenPosition,
    Position,
    RegisterCompany,
    SearchPositions,
)
from diko_shared.contract.matching import MatchAccepted
from diko_shared.messaging.errors import Conflict, Invalid

COMPANY_ID = "cmp_" + "a" * 20
POSITION_ID = "pos_" + "b" * 20
CONTACT_ID = "cnt_" + "d" * 20
NAME = "Tischlerei Müller GmbH"


def registration(town: str = "Stendal", name: str = "Tischlerei Müller GmbH") -> RegisterCompany:
    return RegisterCompany(
        name=name,
        address=Address(street="Breite Straße 12", postcode="39576", town=town),
        contact=Contact(name="Jana Müller", email="jana@tischlerei-mueller.example"),
    )


def company() -> Company:
    return domain.register(registration(), COMPANY_ID, CONTACT_ID)


def opening(
    code: str = "22342", name: str = "Tischler/in", town: str = "Stendal", places: int = 2
) -> OpenPosition:
    return OpenPosition(
        company_id=COMPANY_ID,
        occupation=Occupation(code=code, name=name),
        places=places,
        start_date=date(2027, 8, 1),
        town=town,
    )


def match(proposal: str = "1", company_id: str = COMPANY_ID) -> MatchAccepted:
    return MatchAccepted(
        proposal_id="prp_" + proposal * 20,
        position_id=POSITION_ID,
        company_id=company_id,
        applicant_id="apl_" + "c" * 20,
    )


def invalid_fields(exc: pytest.ExceptionInfo[Invalid]) -> set[str]:
    return {d.field for d in exc.value.details}


# -- names and the duplicate guard -------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Tischlerei Müller GmbH",
        "TISCHLEREI  MUELLER gmbh",
        "Tischlerei Müller",
        "Tischlerei Müller GmbH & Co. KG",
        "Tischlerei-Müller e.K.",
        " tischlerei müller ",
    ],
)
def test_spellings_of_one_company_share_the_duplicate_key(name: str) -> None:
    assert domain.duplicate_key(name, "39576") == "tischlerei mueller|39576"


def test_another_postcode_or_name_is_another_company() -> None:
    key = domain.duplicate_key("Tischlerei Müller GmbH", "39576")
    assert domain.duplicate_key("Tischlerei Müller GmbH", "39590") != key
    assert domain.duplicate_key("Tischlerei Möller GmbH", "39576") != key


def test_a_name_that_is_only_a_legal_form_keeps_it() -> None:
    assert domain.normalise_company_name("AG") == "ag"


def test_a_claim_is_abandoned_only_after_the_grace_period() -> None:
    now = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    assert not domain.claim_abandoned(now - timedelta(minutes=1), now)
    assert domain.claim_abandoned(now - domain.CLAIM_GRACE - timedelta(seconds=1), now)


def test_duplicate_is_a_conflict_naming_the_existing_company() -> None:
    conflict = domain.duplicate("Tischlerei Müller GmbH", "39576", COMPANY_ID)
    assert isinstance(conflict, Conflict)
    assert COMPANY_ID in conflict.message
    assert conflict.details[0].field == "data.name"


# -- registering -------------------------------------------------------------------------------


def test_registration_canonicalises_the_town() -> None:
    registered = domain.register(registration(town="osterburg"), COMPANY_ID, CONTACT_ID)
    assert registered.address.town == "Osterburg (Altmark)"
    assert registered.company_id == COMPANY_ID
    assert [c.name for c in registered.contacts] == ["Jana Müller"]
    assert registered.positions == []


def test_an_umlaut_spelled_out_finds_the_town() -> None:
    assert domain.register(
        registration(town="Tangermuende"), COMPANY_ID, CONTACT_ID
    ).address.town == ("Tangermünde")


def test_an_unknown_town_names_the_field_and_suggests_close_names() -> None:
    with pytest.raises(Invalid) as exc:
        domain.register(registration(town="Stendl"), COMPANY_ID, CONTACT_ID)
    [detail] = exc.value.details
    assert detail.field == "data.address.town"
    assert "Stendal" in detail.problem


def test_a_town_outside_the_altmark_is_a_german_town() -> None:
    registered = domain.register(registration(town="wolfsburg"), COMPANY_ID, CONTACT_ID)
    assert registered.address.town == "Wolfsburg"


def test_a_town_that_is_nowhere_says_what_is_expected() -> None:
    with pytest.raises(Invalid) as exc:
        domain.register(registration(town="Atlantis"), COMPANY_ID, CONTACT_ID)
    assert "erwartet wird ein Ort in Deutschland" in exc.value.details[0].problem


# -- opening positions -------------------------------------------------------------------------


def test_an_opened_position_is_open_with_no_place_taken() -> None:
    position = domain.open_position(opening(town="kalbe"), POSITION_ID, NAME)
    assert position.status == "open"
    assert position.places_taken == 0
    assert position.town == "Kalbe (Milde)"
    assert position.company_name == "Tischlerei Müller GmbH"
    assert position.occupation == Occupation(code="22342", name="Tischler/in")


def test_the_catalogue_spelling_of_the_occupation_name_is_kept() -> None:
    position = domain.open_position(opening(name="tischler/IN"), POSITION_ID, NAME)
    assert position.occupation.name == "Tischler/in"


def test_a_name_of_our_own_for_a_known_code_is_kept() -> None:
    own = "Tischler/in, Schwerpunkt Möbelbau"
    assert domain.open_position(opening(name=own), POSITION_ID, NAME).occupation.name == own


def test_a_code_that_has_two_names_accepts_both() -> None:
    for name in ("Verkäufer/in", "Kaufmann/-frau im Einzelhandel"):
        position = domain.open_position(opening("62102", name), POSITION_ID, NAME)
        assert position.occupation.name == name


def test_an_unknown_occupation_code_suggests_related_codes() -> None:
    with pytest.raises(Invalid) as exc:
        domain.open_position(opening(code="22349"), POSITION_ID, NAME)
    [detail] = exc.value.details
    assert detail.field == "data.occupation.code"
    assert "22342" in detail.problem


def test_a_name_filed_under_another_code_is_a_contradiction() -> None:
    with pytest.raises(Invalid) as exc:
        domain.open_position(opening(code="22342", name="Verkäufer/in"), POSITION_ID, NAME)
    [detail] = exc.value.details
    assert detail.field == "data.occupation.name"
    assert "62102" in detail.problem


def test_every_bad_field_of_an_opening_is_listed_at_once() -> None:
    with pytest.raises(Invalid) as exc:
        domain.open_position(opening(code="99999", town="Atlantis"), POSITION_ID, NAME)
    assert invalid_fields(exc) == {"data.occupation.code", "data.town"}


# -- searching ---------------------------------------------------------------------------------


def test_search_criteria_canonicalise_the_town() -> None:
    found = domain.position_query(SearchPositions(town="arendsee", occupation_code="22"))
    assert found.town == "Arendsee (Altmark)"
    assert found.code_prefix == "22"
    assert found.status == "open"
    assert found.centre is None


def test_search_for_an_unknown_town_is_invalid() -> None:
    with pytest.raises(Invalid) as exc:
        domain.position_query(SearchPositions(town="Gardlegen"))
    assert invalid_fields(exc) == {"data.town"}
    assert "Gardelegen" in exc.value.details[0].problem


# -- taking places -----------------------------------------------------------------------------


def position(places: int = 2, status: str = "open") -> Position:
    opened = domain.open_position(opening(places=places), POSITION_ID, NAME)
    return opened.model_copy(update={"status": status})


def test_a_match_takes_the_first_free_place() -> None:
    take = domain.decide_take(position(), match(), "key-1", None, 1)
    assert (take.number, take.claim, take.announce) == (1, True, True)
    assert (take.places_taken, take.fills, take.status) == (1, False, "open")


def test_the_last_place_fills_the_position() -> None:
    take = domain.decide_take(position(places=2), match(), "key-1", None, 2)
    assert take.fills
    assert take.status == "filled"


def test_a_redelivery_finds_its_place_and_announces_it_again() -> None:
    held = domain.HeldPlace(2, match().proposal_id, "key-1")
    take = domain.decide_take(position(status="filled"), match(), "key-1", held, None)
    assert (take.number, take.claim, take.announce, take.fills) == (2, False, True, True)


def test_another_message_for_a_match_with_a_place_changes_nothing() -> None:
    held = domain.HeldPlace(1, match().proposal_id, "key-1")
    take = domain.decide_take(position(), match(), "key-2", held, None)
    assert (take.claim, take.announce) == (False, False)


def test_a_match_for_a_full_position_is_a_conflict() -> None:
    with pytest.raises(Conflict) as exc:
        domain.decide_take(position(status="filled"), match("2"), "key-3", None, None)
    assert "bereits besetzt" in exc.value.message
    assert exc.value.details[0].field == "data.position_id"


def test_a_match_for_a_closed_position_is_a_conflict() -> None:
    with pytest.raises(Conflict):
        domain.decide_take(position(status="closed"), match(), "key-1", None, 1)


def test_a_match_must_name_the_company_of_its_position() -> None:
    with pytest.raises(Invalid) as exc:
        domain.check_match(position(), match(company_id="cmp_" + "f" * 20))
    assert invalid_fields(exc) == {"data.company_id"}
