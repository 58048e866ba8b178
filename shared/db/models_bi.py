"""The progress snapshot the BI SQL views read (``paceline_bi.progress``, docs/BI.md).

Progress needs the work calendar, the target in force and the pace model, which SQL
cannot redo honestly; the scoring service evaluates it with the same read model as
``/v1/progress`` (:mod:`paceline.scoring.bi`) for every target of a current period of the
tenants that have BI logins, and replaces the tenant's rows here. Numbers are rounded as
the API shows them (4 places, half-even).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from paceline.shared.db.base import Base, BigId, UTCDateTime
from paceline.shared.db.models import TENANT_ID

NUMBER = Numeric(38, 4)


class BiProgress(Base):
    """One target of a current period as ``/v1/progress`` showed it at ``as_of``."""

    __tablename__ = "bi_progress"

    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID), primary_key=True)
    target_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    kpi: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(210))
    period: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    target_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    actual: Mapped[Decimal | None] = mapped_column(NUMBER, nullable=True)
    target: Mapped[Decimal | None] = mapped_column(NUMBER, nullable=True)
    baseline: Mapped[Decimal | None] = mapped_column(NUMBER, nullable=True)
    stretch: Mapped[Decimal | None] = mapped_column(NUMBER, nullable=True)
    expected: Mapped[Decimal | None] = mapped_column(NUMBER, nullable=True)
    pace: Mapped[Decimal | None] = mapped_column(NUMBER, nullable=True)
    projection_linear: Mapped[Decimal | None] = mapped_column(NUMBER, nullable=True)
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    sample: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    working_days_elapsed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    working_days_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
