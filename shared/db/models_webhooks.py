"""CRM connectors: per-tenant webhook endpoints, record snapshots and the quarantine.

* :class:`WebhookConnector` — one per tenant and source (``hubspot``, ``pipedrive``,
  ``jiandaoyun``...): the adapter that reads it, the unguessable endpoint id the CRM posts
  to, settings, secrets (each encrypted with the process's SecretBox, never returned after
  creation) and the tenant's field mapping.
* :class:`WebhookRecord` — what the connector has learned of one CRM record so far, field by
  field with the time each value was set. CRMs that send only the changed properties
  (HubSpot property changes, Salesforce CDC updates, Zoho notifications) are folded into it,
  so every canonical event carries the record's whole known state.
* :class:`QuarantineItem` — a verified payload that could not be mapped (unknown stage,
  owner or object type, unparseable body...), kept with the reason until it is replayed
  with a fixed mapping or discarded by an admin. Nothing is dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from paceline.shared.db.base import Base, BigId, JSONType, UTCDateTime
from paceline.shared.db.models import EXT_ID, TENANT_ID

SOURCE = 64


class WebhookConnector(Base):
    """A tenant's connector for one source: adapter, endpoint id, settings, secrets, mapping."""

    __tablename__ = "webhook_connectors"

    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID), primary_key=True)
    source: Mapped[str] = mapped_column(String(SOURCE), primary_key=True)
    adapter: Mapped[str] = mapped_column(String(32))
    # The public routing id in the URL the CRM is configured with (unique, unguessable).
    endpoint_id: Mapped[str] = mapped_column(String(64), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # name -> SecretBox ciphertext ("enc:v1:..."); never returned by the API.
    secrets: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookRecord(Base):
    """The fields of one CRM record known so far: ``{name: [value, set_at_us]}``."""

    __tablename__ = "webhook_records"

    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID), primary_key=True)
    source: Mapped[str] = mapped_column(String(SOURCE), primary_key=True)
    object_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(EXT_ID), primary_key=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the record was last deleted or restored (microseconds since the epoch).
    deleted_at_us: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class QuarantineItem(Base):
    """A payload that could not be mapped, kept with the reason until replayed or discarded."""

    __tablename__ = "webhook_quarantine"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source", "item_key"),
        Index("ix_webhook_quarantine_tenant_status", "tenant_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID))
    source: Mapped[str] = mapped_column(String(SOURCE))
    # Stable per vendor item, so a resend of the same payload updates this row.
    item_key: Mapped[str] = mapped_column(String(400))
    # The CRM record it concerns, when known (so a later complete state can supersede it).
    object_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    record_id: Mapped[str | None] = mapped_column(String(EXT_ID), nullable=True)
    # unparseable | unknown_object | unknown_value | no_owner | unknown_owner |
    # incomplete | invalid_event | enrichment_failed | gap
    reason_code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    # The vendor item as received (JSON), or {"raw": text} for an unparseable body.
    item: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|replayed|...
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # What the last replay produced: event ids ingested, or why it still fails.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
