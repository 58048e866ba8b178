"""Alert history, subscriptions, deliveries and the evaluation state around ``alerts``.

The ``alerts`` table (one row per tenant and dedup key) lives in :mod:`models`; this
module holds what grows around it:

* ``alert_events``: the history of every alert (opened, escalated, acknowledged,
  resolved...). It is also the outbox: rows are written in the transaction that changes
  the alert, and deliveries and log publications are made from them after the commit.
* ``alert_subscriptions``: who wants which alerts, where, in which format, with the
  signing secret encrypted at rest (``SecretBox``).
* ``alert_deliveries`` and ``alert_delivery_attempts``: one delivery per subscription and
  message, persisted before it is sent, with every attempt logged.
* ``alert_digests``: the digests sent (weekly, month-end), with the snapshot the next
  digest compares against.
* ``alert_eval_state``: hysteresis and schedule state of the evaluators (per target,
  per rep and KPI, per scheduled job).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from paceline.shared.db.base import Base, BigId, JSONType, UTCDateTime
from paceline.shared.db.models import EXT_ID, TENANT_ID, Event


class AlertEvent(Base):
    """One change in an alert's life; also the outbox of deliveries and publications."""

    __tablename__ = "alert_events"
    __table_args__ = (
        Index("ix_alert_events_tenant_alert", "tenant_id", "alert_id"),
        Index("ix_alert_events_fanout", "fanned_out_at"),
        Index("ix_alert_events_published", "published_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID))
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    # opened | reopened | escalated | deescalated | acknowledged | resolved
    action: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))  # system, key:<id>
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # the alert's status after the change
    team_id: Mapped[str | None] = mapped_column(String(EXT_ID), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    # A note the system wrote, as a catalog message ({"code", "params"}); ``note`` holds it
    # in the tenant's locale. None for people's notes (their own words).
    note_message: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    # The alert as it was after the change (what subscribers receive).
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType)
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Subscription(Base):
    """A subscriber endpoint with its filters, format and (encrypted) secret."""

    __tablename__ = "alert_subscriptions"
    __table_args__ = (Index("ix_alert_subscriptions_tenant", "tenant_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    # The URL may carry a credential (bot keys, access tokens): stored encrypted, shown redacted.
    url_enc: Mapped[str] = mapped_column(Text)
    url_display: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(16))  # standard | slack | wecom | dingtalk | feishu
    secret_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    # After a rotation the old secret also signs until ``previous_secret_until`` (Standard
    # Webhooks: several signatures, space-separated), so receivers can switch keys.
    previous_secret_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    kinds: Mapped[list[str]] = mapped_column(JSONType, default=list)  # [] = every kind
    types: Mapped[list[str]] = mapped_column(JSONType, default=list)  # [] = every type
    teams: Mapped[list[str]] = mapped_column(JSONType, default=list)  # [] = every team
    min_severity: Mapped[str] = mapped_column(String(16), default="info")
    actions: Mapped[list[str]] = mapped_column(JSONType, default=list)
    digests: Mapped[list[str]] = mapped_column(JSONType, default=list)  # weekly, month_end
    # Grouping, quiet hours, inhibition (shared/delivery_options.py); {} = the defaults.
    delivery_options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Deliveries in a row that ended dead (reset by any success).
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    consecutive_dead: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))


class Delivery(Base):
    """One message to one subscriber: persisted first, then sent and retried until done."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "source_key"),
        Index("ix_alert_deliveries_due", "status", "next_attempt_at"),
        Index("ix_alert_deliveries_tenant_sub", "tenant_id", "subscription_id", "id"),
        Index("ix_alert_deliveries_sub_status", "subscription_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID))
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("alert_subscriptions.id", ondelete="CASCADE")
    )
    # What it carries, unique per subscription: event:<id>, digest:<id>, redeliver:<id>:<n>.
    source_key: Mapped[str] = mapped_column(String(200))
    message_id: Mapped[str] = mapped_column(String(64))  # webhook-id, stable across retries
    event_type: Mapped[str] = mapped_column(String(64))  # alert.opened, digest.weekly, ...
    alert_event_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # pending | delivered | dead | cancelled; for grouped subscriptions an alert change
    # waits as ``held`` until a group message carries it (``folded``, ``folded_into``),
    # or is left out as a repeat or covered by another alert (``suppressed``).
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # The group of a held alert change (its label values), and the alert's dedup key.
    group_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    alert_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    # The group message that carried a folded change (or the alert that covered it).
    folded_into: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # A dispatcher that claimed it (until the lease ends; a crashed one's lease expires).
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    redelivery_of: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class DeliveryAttempt(Base):
    """One HTTP attempt of a delivery: when, what came back, what happens next."""

    __tablename__ = "alert_delivery_attempts"
    __table_args__ = (Index("ix_alert_delivery_attempts_delivery", "delivery_id", "attempt"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID))
    delivery_id: Mapped[int] = mapped_column(ForeignKey("alert_deliveries.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    response: Mapped[str | None] = mapped_column(Text, nullable=True)  # first 1,000 chars
    outcome: Mapped[str] = mapped_column(String(16))  # delivered | retry | dead | gone
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Digest(Base):
    """A digest made for a team and period (weekly, month-end), with its snapshot."""

    __tablename__ = "alert_digests"
    __table_args__ = (UniqueConstraint("tenant_id", "team_id", "kind", "period"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID))
    team_id: Mapped[str] = mapped_column(String(EXT_ID))  # a team id, or * for the company
    kind: Mapped[str] = mapped_column(String(16))  # weekly | month_end
    period: Mapped[str] = mapped_column(String(16))  # 2026-W11, 2026-03
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)


class EvalState(Base):
    """Evaluator memory: hysteresis streaks per target or series, and schedule marks."""

    __tablename__ = "alert_eval_state"

    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID), primary_key=True)
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


# The alert engine reads new events per log partition in offset order (its cursor).
Index("ix_events_log_position", Event.log_partition, Event.log_offset)
