"""The models more than one service reads: tenants, keys, org, events, records, facts.

Every table that holds a tenant's data has ``tenant_id`` first in its primary key or its
unique key, and every query in the repositories filters on it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from paceline.shared.db.base import Base, BigId, JSONType, UTCDateTime

TENANT_ID = 64
EXT_ID = 200


class Tenant(Base):
    """A company using Paceline, with its settings."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(TENANT_ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    fiscal_year_start_month: Mapped[int] = mapped_column(SmallInteger, default=1)
    locale: Mapped[str] = mapped_column(String(10), default="zh-CN")
    # The month closes in force and past (period, closed_at, reopened_at, policy): read
    # with the tenant by every figure and by scoring's routing (rows: period_closes).
    closes: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # Pace thresholds and other tunables; see services/api/settings/schemas.py.
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKey(Base):
    """An API key: only its SHA-256 hash is stored; scopes decide what it may do."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The person the key acts for (models_users.User), with at most their rights; None
    # for a service key (scopes over the whole tenant).
    user_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class Team(Base):
    """A team in a tenant's org chart; teams nest through ``parent_id``."""

    __tablename__ = "teams"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(EXT_ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[str | None] = mapped_column(String(EXT_ID), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Rep(Base):
    """A salesperson, by the tenant's external id (the ``rep_id`` of events)."""

    __tablename__ = "reps"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(EXT_ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(100), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RepMembership(Base):
    """Which team a rep belonged to, from ``valid_from`` until ``valid_to`` (exclusive)."""

    __tablename__ = "rep_memberships"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "rep_id"], ["reps.tenant_id", "reps.id"]),
        Index("ix_rep_memberships_tenant_team", "tenant_id", "team_id"),
        Index("ix_rep_memberships_tenant_rep", "tenant_id", "rep_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID))
    rep_id: Mapped[str] = mapped_column(String(EXT_ID))
    team_id: Mapped[str] = mapped_column(String(EXT_ID))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)


class RepRoleSpan(Base):
    """Which role a rep had, from ``valid_from`` until ``valid_to`` (exclusive): incentive
    plans assigned by role follow a role change from its day on."""

    __tablename__ = "rep_roles"
    __table_args__ = (Index("ix_rep_roles_tenant_rep", "tenant_id", "rep_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID))
    rep_id: Mapped[str] = mapped_column(String(EXT_ID))
    role: Mapped[str | None] = mapped_column(String(100), nullable=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)


class Event(Base):
    """Every accepted event, once per (tenant, source, event_id): the idempotency record."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source", "event_id"),
        Index("ix_events_tenant_record", "tenant_id", "type", "record_id"),
        # Scoring's data-quality checks (duplicate visits, bursts) read a rep's events of
        # one type over a day; without it each check scanned the tenant's events.
        Index("ix_events_tenant_rep_type_time", "tenant_id", "rep_id", "type", "occurred_at"),
        # The stale-source check's last arrival per source: a few index probes per source
        # instead of a scan of the tenant's events (alerts/repository.last_received_by_source).
        Index("ix_events_tenant_source_received", "tenant_id", "source", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID))
    source: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(EXT_ID))
    type: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[str] = mapped_column(String(EXT_ID))
    version_rank: Mapped[str] = mapped_column(String(40))
    rep_id: Mapped[str] = mapped_column(String(EXT_ID))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    log_partition: Mapped[int] = mapped_column(Integer)
    log_offset: Mapped[int] = mapped_column(BigInteger)


class Record(Base):
    """The state of one CRM record: winning version, history, and its contributions."""

    __tablename__ = "records"
    __table_args__ = (Index("ix_records_tenant_last_day", "tenant_id", "last_day"),)

    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID), primary_key=True)
    type: Mapped[str] = mapped_column(String(16), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(EXT_ID), primary_key=True)
    event_pk: Mapped[int] = mapped_column(BigInteger)
    version_rank: Mapped[str] = mapped_column(String(40))
    rep_id: Mapped[str] = mapped_column(String(EXT_ID))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[dict[str, Any]] = mapped_column(JSONType)
    contributions: Mapped[list[list[Any]]] = mapped_column(JSONType)
    # The span of days the contributions touch (for drill-down); None without any.
    first_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    last_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The knowledge time of the latest change (never goes back: docs/KPIS.md, "As of").
    known_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Fact(Base):
    """A KPI measure for one rep on one tenant-local day: value in 1/10,000 units."""

    __tablename__ = "kpi_facts"
    __table_args__ = (Index("ix_kpi_facts_tenant_kpi_day", "tenant_id", "kpi", "day"),)

    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID), primary_key=True)
    kpi: Mapped[str] = mapped_column(String(64), primary_key=True)
    measure: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    rep_id: Mapped[str] = mapped_column(String(EXT_ID), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class FactMember(Base):
    """A member of a distinct-count measure for one rep and day, with its record count."""

    __tablename__ = "kpi_fact_members"
    __table_args__ = (Index("ix_kpi_fact_members_tenant_kpi_day", "tenant_id", "kpi", "day"),)

    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID), primary_key=True)
    kpi: Mapped[str] = mapped_column(String(64), primary_key=True)
    measure: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    rep_id: Mapped[str] = mapped_column(String(EXT_ID), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    member: Mapped[str] = mapped_column(String(EXT_ID), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class ConsumerOffset(Base):
    """The scoring service's true log positions, committed with the facts they produced."""

    __tablename__ = "consumer_offsets"

    group_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    topic: Mapped[str] = mapped_column(String(200), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_offset: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Job(Base):
    """Maintenance work one service asks another to do (e.g. rebuild a tenant's facts)."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_kind", "status", "kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID))
    kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class LogReject(Base):
    """A log record the scoring service could not read: kept with the reason, not dropped."""

    __tablename__ = "log_rejects"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(200))
    partition: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    error: Mapped[str] = mapped_column(Text)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class KpiDefinitionRow(Base):
    """A tenant's custom KPI (built-ins live in code): its formula and labels."""

    __tablename__ = "kpi_definitions"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description_zh: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    unit: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(16))
    formula: Mapped[str] = mapped_column(Text)
    min_sample: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FxRate(Base):
    """Units of the tenant currency per unit of ``currency`` from ``day`` on (exact text)."""

    __tablename__ = "fx_rates"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    rate: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CalendarDay(Base):
    """A tenant's change to its work calendar: a holiday or a make-up working day."""

    __tablename__ = "calendar_days"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # holiday | workday
    name: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Target(Base):
    """A target for a KPI, a scope and a period; its values live in versions."""

    __tablename__ = "targets"
    __table_args__ = (UniqueConstraint("tenant_id", "kpi", "scope", "period"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    kpi: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(210))  # company | team:ID | rep:ID
    period: Mapped[str] = mapped_column(String(16))
    period_kind: Mapped[str] = mapped_column(String(8))
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("targets.id"), nullable=True)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    acknowledged_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Who recorded the acknowledgement (user:<id> or key:<id>): the rep themselves, or
    # someone on their behalf (a manager, an admin).
    acknowledged_recorded_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class TargetVersion(Base):
    """One version of a target's values: who set them, when, why."""

    __tablename__ = "target_versions"

    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID))
    baseline: Mapped[str | None] = mapped_column(String(40), nullable=True)
    target: Mapped[str] = mapped_column(String(40))
    stretch: Mapped[str | None] = mapped_column(String(40), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    author: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")


class RoleTemplateRow(Base):
    """A tenant's custom role template: KPIs and weights (built-ins live in code)."""

    __tablename__ = "role_templates"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Alert(Base):
    """A lag warning, anomaly or data-quality flag: one row per dedup key, reopened if it recurs."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "dedup_key"),
        Index("ix_alerts_tenant_status", "tenant_id", "status", "kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID))
    kind: Mapped[str] = mapped_column(String(16))  # lag | anomaly | data_quality
    type: Mapped[str] = mapped_column(String(64))  # e.g. missing_fx_rate, unknown_rep
    dedup_key: Mapped[str] = mapped_column(String(400))
    scope: Mapped[str] = mapped_column(String(210))
    severity: Mapped[str] = mapped_column(String(16))  # info | warning | critical
    status: Mapped[str] = mapped_column(String(16))  # open | acknowledged | resolved
    # The title in the tenant's locale (BI views, older readers); ``message`` is the same
    # title as a catalog message ({"code", "params"}, paceline.shared.i18n.to_json) that
    # readers render in their own language (None on rows from before it existed).
    title: Mapped[str] = mapped_column(String(400))
    message: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    occurrences: Mapped[int] = mapped_column(BigInteger, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AuditEntry(Base):
    """An admin action: who, when, what, and the data before and after (secrets redacted)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_tenant_at", "tenant_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))  # e.g. key:<id>, cli
    action: Mapped[str] = mapped_column(String(100))  # e.g. targets.revise
    target: Mapped[str] = mapped_column(String(400))  # e.g. target:12
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
