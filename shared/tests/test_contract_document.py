"""docs/contract.md is current, names every message, and points only to files that exist."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from diko_shared.contract import document
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.names import FIXED

REPO = Path(__file__).resolve().parents[2]
DOCUMENT = REPO / "docs" / "contract.md"
TEXT = DOCUMENT.read_text(encoding="utf-8")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_committed_document_is_current() -> None:
    assert document.render(TEXT) == TEXT, "docs/contract.md is stale: run `make generated`"


def test_every_served_message_and_every_fixed_name_is_in_the_catalogue_table() -> None:
    served = [spec for spec in CATALOGUE if spec.owner in FIXED]
    for spec in served:
        assert f"| `{spec.type}` | {spec.kind} | yes |" in TEXT, spec.type
        assert f"#### {spec.payload.__name__}\n" in TEXT, spec.payload.__name__
    for owner, kinds in FIXED.items():
        for kind, names in kinds.items():
            for name in names:
                assert f"| `{name}` | {kind} |" in TEXT, (owner, name)


def test_a_message_added_to_the_catalogue_lands_in_the_document() -> None:
    """The tables come from the catalogue: an empty block is filled with every message."""
    empty = re.sub(r"(begin[^>]*-->\n).*?(<!-- generated)", r"\1\2", TEXT, flags=re.DOTALL)
    assert "company.register" not in empty.split("## Payloads")[1]
    assert document.render(empty) == TEXT


def tracked_texts() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "*.md", "*.py", "*.toml", "*.yml", "*.txt", "*.html", "*.json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [REPO / name for name in listed if (REPO / name).is_file()]


def test_no_file_refers_to_a_contract_document_outside_the_repository() -> None:
    outside = "CONTRACTS" + ".md"  # spelled apart, so this file does not name it
    naming = [p.relative_to(REPO) for p in tracked_texts() if outside in p.read_text("utf-8")]
    assert not naming, f"{naming} refer to {outside}; the contract is docs/contract.md"


def test_every_relative_link_of_the_contract_document_exists() -> None:
    for target in LINK.findall(TEXT):
        if target.startswith(("http://", "https://")):
            continue
        resolved = (DOCUMENT.parent / target).resolve()
        assert resolved.exists(), target
        assert REPO in resolved.parents or resolved == REPO, f"{target} points outside the repo"
