"""deploy/Dockerfile and .dockerignore, checked without an engine.

The Dockerfile is parsed with BuildKit's own parser (the `dockerfile` package wraps
it) and followed for each SERVICE the way the builder would: global ARGs, the final
`FROM ${SERVICE}`, the chain of stages down to the base image, the ARGs each stage
declares. The image each service gets must start its own module as a non-root user on
its own port, with a healthcheck, and be built from its own package only. The build
context is what .dockerignore leaves of the checkout, computed with Docker's matching
rules (moby/patternmatcher): everything the Dockerfile copies, nothing secret or bulky.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dockerfile
import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
BASE_IMAGE = "python:3.11-slim-bookworm"


# -- following the Dockerfile -----------------------------------------------------------

_VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_]\w*)(?::-(?P<default>[^}]*))?\}|(?P<bare>[A-Za-z_]\w*))"
)


def expand(text: str, variables: Mapping[str, str]) -> str:
    """Dockerfile variable substitution: $NAME, ${NAME}, ${NAME:-default}."""

    def substitute(match: re.Match[str]) -> str:
        name = match["braced"] or match["bare"]
        value = variables.get(name, "")
        if match["default"] is not None and not value:
            return match["default"]
        return value

    return _VARIABLE.sub(substitute, text)


@dataclass
class Stage:
    base: str  # as written
    name: str | None
    instructions: list[dockerfile.Command] = field(default_factory=list)


def parse() -> tuple[dict[str, str | None], list[Stage]]:
    """Global ARGs (name -> default) and the stages, in order."""
    global_args: dict[str, str | None] = {}
    stages: list[Stage] = []
    for command in dockerfile.parse_file(str(DOCKERFILE)):
        if command.cmd == "FROM":
            value = command.value
            name = value[2] if len(value) == 3 and value[1].upper() == "AS" else None
            stages.append(Stage(value[0], name))
        elif not stages:
            assert command.cmd == "ARG", f"only ARG may precede the first FROM: {command}"
            name, sep, default = command.value[0].partition("=")
            global_args[name] = default if sep else None
        else:
            stages[-1].instructions.append(command)
    return global_args, stages


@dataclass
class Image:
    """What the builder produces for one SERVICE: the stages it runs and the config."""

    base: str
    chain: list[Stage]  # final stage first
    env: dict[str, str]
    expose: list[str]
    cmd: list[str] | None
    entrypoint: list[str] | None
    user: str | None
    healthcheck: dockerfile.Command | None


def build(service: str) -> Image:
    global_args, stages = parse()
    build_args = {"SERVICE": service}
    unknown = set(build_args) - set(global_args)
    assert not unknown, f"build args {unknown} are not declared before the first FROM"
    scope = {k: build_args.get(k, v or "") for k, v in global_args.items()}
    named = {stage.name: stage for stage in stages if stage.name}

    chain = []
    stage = stages[-1]
    while True:
        chain.append(stage)
        base = expand(stage.base, scope)
        if base not in named:
            break
        stage = named[base]

    env: dict[str, str] = {}
    expose: list[str] = []
    cmd = entrypoint = user = healthcheck = None
    for stage in reversed(chain):
        variables = dict(env)
        for command in stage.instructions:
            if command.cmd == "ARG":
                name, sep, default = command.value[0].partition("=")
                variables[name] = build_args.get(name, scope.get(name) or (default if sep else ""))
            elif command.cmd == "ENV":
                pairs = dict(zip(command.value[::2], command.value[1::2], strict=True))
                for key, value in pairs.items():
                    env[key] = variables[key] = expand(value, variables)
            elif command.cmd == "EXPOSE":
                expose += [expand(v, variables) for v in command.value]
            elif command.cmd == "CMD":
                assert command.json, f"CMD must use the exec form: {command.original}"
                cmd = list(command.value)
            elif command.cmd == "ENTRYPOINT":
                entrypoint = list(command.value)
            elif command.cmd == "USER":
                user = expand(command.value[0], variables)
            elif command.cmd == "HEALTHCHECK":
                healthcheck = command
    base = expand(chain[-1].base, scope)
    return Image(base, chain, env, expose, cmd, entrypoint, user, healthcheck)


def stage_variables(stage: Stage, service: str, global_args: Mapping[str, str | None]) -> dict:
    """The ARG values visible inside a stage (only those it declares)."""
    variables: dict[str, str] = {}
    for command in stage.instructions:
        if command.cmd == "ARG":
            name, _, default = command.value[0].partition("=")
            given = {"SERVICE": service}.get(name)
            variables[name] = given if given is not None else (global_args.get(name) or default)
    return variables


def copied_stage(image: Image) -> tuple[Stage, list[dockerfile.Command]]:
    """The stage the image copies its environment from (`COPY --from=<stage>`)."""
    _, stages = parse()
    named = {stage.name: stage for stage in stages if stage.name}
    sources = [
        (flag.split("=", 1)[1], command)
        for stage in image.chain
        for command in stage.instructions
        if command.cmd == "COPY"
        for flag in command.flags
        if flag.startswith("--from=")
    ]
    assert len(sources) == 1, f"expected one COPY --from, found {len(sources)}"
    name, command = sources[0]
    return named[name], [command]


# -- the image of each service ------------------------------------------------------------


def test_every_service_gets_its_own_final_stage(service) -> None:
    chain = build(service).chain
    selects = f"SERVICE={service} must select the stage named {service!r}: `FROM ${{SERVICE}}`"
    assert len(chain) > 1, selects
    assert chain[1].name == service, selects


def test_every_stage_is_built_on_the_pinned_slim_python(service) -> None:
    assert build(service).base == BASE_IMAGE
    global_args, stages = parse()
    scope = {**{k: v or "" for k, v in global_args.items()}, "SERVICE": service}
    named = {stage.name for stage in stages if stage.name}
    for stage in stages:
        base = expand(stage.base, scope)
        assert base in named or base == BASE_IMAGE, f"stage {stage.name} is built on {base!r}"


def test_image_starts_the_service_module(service) -> None:
    image = build(service)
    assert image.entrypoint is None
    assert image.cmd == ["python", "-m", f"diko_{service}"]
    assert (REPO / "services" / service / f"diko_{service}" / "__main__.py").is_file(), (
        f"python -m diko_{service} needs diko_{service}/__main__.py"
    )


def test_image_listens_on_the_service_port(service, ports) -> None:
    image = build(service)
    port = str(ports[service])
    assert [p.removesuffix("/tcp") for p in image.expose] == [port]
    assert image.env.get("DIKO_HTTP_PORT") == port
    assert image.env.get("DIKO_HTTP_HOST") == "0.0.0.0"


def test_image_runs_python_quietly_as_a_non_root_user(service) -> None:
    image = build(service)
    assert image.env.get("PYTHONDONTWRITEBYTECODE") == "1"
    assert image.env.get("PYTHONUNBUFFERED") == "1"
    assert image.user, "no USER: the service would run as root"
    assert image.user.split(":")[0] not in ("root", "0")


def test_image_healthcheck_asks_healthz_with_the_standard_library(service) -> None:
    check = build(service).healthcheck
    assert check is not None, "no HEALTHCHECK"
    assert check.json, "exec form: the image needs no shell to be checked"
    program = list(check.value)
    assert program[:4] == ["CMD", "python", "-c", program[3]]
    code = program[3]
    compile(code, "<healthcheck>", "exec")
    assert "urllib.request" in code
    assert "'/healthz'" in code
    assert "DIKO_HTTP_PORT" in code
    flags = dict(flag.lstrip("-").split("=", 1) for flag in check.flags)
    assert {"interval", "timeout", "start-period", "retries"} <= set(flags)


def test_image_is_built_from_its_own_package_only(service) -> None:
    global_args, _ = parse()
    stage, _ = copied_stage(build(service))
    variables = stage_variables(stage, service, global_args)
    copies = [c for c in stage.instructions if c.cmd == "COPY" and not c.flags]
    sources = sorted(expand(src, variables) for c in copies for src in c.value[:-1])
    assert sources == sorted(["constraints.txt", "shared/", f"services/{service}/"])
    for source in sources:
        assert (REPO / source).exists(), f"COPY {source}: not in the checkout"
    installs = [
        shlex.split(expand(" ".join(c.value), variables))
        for c in stage.instructions
        if c.cmd == "RUN" and "pip install" in " ".join(c.value)
    ]
    assert len(installs) == 1, "one pip install of the shared package and the service"
    words = installs[0]
    assert "./shared" in words, words
    assert f"./services/{service}" in words, words
    assert not [w for w in words if w.startswith("./services/") and w != f"./services/{service}"]
    assert "-e" not in words, "install, not a link to /src"
    assert "--editable" not in words, "install, not a link to /src"
    assert "-c" in words, "install under the project's pins"
    assert words[words.index("-c") + 1] == "constraints.txt", "install under the project's pins"
    assert "requirements-dev.txt" not in " ".join(words), "no dev tools in the image"


def test_image_copies_only_the_built_environment(service) -> None:
    _, commands = copied_stage(build(service))
    assert [list(c.value) for c in commands] == [["/opt/diko", "/opt/diko"]]
    assert "/opt/diko/bin" in build(service).env["PATH"].split(":")


def test_the_dockerfile_refuses_an_unknown_service(services) -> None:
    """The build stage names the services it knows; they must be exactly those that exist."""
    _, stages = parse()
    checks = [
        " ".join(c.value)
        for stage in stages
        for c in stage.instructions
        if c.cmd == "RUN" and "case" in " ".join(c.value)
    ]
    assert len(checks) == 1, "the build stage checks SERVICE with one `case`"
    known = re.search(r"in\s+([a-z|]+)\)", checks[0])
    assert known, checks[0]
    assert sorted(known[1].split("|")) == services
    named = sorted(stage.name for stage in stages if stage.name in services)
    assert named == services, "one stage per service"


def test_matching_can_cache_its_compiled_kernels() -> None:
    """numba writes its cache beside the package unless told otherwise; that is read-only."""
    image = build("matching")
    cache = image.env.get("NUMBA_CACHE_DIR", "")
    assert cache.startswith(("/home/", "/tmp/")), cache


def test_matching_creates_its_cache_directory_as_the_service_user() -> None:
    """compose mounts a named volume there; a new volume takes the directory's owner.

    Without the directory in the image, Docker creates the mount point as root, and numba
    (running as the service user) could not write its cache.
    """
    image = build("matching")
    matching = next(stage for stage in image.chain if stage.name == "matching")
    runs = [" ".join(c.value) for c in matching.instructions if c.cmd == "RUN"]
    made = [shlex.split(expand(run, image.env)) for run in runs if "mkdir" in run]
    assert made, "the matching stage creates NUMBA_CACHE_DIR"
    assert made[0][:3] == ["mkdir", "-p", image.env["NUMBA_CACHE_DIR"]]
    assert not any(c.cmd == "USER" for c in matching.instructions), "as the runtime's user"
    assert image.user
    assert image.user.split(":")[0] not in ("root", "0")


def test_media_creates_its_site_directory_as_the_service_user() -> None:
    """compose mounts the website's volume on DIKO_SITE_DIR; a new volume takes the
    directory's owner, so media must create it itself to write the builds there."""
    image = build("media")
    media = next(stage for stage in image.chain if stage.name == "media")
    site = image.env.get("DIKO_SITE_DIR", "")
    assert site.startswith("/home/"), site
    runs = [" ".join(c.value) for c in media.instructions if c.cmd == "RUN"]
    made = [shlex.split(expand(run, image.env)) for run in runs if "mkdir" in run]
    assert made
    assert made[0][:3] == ["mkdir", "-p", site]
    assert not any(c.cmd == "USER" for c in media.instructions), "as the runtime's user"


# -- the build context ------------------------------------------------------------------


def ignore_patterns() -> list[tuple[bool, re.Pattern[str], str]]:
    """(exclude?, regex, pattern) per line, as moby/patternmatcher compiles them."""
    compiled = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        pattern = os.path.normpath(line.removeprefix("!").strip()).lstrip("/")
        regex, i = "^", 0
        while i < len(pattern):
            char = pattern[i]
            if pattern.startswith("**", i):
                i += 2
                if pattern.startswith("/", i):
                    i += 1
                regex += ".*" if i >= len(pattern) else "(.*/)?"
                continue
            if char == "*":
                regex += "[^/]*"
            elif char == "?":
                regex += "[^/]"
            elif char == "[":
                end = pattern.index("]", i)
                regex += pattern[i : end + 1]
                i = end
            else:
                regex += re.escape(char)
            i += 1
        compiled.append((exclude, re.compile(regex + "$"), line))
    return compiled


def excluded(path: str, patterns: list[tuple[bool, re.Pattern[str], str]]) -> bool:
    """Docker: the last pattern that matches the path or one of its parents decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    verdict = False
    for exclude, regex, _ in patterns:
        if any(regex.match(candidate) for candidate in candidates):
            verdict = exclude
    return verdict


def context_files() -> Iterator[str]:
    patterns = ignore_patterns()
    reincluded = [line.lstrip("!") for exclude, _, line in patterns if not exclude]
    for root, dirs, files in os.walk(REPO):
        relative = Path(root).relative_to(REPO).as_posix()
        prefix = "" if relative == "." else relative + "/"
        # Skip a folder that is excluded and that no `!` pattern could reach into.
        dirs[:] = [
            d
            for d in dirs
            if not excluded(prefix + d, patterns)
            or any(p.startswith(prefix + d + "/") for p in reincluded)
        ]
        for name in files:
            if not excluded(prefix + name, patterns):
                yield prefix + name


@pytest.fixture(scope="module")
def context() -> list[str]:
    return sorted(context_files())


def test_context_holds_no_secrets_caches_or_bulk(context) -> None:
    forbidden = re.compile(
        r"(^|/)(\.venv|\.local|\.git|tests|bench|__pycache__|\.pytest_cache|\.ruff_cache|"
        r"\.hypothesis|[^/]+\.egg-info)(/|$)|(^|/)\.env($|\.)|\.py[cod]$"
    )
    leaked = [path for path in context if forbidden.search(path)]
    assert leaked == [], f"the build context would carry {leaked[:10]}"
    top = {path.split("/")[0] for path in context}
    assert top <= {"constraints.txt", "shared", "services"}, top


def test_context_holds_everything_the_dockerfile_copies(context, services) -> None:
    files = set(context)
    assert "constraints.txt" in files
    assert "shared/pyproject.toml" in files
    assert any(path.startswith("shared/diko_shared/") for path in files)
    for service in services:
        assert f"services/{service}/pyproject.toml" in files, service
        assert f"services/{service}/diko_{service}/__main__.py" in files, (
            f"services/{service}/diko_{service}/__main__.py is missing or ignored"
        )


def test_dockerignore_rules_behave_like_dockers() -> None:
    """The matcher above, on cases whose answer Docker's documentation gives."""
    patterns = ignore_patterns()
    assert excluded(".venv/bin/python", patterns)
    assert excluded(".env", patterns)
    assert excluded("services/media/.env", patterns)
    assert excluded("services/media/tests/test_media_service.py", patterns)
    assert excluded("shared/diko_shared/__pycache__/x.cpython-311.pyc", patterns)
    assert excluded("README.md", patterns)
    assert not excluded("shared/diko_shared/settings.py", patterns)
    assert not excluded("services/matching/pyproject.toml", patterns)
