"""Who may send what: the principals a broker user stands for, and the catalogue's table."""

from __future__ import annotations

import pytest

from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.senders import INTEGRATOR, OPERATOR, principal

SERVICES = frozenset({"companies", "matching", "notifications", "media"})


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("matching", "matching"),
        ("operator", OPERATOR),
        ("integrator-website", INTEGRATOR),
        ("integrator-", None),  # a name is part of an integrator's user
        ("diko", None),  # the administrator of earlier versions stands for nobody
        ("guest", None),
        ("", None),
        (None, None),
    ],
)
def test_a_broker_user_stands_for_one_principal_or_none(user: str | None, expected) -> None:
    assert principal(user, SERVICES) == expected


def test_an_event_is_sent_only_by_its_owner() -> None:
    for spec in CATALOGUE:
        if spec.kind == "event":
            assert spec.senders == (spec.owner,), spec.type


def test_commands_and_queries_name_their_senders() -> None:
    for spec in CATALOGUE:
        if spec.is_request:
            assert spec.senders, spec.type
            assert spec.may_send(OPERATOR), f"the operator's command line cannot send {spec.type}"
            assert not spec.may_send(None)


def test_staff_decide_matches_through_notifications_or_their_own_tool() -> None:
    decide = CATALOGUE.require("match.decide")
    assert decide.senders == ("notifications", OPERATOR)
    assert not decide.may_send(INTEGRATOR)
    assert not decide.may_send("media")
    assert CATALOGUE.require("company.register").may_send(INTEGRATOR)
