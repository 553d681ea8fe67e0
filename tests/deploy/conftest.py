"""What the deployment tests share: where the files are and which services exist.

A service is a folder `services/<name>/` with a `pyproject.toml` and a package
`diko_<name>/`; the compose file, the Dockerfile and the MongoDB init script must each
know exactly these.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: The HTTP port of each service (issue 2: companies 8001, matching 8002, ...).
PORTS = {"companies": 8001, "matching": 8002, "notifications": 8003, "media": 8004}


def service_names() -> list[str]:
    """The services that exist in the checkout (`services/<name>/` with its package)."""
    return sorted(
        folder.name
        for folder in (REPO / "services").iterdir()
        if (folder / "pyproject.toml").is_file() and (folder / f"diko_{folder.name}").is_dir()
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes `service` runs once per service of the checkout."""
    if "service" in metafunc.fixturenames:
        metafunc.parametrize("service", service_names())


@pytest.fixture(scope="session")
def ports() -> dict[str, int]:
    return dict(PORTS)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def services() -> list[str]:
    names = service_names()
    assert names, "no services/<name>/ with a pyproject.toml and a diko_<name> package"
    return names
