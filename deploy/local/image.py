#!/usr/bin/env python3
"""Build diko's images here, without Docker: podman (runc) on a base made with debootstrap.

    python3 deploy/local/image.py build [SERVICE ...]   # `make image`
    python3 deploy/local/image.py base                  # only the base image
    python3 deploy/local/image.py sizes

No registry is reachable from this machine, so the Python base image of deploy/Dockerfile
(`PYTHON_IMAGE`, the official `python:3.11-slim-bookworm` in production) is made from
Debian's own packages: debootstrap bookworm with Python 3.11, imported into podman as
`localhost/diko-python:3.11-bookworm`. Then deploy/Dockerfile is built unchanged for each
service (`localhost/diko-<service>:dev`) with `--format docker`, which keeps the
HEALTHCHECK (podman's default OCI format drops it).

What this machine needs, learnt by trying (deploy/README.md, "The image"):
- podman refuses to start a container while `/etc/containers/containers.conf` sets no
  `default_ulimits` within the machine's hard limits: nofile at the hard limit, nproc
  32768. This script writes them when the file has none.
- pip inside the build trusts only what the host's CA bundle trusts: the bundle is
  mounted read-only into every RUN step.
- Builds use the host's network (`--network host`).

Standard library only, like stack.py, whose Debian package installer it uses.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from stack import LOG, REPO, StackError, ensure_debian_packages

SERVICES = ("companies", "matching", "notifications", "media")
BASE_IMAGE = "localhost/diko-python:3.11-bookworm"
BASE_PACKAGES = ("python3.11-venv", "python3-distutils", "python-is-python3", "ca-certificates")
DEBIAN_MIRROR = "http://deb.debian.org/debian"
IMAGE_PACKAGES = (
    ("podman", Path("/usr/bin/podman")),
    ("runc", Path("/usr/sbin/runc")),
    ("debootstrap", Path("/usr/sbin/debootstrap")),
)
CONTAINERS_CONF = Path("/etc/containers/containers.conf")
#: apt's downloads and package lists in the debootstrapped tree: 130 MB of 300.
CACHES = ("var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*_*")
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
NPROC = 32768
BUILD_TIMEOUT = 30 * 60.0


def say(message: str) -> None:
    print(f"image: {message}", flush=True)


def image(service: str) -> str:
    return f"localhost/diko-{service}:dev"


def podman(*args: str, timeout: float = 600.0, log: Path | None = None) -> str:
    """Run podman; its output goes to `log` if given, else is returned."""
    argv = ["podman", *args]
    if log is None:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise StackError(f"`{' '.join(argv)}` failed:\n{done.stderr.strip()}")
        return done.stdout
    with log.open("ab") as out:
        out.write(f"\n==== {' '.join(argv)}\n".encode())
        out.flush()
        done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise StackError(f"`{' '.join(argv[:3])} …` failed; last lines of {log}:\n{tail}")
    return ""


def ensure_ulimits() -> None:
    """podman starts no container until containers.conf sets limits the machine allows."""
    text = CONTAINERS_CONF.read_text() if CONTAINERS_CONF.exists() else ""
    if "default_ulimits" in text:
        return
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc_hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    nproc = NPROC if nproc_hard == resource.RLIM_INFINITY else min(NPROC, nproc_hard)
    if "[containers]" in text:
        raise StackError(
            f"{CONTAINERS_CONF} has a [containers] table without default_ulimits",
            f'add default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"] to it',
        )
    say(f"writing default_ulimits (nofile {nofile}, nproc {nproc}) to {CONTAINERS_CONF}")
    CONTAINERS_CONF.parent.mkdir(parents=True, exist_ok=True)
    CONTAINERS_CONF.write_text(
        text
        + "\n# Written by diko's deploy/local/image.py: podman's defaults exceed this machine's\n"
        "# hard limits, and it would start no container.\n"
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
    )


def exists(name: str) -> bool:
    return subprocess.run(["podman", "image", "exists", name], check=False).returncode == 0


def build_base(log: Path) -> None:
    """debootstrap bookworm with Python 3.11, apt's caches removed, imported into podman."""
    if exists(BASE_IMAGE):
        say(f"base image {BASE_IMAGE} exists")
        return
    began = time.monotonic()
    say(f"making {BASE_IMAGE} with debootstrap (~2 min; log: {log.relative_to(REPO)})")
    with tempfile.TemporaryDirectory(prefix="diko-base-") as root:
        argv = [
            "debootstrap",
            f"--include={','.join(BASE_PACKAGES)}",
            "bookworm",
            root,
            DEBIAN_MIRROR,
        ]
        with log.open("ab") as out:
            out.write(f"\n==== {' '.join(argv)}\n".encode())
            out.flush()
            done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT)
        if done.returncode != 0:
            raise StackError(f"debootstrap failed (exit {done.returncode}); see {log}")
        for leftover in CACHES:  # what apt downloaded; an image needs none of it
            for path in Path(root).glob(leftover):
                if path.is_file() or path.is_symlink():
                    path.unlink()
        archive = Path(root).with_suffix(".tar")
        subprocess.run(["tar", "-C", root, "-cf", str(archive), "."], check=True, timeout=600)
        try:
            podman(
                "import",
                "--change",
                'CMD ["python3"]',
                str(archive),
                BASE_IMAGE,
                log=log,
            )
        finally:
            archive.unlink(missing_ok=True)
    say(f"base image {BASE_IMAGE} made in {time.monotonic() - began:.0f} s, {size(BASE_IMAGE)}")


def build_service(service: str, log: Path) -> float:
    """deploy/Dockerfile for one service on the local base; returns the seconds it took."""
    began = time.monotonic()
    say(f"building {image(service)}")
    podman(
        "build",
        "--format",
        "docker",
        "--network",
        "host",
        "--file",
        "deploy/Dockerfile",
        "--build-arg",
        f"SERVICE={service}",
        "--build-arg",
        f"PYTHON_IMAGE={BASE_IMAGE}",
        "--volume",
        f"{CA_BUNDLE}:{CA_BUNDLE}:ro",
        "--tag",
        image(service),
        str(REPO),
        timeout=BUILD_TIMEOUT,
        log=log,
    )
    seconds = time.monotonic() - began
    say(f"built {image(service)} in {seconds:.0f} s, {size(image(service))}")
    return seconds


def size(name: str) -> str:
    raw = podman("image", "inspect", "--format", "{{.Size}}", name).strip()
    return f"{int(raw) / 1e6:.0f} MB"


def cmd_build(services: Sequence[str], base_only: bool = False) -> int:
    began = time.monotonic()
    ensure_debian_packages(IMAGE_PACKAGES)
    ensure_ulimits()
    LOG.mkdir(parents=True, exist_ok=True)
    log = LOG / "image-build.log"
    build_base(log)
    if not base_only:
        for service in services:
            build_service(service, log)
    say(f"done in {time.monotonic() - began:.0f} s")
    return 0


def cmd_sizes() -> int:
    for name in [BASE_IMAGE, *(image(s) for s in SERVICES)]:
        print(f"  {name:<45} {size(name) if exists(name) else 'not built'}")
    return 0


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="image.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="the base image (once) and the services' images")
    build.add_argument("services", nargs="*", metavar="SERVICE", help=", ".join(SERVICES))
    sub.add_parser("base", help="only the base image")
    sub.add_parser("sizes", help="the images and their sizes")
    args = parser.parse_args(argv)
    services = getattr(args, "services", None) or list(SERVICES)
    if unknown := sorted(set(services) - set(SERVICES)):
        parser.error(f"no such service: {', '.join(unknown)} (one of {', '.join(SERVICES)})")
    try:
        if args.command == "sizes":
            return cmd_sizes()
        return cmd_build(services, base_only=args.command == "base")
    except StackError as exc:
        print(f"image: error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"image: hint: {exc.hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
