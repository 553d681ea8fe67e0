"""The gazetteer's packaged files: their names, how they are read, their checksums."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Mapping

LISTED_FILE = "altmark.csv"
PLACES_FILE = "places.csv"
POSTCODES_FILE = "postcodes.csv"
AREAS_FILE = "areas.csv"
SUMS_FILE = "SHA256SUMS"
DATA_FILES = (PLACES_FILE, POSTCODES_FILE, AREAS_FILE)
"""Written by the build; `altmark.csv` is its input and is edited by hand."""


def data_lines(text: str) -> list[str]:
    """The lines of a data file without its leading `#` comment lines (the sources)."""
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def read_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(data_lines(text)))


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def data_sums(files: Mapping[str, str], sources: Mapping[str, str]) -> str:
    """SHA256SUMS: the data files' checksums (`sha256sum -c` format), then the sources'."""
    lines = ["# SHA-256 of the gazetteer's files, written by build_gazetteer with them."]
    lines += [f"{sha256_text(files[name])}  {name}" for name in sorted(files)]
    lines.append("# The packages they were built from (fetched through PyPI and npm):")
    lines += [f"{digest}  {name}" for name, digest in sorted(sources.items())]
    return "\n".join(lines) + "\n"


def parse_sums(text: str) -> dict[str, str]:
    """File name -> SHA-256, from SHA256SUMS."""
    sums = {}
    for line in data_lines(text):
        digest, name = line.split(maxsplit=1)
        sums[name.strip()] = digest
    return sums
