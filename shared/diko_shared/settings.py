"""Settings of a diko process, read from `DIKO_*` environment variables.

`.local/stack.env` (written by `make stack`) is read too when it exists in the working
directory, so that the CLI and a service started by hand in a checkout find the local
stack; real environment variables always win. The broker and database addresses have
no defaults: a production process without them stops with a message that names them,
instead of trying a guessed address with a default password.

Secrets can come from files, as Docker secrets are handed over: `DIKO_<NAME>_FILE` names
a file whose content (without its final line break) is the value of `DIKO_<NAME>`, for
any setting (`DIKO_LINK_SECRET_FILE`, `DIKO_SMTP_PASSWORD_FILE`, ...). The passwords of
the broker and the database have settings of their own, `DIKO_AMQP_PASSWORD` and
`DIKO_MONGO_PASSWORD` (or their `_FILE`s), which go into the URL's user part, so that the
URL itself holds no secret. No secret is ever logged or shown in an error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

LOCAL_STACK_ENV = ".local/stack.env"

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


#: The virtual hosts of test sessions: the only place a test clock may run.
TEST_VHOST_PREFIX = "diko-test-"

#: How .env.example marks a secret the operator has to choose.
PLACEHOLDER = "change-me"


def refuse_placeholder(secret: str | None) -> None:
    """A secret copied unchanged from .env.example would be a default password: refuse it."""
    if secret and secret.startswith(PLACEHOLDER):
        raise ValueError("holds the change-me placeholder of .env.example: choose a secret")


#: Appended to a setting's variable: the variable names a file holding the value.
FILE_SUFFIX = "_FILE"


class SecretFiles(PydanticBaseSettingsSource):
    """`DIKO_<NAME>_FILE=/run/secrets/…`: the value of `DIKO_<NAME>`, read from that file."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        prefix = self.settings_cls.model_config.get("env_prefix", "")
        variable = f"{prefix}{field_name}".upper()
        path = os.environ.get(variable + FILE_SUFFIX, "")
        if not path:
            return None, field_name, False
        if os.environ.get(variable):
            raise ValueError(f"{variable} and {variable}{FILE_SUFFIX} are both set: keep one")
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(
                f"{variable}{FILE_SUFFIX}: cannot read {path} ({exc.strerror or exc})"
            ) from None
        return text.removesuffix("\n").removesuffix("\r"), field_name, False

    def __call__(self) -> dict[str, Any]:
        values = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, field_name)
            if value is not None:
                values[key] = value
        return values


def with_password(url: str, password: str) -> str:
    """`url` with `password` (URL-quoted) for its user; a URL that has one is refused."""
    parts = urlsplit(url)
    if parts.password is not None:
        raise ValueError("carries a password and one is given separately too: keep one")
    if not parts.username:
        raise ValueError("names no user for the password given separately")
    user = f"{parts.username}:{quote(password, safe='')}"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{user}@{host}", parts.path, parts.query, parts.fragment))


class PlatformSettings(BaseSettings):
    """What every diko process needs to reach the broker and the database."""

    model_config = SettingsConfigDict(
        env_prefix="DIKO_",
        env_file=LOCAL_STACK_ENV,
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,  # a refused URL must not print its password
    )

    amqp_url: str = Field(
        repr=False,  # holds a password
        description="RabbitMQ URL including the virtual host, e.g. amqp://diko:…@rabbitmq:5672/diko",
    )
    mongo_url: str = Field(
        repr=False, description="MongoDB URL, e.g. mongodb://diko:…@mongo:27017/"
    )
    log_level: LogLevel = Field(
        "INFO", description="Log level of the JSON logs: DEBUG, INFO, WARNING, ERROR"
    )
    amqp_password: SecretStr | None = Field(
        None,
        description="The broker user's password, if not in DIKO_AMQP_URL "
        "(DIKO_AMQP_PASSWORD_FILE: from a file, e.g. a Docker secret)",
    )
    mongo_password: SecretStr | None = Field(
        None,
        description="The database user's password, if not in DIKO_MONGO_URL "
        "(DIKO_MONGO_PASSWORD_FILE: from a file)",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Variables first, then `DIKO_*_FILE` files, then `.local/stack.env`."""
        return (init_settings, env_settings, SecretFiles(settings_cls), dotenv_settings)

    @field_validator("amqp_url", "mongo_url")
    @classmethod
    def _no_placeholder_password(cls, value: str) -> str:
        refuse_placeholder(unquote(urlsplit(value).password or ""))
        return value

    @field_validator("amqp_password", "mongo_password")
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        refuse_placeholder(value.get_secret_value() if value is not None else None)
        return value

    @model_validator(mode="after")
    def _passwords_into_urls(self) -> PlatformSettings:
        """A password given on its own goes into its URL: the rest of diko sees one URL."""
        for url_field, password_field in (
            ("amqp_url", "amqp_password"),
            ("mongo_url", "mongo_password"),
        ):
            password = getattr(self, password_field)
            if password is None:
                continue
            try:
                url = with_password(getattr(self, url_field), password.get_secret_value())
            except ValueError as exc:
                raise ValueError(f"DIKO_{url_field.upper()} {exc}") from None
            object.__setattr__(self, url_field, url)
        return self

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value


class CliSettings(PlatformSettings):
    """The `diko` command line: the broker as its own user (`operator`); a database only
    for `diko stack status`, which checks it when DIKO_MONGO_URL is given."""

    mongo_url: str = Field("", repr=False, description="MongoDB URL (only for `stack status`)")


class ServiceSettings(PlatformSettings):
    """Settings of a service process; each service subclasses it to set its own defaults."""

    http_host: str = Field(
        "127.0.0.1", description="Address the HTTP side listens on (0.0.0.0 in containers)"
    )
    http_port: int = Field(
        8000,
        description="Port of /healthz, /readyz, /metrics, /asyncapi and the service's own pages",
    )
    mongo_database: str = Field("", description="Database name; defaults to diko_<service>")
    prefetch: int = Field(
        64,
        ge=1,
        le=5000,
        description="Unacknowledged messages per consumer, processed concurrently",
    )
    max_body_bytes: int = Field(
        256 * 1024, ge=1024, description="Larger message bodies are dead-lettered as too_large"
    )
    retry_delays_ms: Annotated[list[Annotated[int, Field(ge=1)]], NoDecode] = Field(
        default_factory=lambda: [1_000, 10_000, 60_000, 300_000],
        min_length=1,
        description="Back-off before each retry of a failing message (comma-separated ms)",
    )
    outbox_lease_s: float = Field(
        15.0,
        gt=0,
        description="How long a relay owns an outbox entry before another may publish it",
    )
    outbox_sweep_s: float = Field(
        5.0, gt=0, description="How often the relay looks for outbox entries left behind by a crash"
    )
    inbox_retention_days: float = Field(
        30.0, gt=0, description="How long processed-message records guard against redelivery"
    )
    public_base_url: str = Field(
        "", description="Base URL of this service as staff reach it (links in e-mails, feeds)"
    )
    due_poll_s: float = Field(
        5.0, gt=0, le=3600, description="How often the due loop looks for items whose time has come"
    )
    due_lease_s: float = Field(
        60.0,
        ge=1,
        description="How long a replica holds a due item it runs before another may take it over",
    )
    due_concurrency: int = Field(
        4,
        ge=1,
        le=64,
        description="How many due items one replica runs side by side (a slow one holds up "
        "no other)",
    )
    test_kill_after_phase: str = Field(
        "",
        description="Tests only: '<phase>:<message id>' SIGKILLs the process after that commit "
        "phase of that message; refused outside a diko-test-… virtual host",
    )
    test_clock: str = Field(
        "",
        description="Tests only: a document of the service's test_clock collection whose "
        "offset_s moves the service's time; refused outside a diko-test-… virtual host",
    )

    @field_validator("retry_delays_ms", mode="before")
    @classmethod
    def _split_delays(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part for part in value.replace(" ", "").split(",") if part]
            if not all(part.isdigit() for part in parts):
                raise ValueError("must be milliseconds separated by commas, e.g. 1000,10000,60000")
            return [int(part) for part in parts]
        return value

    @field_validator("test_clock", "test_kill_after_phase")
    @classmethod
    def _test_clock_only_in_tests(cls, value: str, info: ValidationInfo) -> str:
        """A production process must not run on a test clock (or fault injection)."""
        vhost = unquote(urlsplit(str(info.data.get("amqp_url", ""))).path.lstrip("/"))
        if value and not vhost.startswith(TEST_VHOST_PREFIX):
            raise ValueError(
                f"is for tests only: DIKO_AMQP_URL must name a test virtual host "
                f"({TEST_VHOST_PREFIX}…); unset DIKO_TEST_CLOCK in production"
            )
        return value

    @property
    def max_attempts(self) -> int:
        """First delivery plus one retry per configured delay."""
        return len(self.retry_delays_ms) + 1


class SettingsError(SystemExit):
    """A process cannot start with these settings.

    A `SystemExit`, so that `python -m diko_<service>` prints the message and exits with
    status 1 instead of a traceback that might quote an input value.
    """


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S], service: str, hints: Mapping[str, str] | None = None) -> S:
    """The settings from the environment, or a `SettingsError` naming each wrong variable.

    `hints` maps a variable to what to tell the operator instead of the validation message.
    """
    try:
        return cls()
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            name = f"DIKO_{str(error['loc'][0] if error['loc'] else '?').upper()}"
            problems.append(f"  {name}: {(hints or {}).get(name, error['msg'])}")
        raise SettingsError(f"{service} cannot start:\n" + "\n".join(problems)) from None
    except ValueError as exc:  # a DIKO_*_FILE that cannot be read, or is set twice
        raise SettingsError(f"{service} cannot start:\n  {exc}") from None
