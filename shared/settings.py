"""Process settings: one object per process, from ``PACELINE_*`` environment variables.

With nothing set, Paceline runs embedded: SQLite and the embedded event log in
``./var`` (``--data-dir``). Setting ``PACELINE_DATABASE_URL`` (PostgreSQL) and
``PACELINE_KAFKA_BOOTSTRAP`` switches to the distributed mode.

In production (``PACELINE_ENVIRONMENT=production``) the settings refuse to start with a
placeholder bootstrap key, or with the embedded stores.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDERS = frozenset({"changeme", "change-me", "secret", "password", "admin", "test", ""})


class Settings(BaseSettings):
    """Every knob of a Paceline process."""

    model_config = SettingsConfigDict(env_prefix="PACELINE_", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default sqlite+aiosqlite in data_dir.",
    )
    kafka_bootstrap: str | None = Field(
        default=None, description="host:port list; unset means the embedded event log."
    )
    kafka_partitions: int = Field(default=6, ge=1, le=1000)
    kafka_replication_factor: int = Field(default=1, ge=1, le=7)
    topic: str = "paceline.events"
    embedded_partitions: int = Field(default=4, ge=1, le=64)
    consumer_group: str = "paceline-scoring"

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    bootstrap_api_key: SecretStr | None = None
    secret_key: SecretStr | None = Field(
        default=None,
        description="Encrypts webhook and subscriber secrets at rest (comma-separated keys "
        "for rotation, newest first). Required in production; development makes one.",
    )
    default_tenant: str = "default"

    # Ingest limits (documented in docs/API.md).
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    max_batch_events: int = Field(default=1000, ge=1)
    append_timeout_s: float = Field(default=10.0, gt=0)

    # Scoring.
    scoring_batch_max: int = Field(default=1000, ge=1)
    scoring_poll_timeout_s: float = Field(default=0.2, gt=0)

    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "text"

    @field_validator(
        "database_url", "kafka_bootstrap", "bootstrap_api_key", "secret_key", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # PACELINE_DATABASE_URL= (empty) means "not set", never "use an empty URL".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _production_guards(self) -> Settings:
        if self.environment != "production":
            return self
        key = self.bootstrap_api_key.get_secret_value() if self.bootstrap_api_key else None
        if key is not None and (key.lower() in _PLACEHOLDERS or len(key) < 24):
            raise ValueError(
                "PACELINE_BOOTSTRAP_API_KEY is a placeholder or shorter than 24 characters"
            )
        secret = self.secret_key.get_secret_value() if self.secret_key else ""
        if len(secret.split(",")[0].strip()) < 32:
            raise ValueError("production needs PACELINE_SECRET_KEY of at least 32 characters")
        if self.database_url is None or self.database_url.startswith("sqlite"):
            raise ValueError("production needs PACELINE_DATABASE_URL pointing to PostgreSQL")
        if self.kafka_bootstrap is None:
            raise ValueError("production needs PACELINE_KAFKA_BOOTSTRAP")
        return self

    @cached_property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'paceline.db').resolve()}"

    @property
    def embedded_log_path(self) -> Path:
        """Where the embedded event log lives."""
        return self.data_dir / "eventlog.db"

    @property
    def is_embedded_log(self) -> bool:
        """True when the event log is the embedded one."""
        return not self.kafka_bootstrap
