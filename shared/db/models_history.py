"""Models of figures that hold still: the fact change log, month closes and adjustments.

* ``kpi_fact_changes`` / ``kpi_fact_member_changes``: every change the scoring service
  makes to a fact row (or a distinct member row), stamped with its **knowledge time**
  (``known_at``: when Paceline learned it, the receipt time of the event that caused it).
  The fact tables hold the sum of all changes; a read "as of T" subtracts the changes
  known after T (docs/KPIS.md, "As of a moment").
* ``period_closes``: each close (月结) and reopen of a month, with who, when and why.
* ``kpi_fact_adjustments``: a change that arrived for a closed month and was booked to the
  first open month instead (or restated in place), with its cause.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from paceline.shared.db.base import Base, BigId, UTCDateTime
from paceline.shared.db.models import EXT_ID, TENANT_ID


class FactChange(Base):
    """A change to one fact row, known from ``known_at`` on (value in 1/10,000 units)."""

    __tablename__ = "kpi_fact_changes"
    # "What changed after T" for one KPI: the read path of as-of queries.
    __table_args__ = (
        Index("ix_kpi_fact_changes_tenant_kpi_known", "tenant_id", "kpi", "known_at"),
    )

    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID), primary_key=True)
    kpi: Mapped[str] = mapped_column(String(64), primary_key=True)
    measure: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    rep_id: Mapped[str] = mapped_column(String(EXT_ID), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    known_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class FactMemberChange(Base):
    """A change to one distinct-member row's record count, known from ``known_at`` on."""

    __tablename__ = "kpi_fact_member_changes"
    __table_args__ = (
        Index("ix_kpi_fact_member_changes_tenant_kpi_known", "tenant_id", "kpi", "known_at"),
    )

    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID), primary_key=True)
    kpi: Mapped[str] = mapped_column(String(64), primary_key=True)
    measure: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    rep_id: Mapped[str] = mapped_column(String(EXT_ID), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    member: Mapped[str] = mapped_column(String(EXT_ID), primary_key=True)
    known_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class PeriodClose(Base):
    """One close of a month for a tenant; ``reopened_at`` ends it."""

    __tablename__ = "period_closes"
    __table_args__ = (Index("ix_period_closes_tenant_period", "tenant_id", "period"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID))
    period: Mapped[str] = mapped_column(String(16))  # a month key, e.g. 2026-11
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)  # exclusive
    policy: Mapped[str] = mapped_column(String(16))  # adjust | restate, at the close
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reopened_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reopen_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class FactAdjustment(Base):
    """A change to a closed month's figures, booked to ``booked_day`` (adjust) or restated.

    ``value``/``n`` are the change in 1/10,000 units and records; a distinct member's change
    (``member`` set) is listed but moves no count (distinct members do not add).
    """

    __tablename__ = "kpi_fact_adjustments"
    __table_args__ = (
        Index("ix_kpi_fact_adjustments_tenant_booked", "tenant_id", "booked_day"),
        Index("ix_kpi_fact_adjustments_tenant_source", "tenant_id", "source_day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID))
    kind: Mapped[str] = mapped_column(String(16))  # adjust | restate | frozen
    kpi: Mapped[str] = mapped_column(String(64))
    measure: Mapped[int] = mapped_column(SmallInteger)
    rep_id: Mapped[str] = mapped_column(String(EXT_ID))
    source_day: Mapped[date] = mapped_column(Date)
    source_period: Mapped[str] = mapped_column(String(16))
    booked_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    booked_period: Mapped[str | None] = mapped_column(String(16), nullable=True)
    member: Mapped[str | None] = mapped_column(String(EXT_ID), nullable=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    known_at: Mapped[datetime] = mapped_column(UTCDateTime)
    record_type: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[str] = mapped_column(String(EXT_ID))
    event_id: Mapped[str | None] = mapped_column(String(EXT_ID), nullable=True)
    source: Mapped[str | None] = mapped_column(String(64), nullable=True)
