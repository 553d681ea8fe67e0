"""Settings of the notifications service: the platform's, SMTP, the sender and the action links.

The link secret has no default: without it every link in every e-mail could be forged
or would break at the next start, so the service refuses to start and says which
variable to set. Errors name the variables, never their values.
"""

from __future__ import annotations

from email.utils import parseaddr

from pydantic import Field, SecretStr, field_validator

from diko_shared.settings import ServiceSettings
from diko_shared.settings import load_settings as load

DEFAULT_SENDER = "DIKO Altmark <noreply@diko.example>"
SECRET_HINT = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


class NotificationsSettings(ServiceSettings):
    """`DIKO_*` variables of the notifications service."""

    http_port: int = Field(8003, description="Port of the action pages and the platform pages")

    smtp_host: str = Field(description="SMTP server that accepts the e-mails, e.g. mailpit")
    smtp_port: int = Field(25, ge=1, le=65535, description="Port of the SMTP server")
    smtp_user: str = Field("", description="SMTP login; empty: no authentication")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password of smtp_user")
    smtp_starttls: bool = Field(
        False, description="Upgrade the connection with STARTTLS (submission servers on 587)"
    )
    smtp_timeout_s: float = Field(
        30.0, gt=0, description="How long one SMTP conversation may take before it counts as failed"
    )
    smtp_connections: int = Field(
        8, ge=1, le=64, description="SMTP connections kept open and used at the same time"
    )
    mail_from: str = Field(DEFAULT_SENDER, description="From header and envelope sender")
    team_email: str = Field(
        "",
        description="The team's address: what nobody responsible receives goes there; "
        "empty: such mail is only logged",
    )
    team_name: str = Field("DIKO-Team", description="How e-mails to the team address greet it")
    delivery_retention_days: float = Field(
        90.0,
        gt=0,
        le=3650,
        description="How long the delivery log keeps a delivery (it holds addresses)",
    )

    link_secret: SecretStr = Field(
        min_length=32, description="Signs the accept/decline links in e-mails; keep it secret"
    )
    link_ttl_days: float = Field(
        14.0, gt=0, le=365, description="How long an accept/decline link stays valid"
    )

    @field_validator("mail_from")
    @classmethod
    def _has_address(cls, value: str) -> str:
        if "@" not in parseaddr(value)[1]:
            raise ValueError("must be an address such as 'DIKO Altmark <noreply@diko.example>'")
        return value

    @field_validator("team_email")
    @classmethod
    def _team_address(cls, value: str) -> str:
        value = value.strip()
        if value and ("@" not in value or any(c.isspace() or c in "<>," for c in value)):
            raise ValueError("must be a bare address such as team@diko.example")
        return value

    @property
    def base_url(self) -> str:
        """Where staff reach this service: the action links start here."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = "localhost" if self.http_host in ("", "0.0.0.0", "::") else self.http_host
        return f"http://{host}:{self.http_port}"

    @property
    def sender_address(self) -> str:
        """The bare address of `mail_from`, for the SMTP envelope and the Message-ID."""
        return parseaddr(self.mail_from)[1]


def load_settings() -> NotificationsSettings:
    """The settings from the environment, or a `SettingsError` that names what is wrong."""
    hint = (
        "required, at least 32 characters, the same on every replica "
        f"(for example the output of `{SECRET_HINT}`)"
    )
    return load(NotificationsSettings, "notifications", {"DIKO_LINK_SECRET": hint})
