"""docker-compose.yml, .env.example and deploy/{rabbitmq,mongo}/, checked without an engine.

The compose file is validated against the Compose Specification's JSON schema (vendored
beside this file, see README.md), both as written and with `.env.example` interpolated
the way compose interpolates it. Then what the schema cannot know: every diko service
is built from deploy/Dockerfile for itself, has a healthcheck that means something,
a restart policy and waits for a healthy broker and database; no password or secret is
written down or has a default; each service reaches MongoDB as its own user; ports are
published on loopback only and match the services' settings; every `DIKO_*` setting a
service requires is given, every one given exists, and the values validate.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jsonschema
import pytest
import yaml
from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo

from diko_shared.settings import ServiceSettings

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
SCHEMA = HERE / "compose-spec.json"
SCHEMA_SHA256 = "d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"
MONGO_INIT = REPO / "deploy" / "mongo" / "10-diko-users.js"
RABBITMQ_CONF = REPO / "deploy" / "rabbitmq" / "rabbitmq.conf"
RABBITMQ_PLUGINS = REPO / "deploy" / "rabbitmq" / "enabled_plugins"

INFRASTRUCTURE = ("rabbitmq", "mongo", "mailpit")
#: Profile `monitoring`: Prometheus and Grafana, official images.
MONITORING = ("prometheus", "grafana")
#: Profile `tools`: the operator's command line, a command that runs and exits.
TOOLS = ("cli",)
#: The project website's web server (nginx, official image), serving what media builds.
WEB = ("site",)
#: The broker users of the deployment (deploy/rabbitmq/definitions.json) besides the services.
BROKER_TOOL_USERS = ("operator", "monitor")
#: Names of variables and settings that hold a secret.
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|_PASS$|SECRET|TOKEN|PRIVATE_KEY|API_KEY")
#: Credentials for an outside server that may need none: they must be in .env, but may
#: be empty (`${NAME?…}`), as for a relay without authentication or media without
#: Instagram. Every other secret is required and non-empty (`${NAME:?…}`).
OPTIONAL_CREDENTIALS = {"DIKO_SMTP_USER", "DIKO_SMTP_PASSWORD", "DIKO_INSTAGRAM_TOKEN"}
#: What the operator replaces in .env (see its header).
PLACEHOLDER = "change-me-"


# -- compose's variable interpolation ---------------------------------------------------
# As the Compose Specification defines it: $$ is a literal $; ${NAME}, $NAME; defaults
# ${NAME:-x} (unset or empty) and ${NAME-x} (unset); required ${NAME:?msg} (error when
# unset or empty) and ${NAME?msg} (error when unset); ${NAME:+x} and ${NAME+x}.

_TOKEN = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?", re.S)


@dataclass(frozen=True)
class Reference:
    name: str
    op: str  # "", "-", ":-", "?", ":?", "+", ":+"
    arg: str
    text: str  # as written, e.g. "${NAME:?message}"


class MissingVariable(Exception):
    def __init__(self, reference: Reference) -> None:
        super().__init__(f"{reference.name}: {reference.arg}")
        self.reference = reference


def references(text: str) -> list[Reference]:
    found = []
    for match in _TOKEN.finditer(text):
        if match["escaped"]:
            continue
        if match["bare"]:
            found.append(Reference(match["bare"], "", "", match[0]))
            continue
        braced = _BRACED.fullmatch(match["braced"])
        if braced is None:
            raise ValueError(f"invalid interpolation {match[0]!r} in {text!r}")
        found.append(Reference(braced["name"], braced["op"] or "", braced["arg"] or "", match[0]))
    return found


def interpolate(text: str, env: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        (ref,) = references(match[0])
        value = env.get(ref.name)
        unset, empty = value is None, not value
        if ref.op in ("?", ":?") and (unset or (ref.op == ":?" and empty)):
            raise MissingVariable(ref)
        if ref.op in ("-", ":-") and (unset or (ref.op == ":-" and empty)):
            return ref.arg
        if ref.op in ("+", ":+"):
            return ref.arg if not (unset or (ref.op == ":+" and empty)) else ""
        return value or ""

    return _TOKEN.sub(substitute, text)


def strings(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Every string in a loaded YAML document, with its path."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield from strings(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from strings(value, (*path, index))


def resolve(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, Mapping):
        return {key: resolve(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(value, env) for value in node]
    return node


def read_env_file(path: Path) -> dict[str, str]:
    """A compose .env file: NAME=value lines, # comments, optional quotes."""
    env = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        assert sep, f"{path}:{number}: not NAME=value: {raw!r}"
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name), f"{path}:{number}: {raw!r}"
        value = value.strip()
        if value[:1] in ("'", '"'):
            assert len(value) > 1, f"{path}:{number}: unclosed quote"
            assert value.endswith(value[0]), f"{path}:{number}: unclosed quote"
            value = value[1:-1]
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].rstrip()
        assert name not in env, f"{path}:{number}: {name} is set twice"
        env[name] = value
    return env


class StrictLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; compose refuses the file. So do we."""


def _mapping_without_duplicates(loader: StrictLoader, node: yaml.MappingNode) -> dict:
    seen = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates
)


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.load(COMPOSE.read_text(encoding="utf-8"), Loader=StrictLoader)
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def operator_env(env_example: dict[str, str]) -> dict[str, str]:
    """.env as the operator makes it: every change-me-… placeholder replaced by a secret."""
    return {
        name: secrets.token_hex(32) if value.startswith(PLACEHOLDER) else value
        for name, value in env_example.items()
    }


@pytest.fixture(scope="module")
def resolved(compose: dict[str, Any], operator_env: dict[str, str]) -> dict[str, Any]:
    return resolve(compose, operator_env)


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def schema_errors(validator: jsonschema.protocols.Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's `environment`, in either of its two forms, as a mapping."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.partition("=")[::2] for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def single_reference(value: str | None) -> Reference | None:
    """The reference if `value` is exactly one `${…}` and nothing else."""
    refs = references(value or "")
    return refs[0] if len(refs) == 1 and refs[0].text == value else None


@dataclass(frozen=True)
class Url:
    """A URL whose parts may be `${…}` references (urlsplit alone cannot parse those)."""

    scheme: str
    username: str | None
    password: str | None
    hostname: str | None
    port: int | None
    path: str


def split_url(value: str) -> Url:
    originals = {}
    for index, ref in enumerate(references(value)):
        token = f"ref{index}token"
        originals[token] = ref.text
        value = value.replace(ref.text, token, 1)

    def restore(part: str | None) -> str | None:
        if part is None:
            return None
        for token, text in originals.items():
            part = part.replace(token, text)
        return part

    parts = urlsplit(value)
    return Url(
        parts.scheme,
        restore(parts.username),
        restore(unquote(parts.password) if parts.password is not None else None),
        restore(parts.hostname),
        parts.port,
        restore(parts.path) or "",
    )


# -- the schema -------------------------------------------------------------------------


def test_vendored_schema_is_unchanged() -> None:
    digest = hashlib.sha256(SCHEMA.read_bytes()).hexdigest()
    assert digest == SCHEMA_SHA256, "compose-spec.json changed: see tests/deploy/README.md"


def test_compose_file_follows_the_compose_specification(compose, validator) -> None:
    assert "version" not in compose, "the Compose Specification has no `version:` key"
    assert schema_errors(validator, compose) == []


def test_interpolated_with_env_example_it_still_follows_the_specification(
    resolved, validator
) -> None:
    assert schema_errors(validator, resolved) == []


def test_the_schema_check_catches_mistakes(compose, validator) -> None:
    """The schema is strict where it matters: a typo is an error, not ignored."""
    broken = json.loads(json.dumps(compose))
    broken["services"]["mongo"]["restart_policy"] = "always"
    broken["services"]["rabbitmq"]["healthcheck"]["intervall"] = "15s"
    broken["services"]["mongo"]["depends_on"] = {"rabbitmq": {"condition": "service_up"}}
    errors = schema_errors(validator, broken)
    assert any("restart_policy" in e for e in errors), errors
    assert any(e.startswith("services/rabbitmq/healthcheck") for e in errors), errors
    assert any(e.startswith("services/mongo/depends_on") for e in errors), errors


#: A Go duration, as compose parses them (the schema only says "string").
GO_DURATION = re.compile(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+")
DURATION_KEYS = {"interval", "timeout", "start_period", "start_interval", "stop_grace_period"}


def test_durations_are_go_durations(compose) -> None:
    for path, text in strings(compose):
        if path and path[-1] in DURATION_KEYS:
            where = "/".join(map(str, path))
            assert GO_DURATION.fullmatch(text), f"{where}: {text!r} is not a duration like 15s"


# -- services and their shape -----------------------------------------------------------


def test_every_service_package_has_a_compose_service_and_no_other(compose, services) -> None:
    defined = (
        set(compose["services"]) - set(INFRASTRUCTURE) - set(MONITORING) - set(TOOLS) - set(WEB)
    )
    assert defined == set(services), (
        f"compose services {sorted(defined)} differ from the packages {services} in services/"
    )
    assert set(INFRASTRUCTURE) <= set(compose["services"])


def test_service_is_built_from_the_dockerfile_for_itself(compose, service) -> None:
    spec = compose["services"][service]
    assert "image" not in spec, "a diko service is built, not pulled"
    assert spec["build"] == {
        "context": ".",
        "dockerfile": "deploy/Dockerfile",
        "args": {"SERVICE": service},
    }


def test_service_waits_for_a_healthy_broker_and_database(compose, service) -> None:
    spec = compose["services"][service]
    assert spec.get("restart") == "unless-stopped"
    depends = spec.get("depends_on")
    assert isinstance(depends, dict), "depends_on needs the long form to carry a condition"
    for dependency in ("rabbitmq", "mongo"):
        assert depends.get(dependency, {}).get("condition") == "service_healthy", dependency


def test_service_healthcheck_asks_its_own_healthz(compose, service, ports) -> None:
    spec = compose["services"][service]
    check = spec.get("healthcheck") or {}
    assert not check.get("disable"), "healthcheck disabled"
    test = check.get("test")
    assert isinstance(test, list), "exec form: no shell needed, nothing to quote"
    assert test[:3] == ["CMD", "python", "-c"], test
    code = test[3]
    ast.parse(code)  # the probe is valid Python
    assert "'http://127.0.0.1:'" in code, code
    assert "'/healthz'" in code, code
    assert "DIKO_HTTP_PORT" in code, "the probe must ask the port the service listens on"
    assert environment(spec)["DIKO_HTTP_PORT"] == str(ports[service])
    for key in ("interval", "timeout", "retries", "start_period"):
        assert key in check, f"healthcheck.{key}"


def test_service_publishes_its_port_on_loopback(compose, service, ports) -> None:
    spec = compose["services"][service]
    port = ports[service]
    assert spec.get("ports") == [f"127.0.0.1:{port}:{port}"]
    env = environment(spec)
    assert env["DIKO_HTTP_PORT"] == str(port)
    assert env["DIKO_HTTP_HOST"] == "0.0.0.0", "inside the container, listen on every address"


def test_service_runs_on_a_read_only_root_without_privileges(compose, service) -> None:
    spec = compose["services"][service]
    assert spec["read_only"] is True
    assert spec["tmpfs"] == ["/tmp"]
    assert spec["cap_drop"] == ["ALL"]
    assert spec["security_opt"] == ["no-new-privileges:true"]


def test_service_gets_only_its_own_settings(compose, service) -> None:
    """No env_file: .env holds the MongoDB root password and every service's password."""
    spec = compose["services"][service]
    assert "env_file" not in spec, (
        "env_file would hand the service every secret in .env; list its settings instead"
    )


def published_ports(spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(host address, entry) of each published port, short or long syntax."""
    for entry in spec.get("ports") or []:
        if isinstance(entry, dict):
            if "published" in entry:
                yield entry.get("host_ip", ""), str(entry)
        else:
            parts = str(entry).rsplit(":", 2)
            yield (parts[0] if len(parts) == 3 else ""), str(entry)


def test_every_published_port_is_bound_to_loopback(compose) -> None:
    for name, spec in compose["services"].items():
        for host, entry in published_ports(spec):
            assert host == "127.0.0.1", f"{name}: {entry} is published on every address"


def test_every_container_has_a_healthcheck_and_restart_policy(compose) -> None:
    for name, spec in compose["services"].items():
        if name in TOOLS:  # runs a command and exits: no server to check, nothing to restart
            assert spec["profiles"] == ["tools"], f"{name} only runs when asked for"
            assert spec["healthcheck"] == {"disable": True}
            assert spec["restart"] == "no"
            continue
        check = spec.get("healthcheck") or {}
        assert check.get("test"), f"{name} has no healthcheck"
        assert not check.get("disable"), f"{name}: healthcheck disabled"
        assert spec.get("restart") == "unless-stopped", f"{name}: restart policy"


def test_infrastructure_images_are_official_and_pinned(compose) -> None:
    images = {name: compose["services"][name]["image"] for name in INFRASTRUCTURE}
    assert re.fullmatch(r"rabbitmq:(3\.13|4\.\d+)(\.\d+)?-management", images["rabbitmq"])
    assert re.fullmatch(r"mongo:[78](\.\d+){0,2}", images["mongo"])
    assert images["mailpit"] == "axllent/mailpit:v1.33.1"


def test_infrastructure_healthchecks(compose) -> None:
    services = compose["services"]
    assert services["rabbitmq"]["healthcheck"]["test"] == [
        "CMD",
        "rabbitmq-diagnostics",
        "-q",
        "ping",
    ]
    assert services["mongo"]["healthcheck"]["test"] == [
        "CMD",
        "mongosh",
        "--quiet",
        "--eval",
        "db.adminCommand('ping')",
    ]
    assert services["mailpit"]["healthcheck"]["test"] == ["CMD", "/mailpit", "readyz"]


def test_mailpit_is_marked_and_kept_out_of_production(compose) -> None:
    """The SMTP catch-all runs only under its profile, and no service needs it to start."""
    assert compose["services"]["mailpit"].get("profiles") == ["mailpit"]
    text = COMPOSE.read_text(encoding="utf-8")
    assert "DEVELOPMENT AND STAGING ONLY" in text
    for name, spec in compose["services"].items():
        assert "mailpit" not in (spec.get("depends_on") or {}), f"{name} depends on mailpit"


def mounts(spec: dict[str, Any]) -> dict[str, str]:
    """target -> source of a service's volumes (short syntax)."""
    found = {}
    for entry in spec.get("volumes") or []:
        source, target = str(entry).split(":")[:2]
        found[target] = source
    return found


def test_broker_and_database_keep_their_data_in_named_volumes(compose) -> None:
    declared = set(compose.get("volumes") or {})
    for name, path in (("rabbitmq", "/var/lib/rabbitmq"), ("mongo", "/data/db")):
        source = mounts(compose["services"][name]).get(path)
        assert source in declared, f"{name}: {path} must be a named volume, not {source!r}"
    assert compose["services"]["rabbitmq"].get("hostname"), (
        "RabbitMQ keeps its data under its node name rabbit@<hostname>: fix the hostname"
    )


#: Where a container keeps on disk what must outlive it: each in a named volume.
STATE_ON_DISK = {
    "rabbitmq": "/var/lib/rabbitmq",
    "mongo": "/data/db",
    "mailpit": "/data",  # MP_DATABASE: without it, mail is lost with the container
    "matching": "/home/diko/.cache/numba",  # numba's compiled kernels
    "media": "/home/diko/site",  # the project website's builds (DIKO_SITE_DIR)
    "site": "/srv/site",  # the same volume, read by nginx
    "prometheus": "/prometheus",  # the metrics of the last 30 days
    "grafana": "/var/lib/grafana",  # its users and preferences
}
#: Services that keep everything in their database, and the CLI.
STATELESS = ("companies", "notifications", "cli")


def service_block(name: str) -> str:
    """The text of one service's entry in the compose file, comments included."""
    text = COMPOSE.read_text(encoding="utf-8")
    found = re.search(rf"^  {name}:\n(.*?)(?=^  [a-z]|^\S)", text, re.M | re.S)
    assert found, f"no service {name!r} in {COMPOSE.name}"
    return found[1]


def test_state_on_disk_lives_in_named_volumes(compose) -> None:
    declared = set(compose.get("volumes") or {})
    for name, path in STATE_ON_DISK.items():
        source = mounts(compose["services"][name]).get(path)
        assert source in declared, f"{name}: {path} must be a named volume, not {source!r}"


def test_every_named_volume_is_used_and_explained(compose) -> None:
    used = {source for spec in compose["services"].values() for source in mounts(spec).values()}
    text = COMPOSE.read_text(encoding="utf-8")
    for volume in compose.get("volumes") or {}:
        assert volume in used, f"volume {volume} is declared but no service mounts it"
        assert re.search(rf"^  {volume}: # \S", text, re.M), f"say what {volume} holds"


def test_stateless_services_have_no_volume_and_say_so(compose) -> None:
    for name in STATELESS:
        assert not compose["services"][name].get("volumes"), f"{name} keeps nothing on disk"
        assert "# Stateless:" in service_block(name), f"{name}: say that it is stateless"
    assert set(STATELESS) | set(STATE_ON_DISK) == set(compose["services"])


def test_matching_volume_is_where_numba_caches(compose) -> None:
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    cache = re.search(r"NUMBA_CACHE_DIR=(\S+)", dockerfile)
    assert cache, "deploy/Dockerfile sets NUMBA_CACHE_DIR for matching"
    assert cache[1] == STATE_ON_DISK["matching"]
    assert cache[1] in mounts(compose["services"]["matching"])


def test_mailpit_keeps_its_database_in_its_volume(compose) -> None:
    database = compose["services"]["mailpit"]["environment"]["MP_DATABASE"]
    assert database.startswith(STATE_ON_DISK["mailpit"] + "/"), database


def test_mounted_config_files_exist(compose) -> None:
    for name, spec in compose["services"].items():
        for target, source in mounts(spec).items():
            if source.startswith("."):
                exists = (
                    (REPO / source).is_dir()
                    if target.endswith(("provisioning", "diko"))
                    else (REPO / source).is_file()
                )
                assert exists, f"{name} mounts {source}, which does not exist"


# -- secrets ----------------------------------------------------------------------------


def all_references(compose: dict[str, Any]) -> list[tuple[tuple[Any, ...], Reference]]:
    return [(path, ref) for path, text in strings(compose) for ref in references(text)]


SECRETS_DIR = "/run/secrets/"


def test_no_password_or_secret_is_written_down(compose) -> None:
    """A secret reaches a container as a file (DIKO_X_FILE, Grafana's X__FILE) or, for the
    infrastructure's own first-start settings, as a required reference to .env."""
    declared = compose.get("secrets") or {}
    for name, spec in compose["services"].items():
        given = spec.get("secrets") or []
        for key, value in environment(spec).items():
            if not SECRET_NAME.search(key):
                continue
            if key.endswith("_FILE"):
                assert value.startswith(SECRETS_DIR), f"{name}: {key}={value} is no secret file"
                secret = value.removeprefix(SECRETS_DIR)
                assert secret in given, f"{name}: {key} reads {secret}, not given to it"
                assert secret in declared, f"{name}: {key} reads an undeclared secret"
                continue
            ref = single_reference(value)
            assert ref is not None, f"{name}: {key} must be a ${{…:?…}} reference to .env"
        for key, value in environment(spec).items():
            if "://" in value:
                parts = split_url(value)
                if name not in INFRASTRUCTURE:
                    assert parts.password is None, f"{name}: {key} carries a password"


def test_every_secret_comes_from_a_variable_compose_requires(compose) -> None:
    """`secrets: x: environment: VAR` alone would give an empty file for an unset VAR."""
    required = {
        ref.name: ref
        for path, ref in all_references(compose)
        if path[0] == "x-diko-required-secrets"
    }
    for name, spec in compose["secrets"].items():
        assert set(spec) == {"environment"}, f"secret {name}: from .env only"
        variable = spec["environment"]
        assert variable in required, f"secret {name}: {variable} is not in x-diko-required-secrets"
        optional = variable in OPTIONAL_CREDENTIALS
        assert required[variable].op == ("?" if optional else ":?"), required[variable].text
    used = {s for spec in compose["services"].values() for s in spec.get("secrets") or []}
    assert used == set(compose["secrets"]), "a secret is declared but given to nobody"


def test_no_secret_has_a_default(compose) -> None:
    for path, ref in all_references(compose):
        if not SECRET_NAME.search(ref.name):
            continue
        where = "/".join(map(str, path))
        if ref.name in OPTIONAL_CREDENTIALS:
            assert ref.op in ("?", ":?"), f"{where}: {ref.text} must be required"
        else:
            assert ref.op == ":?", f"{where}: {ref.text} must be ${{{ref.name}:?…}}"


def test_required_references_name_their_variable(compose) -> None:
    """Compose v1 prints only the message: it must say which variable is missing."""
    for path, ref in all_references(compose):
        if ref.op in ("?", ":?"):
            assert ref.name in ref.arg, f"{'/'.join(map(str, path))}: {ref.text}"


def secret_variables(compose: dict[str, Any]) -> list[str]:
    return sorted({ref.name for _, ref in all_references(compose) if SECRET_NAME.search(ref.name)})


def test_compose_refuses_to_start_without_any_one_secret(compose, operator_env) -> None:
    names = secret_variables(compose)
    assert {
        "RABBITMQ_COMPANIES_PASSWORD",
        "RABBITMQ_OPERATOR_PASSWORD",
        "MONGO_ROOT_PASSWORD",
        "MONGO_MEDIA_PASSWORD",
        "DIKO_LINK_SECRET",
        "GRAFANA_ADMIN_PASSWORD",
    } <= set(names)
    for name in names:
        without = {k: v for k, v in operator_env.items() if k != name}
        with pytest.raises(MissingVariable) as missing:
            resolve(compose, without)
        assert missing.value.reference.name == name
        if name not in OPTIONAL_CREDENTIALS:
            with pytest.raises(MissingVariable):
                resolve(compose, {**operator_env, name: ""})


def test_env_example_has_placeholders_and_no_secrets(compose, env_example) -> None:
    for name in secret_variables(compose):
        value = env_example.get(name)
        assert value is not None, f".env.example lacks {name}"
        if name in OPTIONAL_CREDENTIALS:
            assert value in ("",) or value.startswith(PLACEHOLDER), f"{name}={value!r}"
        else:
            assert value.startswith(PLACEHOLDER), f"{name} must be a {PLACEHOLDER}… placeholder"
    header = ENV_EXAMPLE.read_text(encoding="utf-8")
    assert "openssl rand -hex 32" in header, "tell the operator how to make a secret"


def test_env_example_covers_every_variable_the_compose_file_uses(compose, env_example) -> None:
    used = {ref.name for _, ref in all_references(compose)}
    assert sorted(used - set(env_example)) == [], "missing from .env.example"
    unused = {name for name in env_example if not name.startswith("COMPOSE_")} - used
    assert sorted(unused) == [], ".env.example sets what docker-compose.yml never reads"


def test_env_example_secrets_can_stand_in_a_url(env_example) -> None:
    """Secrets go into DIKO_AMQP_URL / DIKO_MONGO_URL unescaped: the example must not
    suggest characters that would break them."""
    for name, value in env_example.items():
        if SECRET_NAME.search(name) and value:
            assert re.fullmatch(r"[A-Za-z0-9._~-]+", value), f"{name}={value!r}"


def test_dot_env_is_ignored_by_git_and_the_example_is_not() -> None:
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run([git, "check-ignore", "-q", ".env"], cwd=REPO, check=False)
    assert ignored.returncode == 0, ".env must be git-ignored"
    example = subprocess.run([git, "check-ignore", "-q", ".env.example"], cwd=REPO, check=False)
    assert example.returncode == 1, ".env.example must be committed"


# -- broker and database: each service's own credentials --------------------------------


def secret_variable(compose: dict[str, Any], spec: dict[str, Any], key: str) -> str:
    """The .env variable behind a DIKO_*_FILE setting of a service, through its secret."""
    path = environment(spec)[key]
    assert path.startswith(SECRETS_DIR), f"{key}={path}"
    return compose["secrets"][path.removeprefix(SECRETS_DIR)]["environment"]


def test_each_service_reaches_mongodb_as_its_own_user(compose, services) -> None:
    users = {}
    for service in services:
        spec = compose["services"][service]
        url = environment(spec)["DIKO_MONGO_URL"]
        parts = split_url(url)
        assert (parts.scheme, parts.hostname, parts.port) == ("mongodb", "mongo", 27017), url
        assert parts.username == service, f"{service} must log in as {service!r}: {url}"
        assert parts.path == f"/diko_{service}", f"{service}: authentication database: {url}"
        assert parts.password is None, f"{service}: the password is a secret file: {url}"
        variable = secret_variable(compose, spec, "DIKO_MONGO_PASSWORD_FILE")
        assert variable == f"MONGO_{service.upper()}_PASSWORD", variable
        users[service] = variable
    assert len(set(users.values())) == len(users), "two services share a database password"
    mongo_env = environment(compose["services"]["mongo"])
    for service, variable in users.items():
        ref = single_reference(mongo_env.get(variable, ""))
        needs = f"the mongo container needs {variable} to create the user {service}"
        assert ref is not None, needs
        assert ref.name == variable, needs


def test_mongo_init_script_creates_exactly_the_service_users(services) -> None:
    script = MONGO_INIT.read_text(encoding="utf-8")
    listed = re.search(r"const SERVICES = \[([^\]]*)\];", script)
    assert listed, "10-diko-users.js lists its services in `const SERVICES = [...]`"
    assert sorted(json.loads(f"[{listed[1]}]")) == services
    assert "MONGO_${service.toUpperCase()}_PASSWORD" in script
    assert "const name = `diko_${service}`" in script
    assert 'role: "readWrite", db: name' in script
    for granted in ("readWriteAnyDatabase", "dbOwner", "root", "userAdmin"):
        assert f'"{granted}"' not in script, f"a service user must not get {granted}"


def test_mongo_runs_the_init_script_with_a_root_user(compose) -> None:
    mongo = compose["services"]["mongo"]
    assert mounts(mongo).get("/docker-entrypoint-initdb.d/10-diko-users.js") == (
        "./deploy/mongo/10-diko-users.js"
    )
    env = environment(mongo)
    for key in ("MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD"):
        assert single_reference(env.get(key, "")) is not None, key


DEFINITIONS = REPO / "deploy" / "rabbitmq" / "definitions.json"
RABBITMQ_ENTRYPOINT = REPO / "deploy" / "rabbitmq" / "entrypoint.sh"


def test_each_service_reaches_rabbitmq_as_its_own_user(compose, services) -> None:
    broker = compose["services"]["rabbitmq"]
    users = {u["name"] for u in json.loads(DEFINITIONS.read_text())["users"]}
    for service in services:
        spec = compose["services"][service]
        url = environment(spec)["DIKO_AMQP_URL"]
        parts = split_url(url)
        assert (parts.scheme, parts.hostname, parts.port) == ("amqp", "rabbitmq", 5672), url
        assert parts.path == "/diko", f"{service}: virtual host diko (docs/contract.md): {url}"
        assert parts.username == service, f"{service} must log in as {service!r}: {url}"
        assert parts.password is None, f"{service}: the password is a secret file: {url}"
        secret = environment(spec)["DIKO_AMQP_PASSWORD_FILE"].removeprefix(SECRETS_DIR)
        assert secret == f"rabbitmq-{service}-password"
        assert secret in broker["secrets"], f"the broker needs {secret} to create {service}"
        assert service in users, f"deploy/rabbitmq/definitions.json has no user {service}"
    for user in BROKER_TOOL_USERS:
        assert f"rabbitmq-{user}-password" in broker["secrets"], user
        assert user in users, user
    assert set(broker["secrets"]) == {f"rabbitmq-{user}-password" for user in users}


def test_the_cli_logs_in_as_the_operator_without_a_database(compose) -> None:
    cli = compose["services"]["cli"]
    env = environment(cli)
    assert split_url(env["DIKO_AMQP_URL"]).username == "operator"
    assert env["DIKO_AMQP_PASSWORD_FILE"] == "/run/secrets/rabbitmq-operator-password"
    assert cli["secrets"] == ["rabbitmq-operator-password"]
    assert "DIKO_MONGO_URL" not in env
    assert cli["entrypoint"] == ["diko"]


def test_rabbitmq_loads_the_definitions_its_entrypoint_writes(compose) -> None:
    lines = [
        line.partition("=")
        for line in RABBITMQ_CONF.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    conf = {key.strip(): value.strip() for key, _, value in lines}
    assert conf["load_definitions"] == "/run/diko-rabbitmq/definitions.json"
    for seeded in (
        "default_user",
        "default_pass",
        "default_vhost",
        "default_user_tags.administrator",
    ):
        assert seeded not in conf, f"{seeded}: no default user, no administrator"
    broker = compose["services"]["rabbitmq"]
    assert broker["tmpfs"] == ["/run/diko-rabbitmq"], "the passwords stay in memory"
    assert mounts(broker)["/etc/rabbitmq/conf.d/20-diko.conf"] == "./deploy/rabbitmq/rabbitmq.conf"
    assert mounts(broker)["/etc/rabbitmq/diko/definitions.json"] == (
        "./deploy/rabbitmq/definitions.json"
    )
    script = RABBITMQ_ENTRYPOINT.read_text(encoding="utf-8")
    assert "/etc/rabbitmq/diko/definitions.json" in script
    assert conf["load_definitions"] in script


def test_rabbitmq_plugins(compose) -> None:
    text = "\n".join(
        line
        for line in RABBITMQ_PLUGINS.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("%")
    )
    term = re.fullmatch(r"\s*\[([a-z_,\s]*)\]\.\s*", text)
    assert term, "enabled_plugins must be one Erlang list ending in a dot"
    plugins = {p.strip() for p in term[1].split(",") if p.strip()}
    assert {"rabbitmq_management", "rabbitmq_prometheus"} <= plugins
    assert mounts(compose["services"]["rabbitmq"]).get("/etc/rabbitmq/enabled_plugins") == (
        "./deploy/rabbitmq/enabled_plugins"
    )


# -- settings: what each service reads ----------------------------------------------------


def settings_class(service: str) -> type[ServiceSettings]:
    """The service's settings class: the most derived ServiceSettings in its package."""
    package = REPO / "services" / service / f"diko_{service}"
    if importlib.util.find_spec(f"diko_{service}") is None:
        sys.path.insert(0, str(package.parent))
    found: list[type[ServiceSettings]] = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [
            node.name
            for node in tree.body
            if isinstance(node, ast.ClassDef)
            and any(isinstance(b, ast.Name) and b.id.endswith("Settings") for b in node.bases)
        ]
        if not names:
            continue
        module_name = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        module = importlib.import_module(module_name.removesuffix(".__init__"))
        found += [
            cls
            for name in names
            if isinstance(cls := getattr(module, name), type) and issubclass(cls, ServiceSettings)
        ]
    leaves = {cls for cls in found if not any(o is not cls and issubclass(o, cls) for o in found)}
    assert len(leaves) == 1, f"diko_{service}: expected one settings class, found {leaves}"
    return leaves.pop()


def setting_names(cls: type[ServiceSettings]) -> dict[str, FieldInfo]:
    """Environment variable name (upper case) -> field, as pydantic-settings reads them."""
    prefix = cls.model_config.get("env_prefix", "")
    names = {}
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias or field.alias
        if isinstance(alias, str):
            candidates = [alias]
        elif isinstance(alias, AliasChoices):
            candidates = [c for c in alias.choices if isinstance(c, str)]
        else:
            candidates = [prefix + field_name]
        for candidate in candidates:
            names[candidate.upper()] = field
    return names


def test_every_required_setting_is_provided_and_every_given_one_exists(compose, service) -> None:
    cls = settings_class(service)
    known = setting_names(cls)
    # DIKO_X_FILE gives DIKO_X from a file (a Docker secret).
    given = {key.upper().removesuffix("_FILE") for key in environment(compose["services"][service])}
    required = {name for name, field in known.items() if field.is_required()}
    assert sorted(required - given) == [], f"{cls.__name__} requires these; compose lacks them"
    unknown = {name for name in given if name.startswith("DIKO_")} - set(known)
    assert sorted(unknown) == [], f"{cls.__name__} has no such setting (a typo, or removed?)"
    for name, field in known.items():
        if SECRET_NAME.search(name) and name in given:
            default = field.default
            if isinstance(default, SecretStr):
                default = default.get_secret_value()
            assert default in (None, "") or field.is_required(), (
                f"{cls.__name__}.{name} has a default secret"
            )


def test_settings_validate_with_the_values_of_env_example(
    compose, resolved, operator_env, service, ports, monkeypatch, tmp_path
) -> None:
    cls = settings_class(service)
    for name in [n for n in os.environ if n.upper().startswith("DIKO_")]:
        monkeypatch.delenv(name)
    spec = resolved["services"][service]
    secrets_dir = tmp_path / "secrets"  # as compose writes them to /run/secrets/
    secrets_dir.mkdir()
    for secret in spec.get("secrets") or []:
        variable = resolved["secrets"][secret]["environment"]
        (secrets_dir / secret).write_text(operator_env[variable])
    for name, value in environment(spec).items():
        monkeypatch.setenv(name, value.replace(SECRETS_DIR, f"{secrets_dir}/"))
    monkeypatch.chdir(tmp_path)  # no .local/stack.env here
    settings = cls()
    password = operator_env[f"RABBITMQ_{service.upper()}_PASSWORD"]
    assert settings.amqp_url == f"amqp://{service}:{password}@rabbitmq:5672/diko"
    password = operator_env[f"MONGO_{service.upper()}_PASSWORD"]
    assert settings.mongo_url == f"mongodb://{service}:{password}@mongo:27017/diko_{service}"
    assert settings.http_port == ports[service]
    assert settings.http_host == "0.0.0.0"
    default_port = cls.model_fields["http_port"].default
    assert default_port == ports[service], f"{cls.__name__}.http_port defaults to {default_port}"


# -- compose-go: the loader of `docker compose` itself -------------------------------------
# tests/deploy/compose_config/ is a small Go program around compose-go (pinned in its
# go.sum), the library `docker compose config` loads files with. Built where Go is.

COMPOSE_CONFIG_SOURCE = HERE / "compose_config"

README = REPO / "deploy" / "README.md"


@pytest.fixture(scope="module")
def compose_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.skip("Go is not installed: the compose-go check needs it (make stack does too)")
    binary = tmp_path_factory.mktemp("compose-config") / "compose-config"
    built = subprocess.run(
        [go, "build", "-mod=readonly", "-o", str(binary), "."],
        cwd=COMPOSE_CONFIG_SOURCE,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, f"building tests/deploy/compose_config failed:\n{built.stderr}"
    return binary


def load_with_compose_go(
    binary: Path, env: Mapping[str, str], tmp_path: Path, *extra: Path
) -> subprocess.CompletedProcess[str]:
    profiles = [p for p in env.get("COMPOSE_PROFILES", "").split(",") if p]
    return subprocess.run(
        [
            str(binary),
            "-project-directory",
            str(REPO),
            "-env-file",
            str(write_env(tmp_path / "env", env)),
            *[arg for profile in profiles for arg in ("-profile", profile)],
            str(COMPOSE),
            *map(str, extra),
        ],
        env={"PATH": "/usr/bin:/bin"},  # nothing from this shell is interpolated
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_compose_go_loads_the_file_as_docker_compose_would(
    compose_config, operator_env, services, ports, tmp_path
) -> None:
    result = load_with_compose_go(compose_config, operator_env, tmp_path)
    assert result.returncode == 0, result.stderr
    project = yaml.safe_load(result.stdout)
    # .env.example's profiles: mailpit and monitoring; the CLI (profile tools) only on demand.
    assert set(project["services"]) == {*services, *INFRASTRUCTURE, *MONITORING, *WEB}
    for service in services:
        spec = project["services"][service]
        assert spec["build"]["args"] == {"SERVICE": service}
        assert [(p["host_ip"], p["target"], p["published"]) for p in spec["ports"]] == [
            ("127.0.0.1", ports[service], str(ports[service]))
        ]
        assert (
            spec["environment"]["DIKO_MONGO_URL"]
            == f"mongodb://{service}@mongo:27017/diko_{service}"
        )
        assert {s["source"] for s in spec["secrets"]} >= {
            f"rabbitmq-{service}-password",
            f"mongo-{service}-password",
        }
        assert "${" not in json.dumps(spec["environment"]), "interpolation left a reference"
        for dependency in ("rabbitmq", "mongo"):
            assert spec["depends_on"][dependency]["condition"] == "service_healthy"
    volumes = {
        name: [(v["type"], v["source"], v["target"]) for v in spec.get("volumes") or []]
        for name, spec in project["services"].items()
    }
    assert volumes["matching"] == [("volume", "matching-numba-cache", STATE_ON_DISK["matching"])]
    assert volumes["mailpit"] == [("volume", "mailpit-data", "/data")]
    for name in STATELESS:
        if name in project["services"]:
            assert volumes[name] == [], name
    for name, secret in project["secrets"].items():
        assert secret["environment"], name


def test_compose_go_refuses_a_missing_secret(compose_config, operator_env, tmp_path) -> None:
    env = {k: v for k, v in operator_env.items() if k != "DIKO_LINK_SECRET"}
    result = load_with_compose_go(compose_config, env, tmp_path)
    assert result.returncode == 1
    assert "required variable DIKO_LINK_SECRET is missing a value" in result.stderr


def test_the_readmes_override_files_work(compose_config, operator_env, tmp_path) -> None:
    """The docker-compose.override.yml snippets of deploy/README.md load and do what it says."""
    readme = README.read_text(encoding="utf-8")
    snippets = re.findall(r"```yaml\n(services:\n.*?)```", readme, re.S)
    inline = re.search(r"`(ports: !override \[[^\]]*\])`", readme)
    assert inline, "the README shows an ephemeral loopback port with !override"
    snippets.append(f"services:\n  matching:\n    {inline[1]}\n")
    assert len(snippets) >= 3, "the settings, !reset and !override examples"
    for number, snippet in enumerate(snippets):
        override = tmp_path / f"override-{number}.yml"
        override.write_text(snippet, encoding="utf-8")
        result = load_with_compose_go(compose_config, operator_env, tmp_path, override)
        assert result.returncode == 0, f"{snippet}\n{result.stderr}"
        matching = yaml.safe_load(result.stdout)["services"]["matching"]
        if "!reset" in snippet:
            assert not matching.get("ports"), "!reset [] removes the published port"
        elif "!override" in snippet:
            (port,) = matching["ports"]
            assert port["host_ip"] == "127.0.0.1"
            assert "published" not in port, "an ephemeral host port per replica"
        else:
            extra = yaml.safe_load(snippet)["services"]["matching"]["environment"]
            assert extra.items() <= matching["environment"].items()


# -- Debian's docker-compose 1.29.2, where installed -----------------------------------
# Compose v1 (end of life since 2023) does not know secrets taken from environment
# variables (Compose v2.23 and later, deploy/README.md requires v2.24). It must refuse the
# file, naming them, rather than start a deployment without its passwords.


def docker_compose_v1(env_file: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (Debian: apt-get install docker-compose)")
    return subprocess.run(
        [binary, "--env-file", str(env_file), "-f", str(COMPOSE), "config", "-q"],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},  # nothing from this shell
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write_env(path: Path, env: Mapping[str, str]) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    return path


def test_docker_compose_v1_refuses_the_file_naming_the_secrets(operator_env, tmp_path) -> None:
    result = docker_compose_v1(write_env(tmp_path / "env", operator_env), tmp_path)
    assert result.returncode != 0
    assert "secrets.rabbitmq-operator-password value 'environment'" in result.stderr


def test_rabbitmq_starts_through_the_diko_entrypoint(compose) -> None:
    broker = compose["services"]["rabbitmq"]
    script = "/usr/local/bin/diko-entrypoint.sh"
    assert broker["entrypoint"] == ["/bin/sh", script]
    assert broker["command"] == ["rabbitmq-server"]  # an entrypoint clears the image's CMD
    assert mounts(broker)[script] == "./deploy/rabbitmq/entrypoint.sh"


def run_entrypoint(tmp_path: Path, passwords: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """deploy/rabbitmq/entrypoint.sh with these secrets, the real template, and a stand-in
    for the image's own entrypoint."""
    image_entrypoint = tmp_path / "bin" / "docker-entrypoint.sh"
    image_entrypoint.parent.mkdir()
    image_entrypoint.write_text('#!/bin/sh\necho "image entrypoint: $*"\n', encoding="utf-8")
    image_entrypoint.chmod(0o755)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for user, password in passwords.items():
        (secrets / f"rabbitmq-{user}-password").write_text(password + "\n")
    return subprocess.run(
        ["/bin/sh", str(RABBITMQ_ENTRYPOINT), "rabbitmq-server"],
        env={
            "PATH": f"{image_entrypoint.parent}:/usr/bin:/bin",
            "DIKO_DEFINITIONS_TEMPLATE": str(DEFINITIONS),
            "DIKO_DEFINITIONS": str(tmp_path / "run" / "definitions.json"),
            "DIKO_SECRETS_DIR": str(secrets),
        },
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


def broker_users() -> list[str]:
    return [u["name"] for u in json.loads(DEFINITIONS.read_text())["users"]]


def test_the_entrypoint_writes_every_password_and_hands_over(tmp_path: Path) -> None:
    passwords = {user: secrets.token_hex(16) for user in broker_users()}
    result = run_entrypoint(tmp_path, passwords)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "image entrypoint: rabbitmq-server\n"
    written = tmp_path / "run" / "definitions.json"
    assert written.stat().st_mode & 0o077 == 0, "only the broker may read the passwords"
    definitions = json.loads(written.read_text())
    assert {u["name"]: u["password"] for u in definitions["users"]} == passwords
    assert "@@" not in written.read_text()


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        (None, "the secret rabbitmq-matching-password is missing"),
        ("", "is empty"),
        ("change-me-rabbitmq-matching", "still the change-me placeholder"),
        ("short-9f86d08", "shorter than 16 characters"),
        ("9f86d081884c7d65|rm -rf", "only letters, digits and - . _ ~"),
    ],
)
def test_the_entrypoint_refuses_a_missing_or_weak_password(
    tmp_path: Path, password: str | None, problem: str
) -> None:
    passwords = {user: secrets.token_hex(16) for user in broker_users()}
    if password is None:
        del passwords["matching"]
    else:
        passwords["matching"] = password
    result = run_entrypoint(tmp_path, passwords)
    assert result.returncode == 1
    assert problem in result.stderr
    assert "'matching'" in result.stderr or "rabbitmq-matching-password" in result.stderr
    assert "image entrypoint" not in result.stdout
    assert not (tmp_path / "run" / "definitions.json").exists()


# -- the project website's web server ---------------------------------------------------


def test_site_is_an_unprivileged_read_only_nginx_on_media_s_volume(compose) -> None:
    """nginx (official image, pinned) serves the volume media builds the website into,
    read-only, as the image's unprivileged user, with the repository's configuration."""
    site, media = compose["services"]["site"], compose["services"]["media"]
    assert re.fullmatch(r"nginx:1\.\d+(\.\d+)?-alpine", site["image"])
    assert site["user"].split(":")[0] not in ("root", "0")
    assert site["read_only"] is True
    assert site["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in site["security_opt"]
    assert site["depends_on"] == {"media": {"condition": "service_healthy"}}
    assert "./deploy/site/nginx.conf:/etc/nginx/nginx.conf:ro" in site["volumes"]
    assert "site-data:/srv/site:ro" in site["volumes"]
    assert mounts(media)[STATE_ON_DISK["media"]] == "site-data"
    config = (REPO / "deploy" / "site" / "nginx.conf").read_text(encoding="utf-8")
    listen = re.search(r"^\s*listen (\d+);", config, re.M)
    assert listen
    assert site["ports"] == [f"127.0.0.1:{listen[1]}:{listen[1]}"]
    assert re.search(r"^\s*root /srv/site/current;", config, re.M)
    assert site["healthcheck"]["test"][-1] == f"http://127.0.0.1:{listen[1]}/healthz"


def test_media_builds_the_site_where_the_image_says(compose) -> None:
    """The volume is mounted on the image's DIKO_SITE_DIR, and compose does not move it."""
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    site_dir = re.search(r"DIKO_SITE_DIR=(\S+)", dockerfile)
    assert site_dir
    assert site_dir[1] == STATE_ON_DISK["media"]
    assert "DIKO_SITE_DIR" not in environment(compose["services"]["media"])
