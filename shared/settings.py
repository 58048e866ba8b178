"""Process settings: one object per process, from ``PACELINE_*`` environment variables.

With nothing set, Paceline runs embedded: SQLite and the embedded event log in
``./var`` (``--data-dir``). Setting ``PACELINE_DATABASE_URL`` (PostgreSQL) and
``PACELINE_KAFKA_BOOTSTRAP`` switches to the distributed mode.

In production (``PACELINE_ENVIRONMENT=production``) the settings refuse to start with a
placeholder bootstrap key, a development-only secret (``DEV_ONLY_MARK``), or with the
embedded stores.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?$")
_PLACEHOLDERS = frozenset({"changeme", "change-me", "secret", "password", "admin", "test", ""})
# The secrets docker-compose.yml falls back to when none are set (so that `docker compose up`
# works on a laptop) all contain this; production refuses any secret or URL that does.
DEV_ONLY_MARK = "dev-only-insecure"


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
    # Consumer-group liveness (docs/OPERATIONS.md, "Rebalances and stalls").
    kafka_session_timeout_ms: int = Field(
        default=6_000,
        ge=1_000,
        le=1_800_000,
        description="How long the group coordinator waits for a scoring consumer's heartbeat "
        "before it gives the consumer's partitions to the others: the stall after a scoring "
        "process dies. The broker refuses values outside group.min.session.timeout.ms "
        "(6000 by default) .. group.max.session.timeout.ms.",
    )
    kafka_heartbeat_interval_ms: int = Field(
        default=1_000,
        ge=100,
        description="How often a scoring consumer heartbeats; also how soon it notices that a "
        "rebalance began. Below the session timeout (a third of it or less is advised).",
    )
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

    # Security (docs/SECURITY.md).
    rate_limit_per_s: float = Field(
        default=100.0,
        ge=0,
        description="Requests per second each API key may make on average (token bucket, "
        "per process); 0 turns rate limiting off.",
    )
    rate_limit_burst: int = Field(
        default=1000, ge=1, description="Requests a key may make at once before 429s start."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins browsers may call the API from, comma-separated "
        "(e.g. https://bi.example.com); empty (the default) allows none.",
    )
    hsts_max_age_s: int = Field(
        default=0,
        ge=0,
        description="Send Strict-Transport-Security with this max-age (set it when the API "
        "is served over TLS); 0 sends none.",
    )
    content_security_policy: str = Field(
        default="default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'; object-src 'none'",
        description="The Content-Security-Policy header of every response but /docs.",
    )

    # Dashboard sign-in (docs/SECURITY.md, "Sign-in (OpenID Connect)").
    public_url: str | None = Field(
        default=None,
        description="The address people reach Paceline at (https://kpi.example.com), used "
        "for the OpenID Connect redirect URI; default: the address of each request.",
    )
    session_ttl_h: float = Field(
        default=12.0, gt=0, le=24 * 30, description="Hours a dashboard sign-in lasts."
    )
    session_cookie_secure: bool = Field(
        default=False,
        description="Mark sign-in cookies Secure even when the request came over plain HTTP "
        "(set it behind a proxy that ends TLS); requests over https always get Secure.",
    )

    outbound_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="Timeout of every outbound HTTP call."
    )
    outbound_allow_private: bool | None = Field(
        default=None,
        description="Whether outbound calls to tenant-chosen URLs (subscribers, a CRM API "
        "base URL) may reach loopback, private and link-local addresses. Default: refused "
        "in production, allowed otherwise (local development and tests).",
    )

    kpi_exporter_max_targets: int = Field(
        default=200,
        ge=1,
        le=5000,
        description="Targets GET /v1/metrics/kpis exports per tenant at most (4 gauges each; "
        "company targets first); the rest are counted in "
        "paceline_kpi_exporter_targets_dropped (docs/OPERATIONS.md).",
    )

    # Scoring.
    scoring_batch_max: int = Field(default=1000, ge=1)
    scoring_poll_timeout_s: float = Field(default=0.2, gt=0)

    # Alerts (docs/ALERTS.md): evaluation schedule, deliveries, the alerts topic.
    alerts_topic: str = "paceline.alerts"
    alerts_tick_s: float = Field(
        default=60.0, ge=0, description="How often the time-driven evaluation runs; 0: never."
    )
    alerts_yield_s: float = Field(
        default=0.5,
        ge=0,
        description="How long at most the alert checks of new events wait, before each "
        "page, for the scoring worker to finish its batch (they share the event loop: "
        "the facts' freshness first); 0: they do not wait.",
    )
    delivery_poll_s: float = Field(
        default=1.0, ge=0, description="How often the dispatcher looks for due deliveries; 0: off."
    )
    delivery_retry_window_s: float = Field(
        default=26 * 3600.0, ge=24 * 3600.0, description="Retry a delivery at least this long."
    )
    delivery_backoff_base_s: float = Field(default=5.0, gt=0)
    delivery_backoff_cap_s: float = Field(default=3600.0, gt=0)
    delivery_concurrency: int = Field(default=8, ge=1, le=256)

    gc_gen0_threshold: int = Field(
        default=50_000,
        ge=0,
        description="Allocations between young-generation garbage collections in the "
        "service processes (Python's default is 700; 0 keeps it). Requests and scoring "
        "batches allocate many short-lived objects: collecting every 700 of them cost about "
        "a fifth of ingest's CPU (docs/PERFORMANCE.md). Objects alive at start-up are "
        "frozen out of collections too.",
    )
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "text"
    access_log: bool = Field(
        default=True,
        description="One log line per HTTP request (paceline.access: request id, method, "
        "path, query with secrets redacted, status, duration).",
    )

    @field_validator(
        "database_url",
        "kafka_bootstrap",
        "bootstrap_api_key",
        "secret_key",
        "public_url",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # PACELINE_DATABASE_URL= (empty) means "not set", never "use an empty URL".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is not None and not _ORIGIN.fullmatch(value.rstrip("/")):
            raise ValueError(
                f"{value!r} is not an address such as https://kpi.example.com "
                "(scheme://host[:port], no path)"
            )
        return value.rstrip("/") if value is not None else None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        # PACELINE_CORS_ORIGINS=https://a.example,https://b.example
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list):
            for origin in value:
                if not isinstance(origin, str) or not (origin == "*" or _ORIGIN.fullmatch(origin)):
                    raise ValueError(
                        f"{origin!r} is not an origin such as https://bi.example.com "
                        "(scheme://host[:port], no path)"
                    )
        return value

    @model_validator(mode="after")
    def _heartbeat_within_session(self) -> Settings:
        if self.kafka_heartbeat_interval_ms >= self.kafka_session_timeout_ms:
            raise ValueError(
                "PACELINE_KAFKA_HEARTBEAT_INTERVAL_MS must be below "
                "PACELINE_KAFKA_SESSION_TIMEOUT_MS (a third of it or less is advised)"
            )
        return self

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
        for name, value in (
            ("PACELINE_BOOTSTRAP_API_KEY", key or ""),
            ("PACELINE_SECRET_KEY", secret),
            ("PACELINE_DATABASE_URL", self.database_url),
        ):
            if DEV_ONLY_MARK in value.lower():
                raise ValueError(
                    f"{name} holds a development-only secret ({DEV_ONLY_MARK}...): "
                    "set a real one for production"
                )
        if self.kafka_bootstrap is None:
            raise ValueError("production needs PACELINE_KAFKA_BOOTSTRAP")
        return self

    @property
    def outbound_private_allowed(self) -> bool:
        """Whether outbound calls may reach non-public addresses (see the field)."""
        if self.outbound_allow_private is not None:
            return self.outbound_allow_private
        return self.environment != "production"

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
