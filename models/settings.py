"""Settings, read once from environment variables prefixed ``FOLLOWUP_``."""

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# A signing key shorter than this can be guessed; anyone with the key can forge reply links.
MIN_KEY_LENGTH = 32
# The drivers installed and tested (make_engine turns postgresql:// into psycopg 3).
SUPPORTED_DRIVERS = {"sqlite": ("pysqlite",), "postgresql": ("psycopg", "psycopg2")}
DATABASE_EXAMPLES = "e.g. postgresql+psycopg://user@host/db or sqlite:///path/followup.db"
DAY = 86_400


class Settings(BaseSettings):
    """Everything that differs between a laptop, CI and a server."""

    # hide_input_in_errors: a wrong value is never echoed (a URL may carry a password).
    model_config = SettingsConfigDict(
        env_prefix="FOLLOWUP_", extra="ignore", hide_input_in_errors=True
    )

    data_dir: Path = Field(
        default=Path("var"),
        description="Folder for the SQLite file, the outbox and the reports.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite file followup.db in the data folder.",
    )
    timezone: str = Field(default="Europe/Oslo", description="Where 'today' is decided.")
    delivery: Literal["channels", "outbox"] = Field(
        default="channels",
        description="'outbox' sends every message to the outbox, whatever the contacts' "
        "channels say: a safe rehearsal with real data.",
    )
    mail_url: SecretStr | None = Field(
        default=None,
        description="Apprise mailto:// URL of the mail server for e-mail addresses; "
        "unset: e-mail goes to the outbox.",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where the reply web app is reached; links in messages start with it.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs the reply links; unset: a key generated once in the data folder.",
    )
    secret_key_previous: str | None = Field(
        default=None,
        description="Comma-separated older keys: links signed with them still work.",
    )
    delivery_tries_per_run: int = Field(default=3, ge=1, le=10)
    delivery_backoff_seconds: float = Field(
        default=2.0,
        ge=0,
        le=300,
        allow_inf_nan=False,
        description="Wait before the first retry in a run; doubles after.",
    )
    delivery_max_runs: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Runs that try a failing delivery before the coordinator is told.",
    )
    delivery_lease_seconds: int = Field(
        default=600,
        ge=1,
        le=DAY,
        description="How long a run may take to send one message before "
        "another run may try it (after a crash).",
    )
    delivery_retry_after_seconds: float = Field(
        default=900,
        ge=0,
        le=7 * DAY,  # doubled per failed run: up to 100 runs must stay a real date
        allow_inf_nan=False,
        description="Earliest retry of a failed delivery in a later run.",
    )

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(f"not a database URL; {DATABASE_EXAMPLES}") from None
        backend, driver = url.get_backend_name(), url.get_driver_name()
        if driver not in SUPPORTED_DRIVERS.get(backend, ()):
            raise ValueError(f"{url.drivername} is not supported; {DATABASE_EXAMPLES}")
        if backend == "sqlite" and url.database in (None, "", ":memory:"):
            raise ValueError(
                "an in-memory SQLite database keeps nothing between commands; give a file: sqlite:///PATH"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Oslo)") from None
        return value

    @field_validator("public_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"{value!r} is not a web address: links in messages need one like "
                "https://svar.example.no"
            )
        return value.strip().rstrip("/")

    @field_validator("secret_key")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < MIN_KEY_LENGTH:
            raise ValueError(
                f"shorter than {MIN_KEY_LENGTH} characters: reply links could be forged; make "
                "one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return value

    @field_validator("secret_key_previous")
    @classmethod
    def _long_previous(cls, value: str | None) -> str | None:
        short = [k for k in (value or "").split(",") if 0 < len(k.strip()) < MIN_KEY_LENGTH]
        if short:
            raise ValueError(
                f"a key shorter than {MIN_KEY_LENGTH} characters would verify forged links"
            )
        return value

    @field_validator("data_dir")
    @classmethod
    def _folder(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError(f"{value} is a file, not a folder")
        return value

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'followup.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests clear the cache after changing the environment."""
    return Settings()
