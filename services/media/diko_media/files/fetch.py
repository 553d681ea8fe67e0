"""Fetching a file from a URL that a message names, with a size limit and without letting
a message reach into the service's own network.

An integrator may name any URL. Unless `DIKO_FETCH_PRIVATE_HOSTS` allows it (tests, a
checkout), media refuses hosts that resolve to loopback, private, link-local or reserved
addresses, so that a message cannot make it read an internal service.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

#: How long one fetch may take in all (a large audio file on a slow host).
FETCH_TIMEOUT_S = 300.0
CHUNK = 1 << 16


class FetchRefused(Exception):
    """The file cannot be fetched; the message is German, for the sender."""


@dataclass(frozen=True)
class Fetched:
    path: Path
    size: int
    content_type: str


async def _check_host(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        raise FetchRefused(f"Der Rechner „{host}“ ist nicht bekannt.") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise FetchRefused(
                f"Die Adresse {url} zeigt in ein internes Netz ({address}); "
                "media lädt nur öffentlich erreichbare Dateien."
            )


async def fetch_to_file(
    url: str, *, max_bytes: int, directory: Path | None = None, allow_private: bool = False
) -> Fetched:
    """Download `url` into a temporary file (the caller deletes it); refuse larger files."""
    if not allow_private:
        await _check_host(url)
    handle = tempfile.NamedTemporaryFile(delete=False, dir=directory, prefix="diko-media-")  # noqa: SIM115
    path = Path(handle.name)
    size = 0
    try:
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(30.0), follow_redirects=False) as client,
            asyncio.timeout(FETCH_TIMEOUT_S),
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise FetchRefused(
                    f"{url} antwortete mit HTTP {response.status_code} statt mit der Datei."
                )
            declared = int(response.headers.get("content-length") or 0)
            if declared > max_bytes:
                raise FetchRefused(_too_large(declared, max_bytes))
            async for chunk in response.aiter_bytes(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise FetchRefused(_too_large(size, max_bytes))
                handle.write(chunk)
            content_type = response.headers.get("content-type", "").split(";")[0].strip()
    except FetchRefused:
        handle.close()
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    except (httpx.HTTPError, TimeoutError) as exc:
        handle.close()
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise FetchRefused(f"{url} ließ sich nicht laden ({type(exc).__name__}).") from None
    handle.close()
    return Fetched(path, size, content_type)


def _too_large(size: int, limit: int) -> str:
    return (
        f"Die Datei ist größer als erlaubt ({megabytes(size)} statt höchstens {megabytes(limit)})."
    )


def megabytes(size: int) -> str:
    """`12,5 MB`: a size as German readers write it."""
    return f"{size / 1_000_000:.1f} MB".replace(".", ",")
