"""Models of incentives (激励): plans and their versions, assignments, statements.

* ``incentive_plans`` / ``incentive_plan_versions``: a plan's document, versioned like
  targets (each revision a new version with its author, time and reason; reads take the
  version in force at the moment they answer for).
* ``incentive_assignments``: which reps a plan covers on which days — one rep, or every
  rep of a role (the role names a scorecard template); a rep's own assignment wins over
  the role's on the days it covers.
* ``incentive_statements``: a rep's earnings for a closed month, frozen when generated,
  with its workflow (draft → approved → paid) and who moved it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from paceline.shared.db.base import Base, BigId, JSONType, UTCDateTime
from paceline.shared.db.models import EXT_ID, TENANT_ID


class IncentivePlan(Base):
    """An incentive plan of a tenant: its key, names and current version."""

    __tablename__ = "incentive_plans"

    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IncentivePlanVersion(Base):
    """One version of a plan's document: who set it, when, why."""

    __tablename__ = "incentive_plan_versions"

    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID), primary_key=True)
    plan_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    author: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")


class IncentiveAssignment(Base):
    """A plan covering one rep or every rep of a role from ``valid_from`` to ``valid_to``
    (exclusive; None: open-ended)."""

    __tablename__ = "incentive_assignments"
    __table_args__ = (Index("ix_incentive_assignments_tenant", "tenant_id", "plan_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID))
    plan_key: Mapped[str] = mapped_column(String(64))
    rep_id: Mapped[str | None] = mapped_column(String(EXT_ID), nullable=True)
    role: Mapped[str | None] = mapped_column(String(100), nullable=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))


class IncentiveStatement(Base):
    """A rep's earnings for a closed month, frozen, and where it is in the workflow."""

    __tablename__ = "incentive_statements"
    __table_args__ = (UniqueConstraint("tenant_id", "rep_id", "period"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID))
    rep_id: Mapped[str] = mapped_column(String(EXT_ID))
    period: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # draft | approved | paid
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[str] = mapped_column(String(40))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    plans: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)  # plan versions used
    known_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the knowledge cut (the close)
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    generated_by: Mapped[str] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    paid_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
