"""The documents tell the truth: every setting is documented, every pointer leads somewhere.

Settings are documented in docs/operations.md (the README links it); the message
catalogue is in docs/contract.md, generated and checked by its own test.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

OPERATIONS = (Path(__file__).resolve().parents[1] / "docs" / "operations.md").read_text(
    encoding="utf-8"
)

SETTINGS = [
    ("diko_shared.settings", "ServiceSettings"),
    ("diko_companies.app", "CompaniesSettings"),
    ("diko_matching.app", "MatchingSettings"),
    ("diko_notifications.settings", "NotificationsSettings"),
    ("diko_media.app", "MediaSettings"),
]


@pytest.mark.parametrize(("module", "name"), SETTINGS)
def test_every_setting_is_documented(module: str, name: str) -> None:
    settings: type[BaseSettings] = getattr(importlib.import_module(module), name)
    missing = [
        f"DIKO_{f.upper()}" for f in settings.model_fields if f"DIKO_{f.upper()}" not in OPERATIONS
    ]
    assert not missing, f"docs/operations.md does not mention {missing}"


# -- every pointer resolves inside the repository ------------------------------------------

REPO = Path(__file__).resolve().parents[1]
#: Directories that are not the project's own text (environments, caches, build output).
SKIPPED_DIRS = {
    ".git",
    ".venv",
    ".local",
    "node_modules",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "build",
    "dist",
}
TEXT_SUFFIXES = {".md", ".py", ".toml", ".yml", ".yaml", ".js", ".j2", ".html", ".txt", ".cfg"}
TEXT_NAMES = {"Dockerfile", "Makefile", ".env.example"}
MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
PARENT_PATH = re.compile(r"(?<![\w./-])((?:\.\./)+[\w][\w./-]*)")
#: A document named in text: `docs/contract.md`, `README.md` (not `<name>/README.md`,
#: a pattern, nor a URL's path).
MARKDOWN_NAME = re.compile(r"(?<![\w./<>*:-])([\w./-]*[\w-]\.md)\b")


def project_files() -> list[Path]:
    files = []
    for path in REPO.rglob("*"):
        parts = path.relative_to(REPO).parts
        if any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in parts):
            continue
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES):
            files.append(path)
    return sorted(files)


FILES = project_files()
MARKDOWN = [path for path in FILES if path.suffix == ".md"]


def inside(path: Path) -> bool:
    return path.resolve().is_relative_to(REPO)


def where(path: Path, line_of: str, text: str) -> str:
    line = text[: text.find(line_of)].count("\n") + 1
    return f"{path.relative_to(REPO)}:{line}: {line_of}"


def test_every_relative_link_in_a_markdown_file_resolves_inside_the_repository() -> None:
    broken = []
    for path in MARKDOWN:
        text = path.read_text(encoding="utf-8")
        for target in [*MARKDOWN_LINK.findall(text), *REFERENCE_LINK.findall(text)]:
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # http:, https:, mailto:, or an anchor in the same file
            linked = (path.parent / target.split("#", 1)[0]).resolve()
            if not inside(linked) or not linked.exists():
                broken.append(where(path, target, text))
    assert not broken, "links to nothing, or out of the repository:\n" + "\n".join(broken)


def test_no_file_points_outside_the_repository() -> None:
    outside = []
    for path in FILES:
        text = path.read_text(encoding="utf-8", errors="replace")
        for target in PARENT_PATH.findall(text):
            if not inside(path.parent / target):
                outside.append(where(path, target, text))
    assert not outside, "paths that leave the repository:\n" + "\n".join(outside)


def test_every_markdown_document_named_exists() -> None:
    """A document mentioned by name (README.md, docs/contract.md) is one a reader can open.

    A name may be relative to the file, to the repository, or to a package
    (`diko_shared/geo/README.md`, `fonts/README.md`): some document must end with it.
    """
    documents = ["/" + path.relative_to(REPO).as_posix() for path in MARKDOWN]
    missing = []
    for path in FILES:
        text = path.read_text(encoding="utf-8", errors="replace")
        for name in set(MARKDOWN_NAME.findall(text)):
            if name.startswith("../"):
                continue  # resolved against the file by the test above
            relative = (path.parent / name).resolve()
            if relative.exists() and inside(relative):
                continue
            if any(document.endswith("/" + name.removeprefix("./")) for document in documents):
                continue
            missing.append(where(path, name, text))
    assert not missing, "documents named but not in the repository:\n" + "\n".join(missing)
