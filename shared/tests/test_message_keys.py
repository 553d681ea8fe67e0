"""Idempotency keys are unambiguous for every pair of strings the envelope allows."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diko_shared.messaging.handling import PLAIN_KEY_PARTS, key_of

QUEUE = "companies.company.register"
#: Few letters and many separators, so that random pairs run into each other often.
PART = st.text(alphabet="ab|#é🥨", min_size=1, max_size=12) | st.text(min_size=1, max_size=200)


@settings(max_examples=600, deadline=None)
@given(first=st.tuples(PART, PART), second=st.tuples(PART, PART))
def test_two_different_pairs_never_share_a_key(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    if first != second:
        assert key_of(QUEUE, *first) != key_of(QUEUE, *second)
    else:
        assert key_of(QUEUE, *first) == key_of(QUEUE, *second)


@settings(max_examples=200, deadline=None)
@given(pair=st.tuples(PART, PART))
def test_keys_stay_short(pair: tuple[str, str]) -> None:
    assert len(key_of(QUEUE, *pair)) <= len(QUEUE) + 2 + PLAIN_KEY_PARTS


@pytest.mark.parametrize(
    ("source", "id_", "key"),
    [
        ("website", "3f6c1d3e", f"{QUEUE}|website|3f6c1d3e"),
        ("matching", "a" * 120, f"{QUEUE}|matching|{'a' * 120}"),
    ],
)
def test_an_ordinary_message_keeps_the_readable_key_of_earlier_versions(
    source: str, id_: str, key: str
) -> None:
    assert key_of(QUEUE, source, id_) == key


@pytest.mark.parametrize(
    ("source", "id_"),
    [("a|b", "c"), ("a", "b|c"), ("#a", "b"), ("s" * 100, "i" * 29), ("a", "|")],
)
def test_a_pair_that_could_read_back_two_ways_gets_a_digest(source: str, id_: str) -> None:
    key = key_of(QUEUE, source, id_)
    assert key.count("|") == 1
    assert key.startswith(f"{QUEUE}|#")
    assert len(key) == len(QUEUE) + 2 + 64


def test_a_queue_name_with_the_separator_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="queue"):
        key_of("a|b", "website", "1")
