"""`make up`'s table: aligned, and listing every page a service serves (media's /podcast).

The pages come from each running service's index (`GET /`), so the table cannot forget
one; deploy/local/run.py's functions are used as `make up` uses them.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import pytest

from harness.processes import ServiceProcess
from harness.stack import SessionStack

LOCAL = Path(__file__).resolve().parents[2] / "deploy" / "local"


@pytest.fixture(scope="module")
def run() -> ModuleType:
    """deploy/local/run.py, loaded as `python3 deploy/local/run.py` loads it."""
    sys.path.insert(0, str(LOCAL))
    try:
        spec = importlib.util.spec_from_file_location("local_run", LOCAL / "run.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(LOCAL))


@pytest.fixture(scope="module")
def media(stack: SessionStack) -> Iterator[ServiceProcess]:
    process = ServiceProcess("media-index", "diko_media", None, stack.service_env("media"))
    process.start()
    yield process
    process.stop()


def test_a_service_lists_its_pages_for_people(run: ModuleType, media: ServiceProcess) -> None:
    assert run.service_pages(media.port) == [
        "/podcast",
        "/podcast/feed.xml",
        "/podcast/cover.png",
        "/site",
    ]
    index = media.get("/").json()
    assert index["service"] == "media"
    assert "/asyncapi" in index["platform"]


def value_column(line: str) -> int:
    """Where the second column starts: after the label, or after the indent of a follow-up."""
    labelled = re.match(r"  \S+\s+", line)
    return labelled.end() if labelled else len(line) - len(line.lstrip(" "))


def test_the_table_is_aligned_and_has_the_podcast_page(
    run: ModuleType, media: ServiceProcess, stack: SessionStack
) -> None:
    services = [
        run.Service("companies", 8301),
        run.Service("notifications", 8303),
        run.Service("media", media.port),
    ]
    pages = {s.name: ["/asyncapi", *run.service_pages(s.port)] for s in services}
    lines = run.summary_lines(services, stack.base, pages)
    table = "\n".join(lines)
    assert len({value_column(line) for line in lines}) == 1, table
    assert f"  media          http://127.0.0.1:{media.port}/asyncapi" in lines
    assert f"                 http://127.0.0.1:{media.port}/podcast" in lines
    assert f"                 http://127.0.0.1:{media.port}/podcast/feed.xml" in lines
    assert "  notifications  http://127.0.0.1:8303/asyncapi" in lines
    assert urlsplit(stack.base["DIKO_AMQP_URL"]).password not in table
