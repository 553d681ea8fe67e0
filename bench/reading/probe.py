"""One side of `bench.reading`, run in a process of its own against one `diko_shared`.

Prints JSON: per case, the best and the median time of reading one body, in µs. With the
`diko_shared` of before the change (no `messaging.reading`), a body is read as the
pipeline read it then: `Envelope[payload].model_validate_json`; after it, through the
pipeline's `Reader` with the service's real `Metrics`.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry

import diko_shared
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.envelope import Envelope, new_envelope
from diko_shared.service.metrics import Metrics

#: The messages read: a large event with nested lists, a flat event, a command.
TYPES = ("match.proposed", "position.opened", "company.register")


def example(type_: str) -> dict[str, Any]:
    spec = CATALOGUE.require(type_)
    return json.loads(json.dumps(spec.payload.model_config["json_schema_extra"]["examples"][0]))


def body(type_: str, data: dict[str, Any], *, versioned: bool = True) -> bytes:
    envelope = new_envelope(type_, data, source="bench")
    if not versioned:
        envelope.pop("dataschema", None)
    return json.dumps(envelope).encode()


def with_unknown_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Two fields a reader of this release does not know: one on top, one nested."""
    data = json.loads(json.dumps(data))
    data["urgency"] = "high"
    for value in data.values():
        if isinstance(value, dict):
            value["floor"] = 2
            break
        if isinstance(value, list) and value and isinstance(value[0], dict):
            value[0]["floor"] = 2
            break
    return data


def readers() -> dict[str, Callable[[str], Callable[[bytes], Any]]]:
    try:
        from diko_shared.messaging.reading import Reader
    except ImportError:

        def before(type_: str) -> Callable[[bytes], Any]:
            return Envelope[CATALOGUE.require(type_).payload].model_validate_json  # type: ignore[name-defined]

        return {"read": before}
    metrics = Metrics(CollectorRegistry())

    def after(type_: str) -> Callable[[bytes], Any]:
        reader = Reader(CATALOGUE.require(type_))
        return lambda raw: reader.read(raw, metrics)

    return {"read": after}


def timed(read: Callable[[bytes], Any], raw: bytes, loops: int, rounds: int) -> dict[str, float]:
    read(raw)  # warm up: the validator and its caches
    per_round = []
    for _ in range(rounds):
        started = time.perf_counter_ns()
        for _ in range(loops):
            read(raw)
        per_round.append((time.perf_counter_ns() - started) / loops / 1000)
    median = statistics.median(per_round)
    return {"best_us": round(min(per_round), 3), "median_us": round(median, 3)}


def main() -> None:
    loops, rounds = int(sys.argv[1]), int(sys.argv[2])
    read = readers()["read"]
    after = "dataschema" in Envelope.model_fields
    cases: dict[str, dict[str, float]] = {}
    for type_ in TYPES:
        data = example(type_)
        own = body(type_, data)  # what producers of this side send
        cases[f"{type_}: json.loads"] = timed(json.loads, own, loops, rounds)
        cases[f"{type_}: read"] = timed(read(type_), own, loops, rounds)
        if after:
            old = body(type_, data, versioned=False)
            cases[f"{type_}: read, no dataschema"] = timed(read(type_), old, loops, rounds)
            if CATALOGUE.require(type_).kind == "event":
                extra = body(type_, with_unknown_fields(data))
                cases[f"{type_}: read, 2 unknown fields"] = timed(read(type_), extra, loops, rounds)
    print(json.dumps({"diko_shared": diko_shared.__file__, "after": after, "cases": cases}))


if __name__ == "__main__":
    main()
