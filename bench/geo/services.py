"""The gazetteer in the service processes: memory and first-answer time, before and after.

`python -m bench.geo.services [--before REV]` (needs `make stack`): starts the
companies and matching services as OS processes on the local stack, as the tests do,
reads each one's resident memory once it is ready, sends the first message that looks
up a town (`company.register`, `applicant.register`), times its answer and reads the
memory again, then sends a second one. With `--before REV` the same runs once more
with the platform package (`shared/`) of that revision, e.g. the 83-place gazetteer.
Writes `bench/results/geo_services.json` and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from diko_shared.contract.companies import Address, Contact, RegisterCompany  # noqa: E402
from diko_shared.contract.matching import RegisterApplicant  # noqa: E402
from harness.bus import Bus  # noqa: E402
from harness.processes import ServiceProcess, free_port  # noqa: E402
from harness.stack import SessionStack  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def _rss_mib(process: ServiceProcess) -> float:
    assert process.process is not None
    status = Path(f"/proc/{process.process.pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def _company(town: str) -> RegisterCompany:
    return RegisterCompany(
        name=f"Tischlerei {uuid.uuid4().hex[:8]}",
        address=Address(street="Breite Straße 12", postcode="39576", town=town),
        contact=Contact(name="Jana Müller", email="jana@tischlerei.example", role="Inhaberin"),
        industry="Handwerk",
    )


def _applicant(town: str) -> RegisterApplicant:
    example = RegisterApplicant.model_json_schema()["examples"][0]
    return RegisterApplicant.model_validate_json(json.dumps({**example, "home_town": town}))


async def _measure(
    stack: SessionStack, service: str, message: Any, second: Any, pythonpath: tuple[Path, ...]
) -> dict[str, float]:
    process = ServiceProcess(
        f"bench-{service}",
        f"diko_{service}",
        free_port(),
        stack.service_env(service),
        pythonpath=pythonpath,
    )
    process.start()
    try:
        ready = _rss_mib(process)
        async with Bus(stack.amqp_url) as bus:
            t = time.perf_counter()
            await bus.ok(message)
            first_ms = (time.perf_counter() - t) * 1e3
            after = _rss_mib(process)
            t = time.perf_counter()
            await bus.ok(second)
            second_ms = (time.perf_counter() - t) * 1e3
        return {
            "rss_ready_mib": ready,
            "rss_after_first_mib": after,
            "first_answer_ms": first_ms,
            "second_answer_ms": second_ms,
        }
    finally:
        process.stop()


async def _run(pythonpath: tuple[Path, ...]) -> dict[str, Any]:
    with SessionStack.create() as stack:
        return {
            "companies": await _measure(
                stack, "companies", _company("Tangermuende"), _company("Osterburg"), pythonpath
            ),
            "matching": await _measure(
                stack, "matching", _applicant("Tangermuende"), _applicant("Osterburg"), pythonpath
            ),
        }


def _old_shared(rev: str, into: Path) -> Path:
    archive = into / "old.tar"
    import subprocess

    with archive.open("wb") as fh:
        subprocess.run(["git", "archive", rev, "shared"], cwd=ROOT, stdout=fh, check=True)
    with tarfile.open(archive) as tf:
        tf.extractall(into, filter="data")
    return into / "shared"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--before", help="also run with shared/ of this git revision")
    args = parser.parse_args()
    result: dict[str, Any] = {"now": asyncio.run(_run(()))}
    if args.before:
        with tempfile.TemporaryDirectory() as tmp:
            old = _old_shared(args.before, Path(tmp))
            result["before"] = {"rev": args.before, **asyncio.run(_run((old,)))}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "geo_services.json").write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    print(
        "| service | run | RSS ready MiB | RSS after first town MiB | first answer ms | second ms |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for run, data in result.items():
        for service in ("companies", "matching"):
            m = data[service]
            print(
                f"| {service} | {run} | {m['rss_ready_mib']:.1f} | {m['rss_after_first_mib']:.1f} "
                f"| {m['first_answer_ms']:.0f} | {m['second_answer_ms']:.0f} |"
            )


if __name__ == "__main__":
    main()
