"""SQL of month closes and adjustments."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models_history import FactAdjustment, PeriodClose


async def closes(session: AsyncSession, *, tenant_id: str) -> list[PeriodClose]:
    """Every close of a tenant, newest first."""
    rows = await session.scalars(
        select(PeriodClose)
        .where(PeriodClose.tenant_id == tenant_id)
        .order_by(PeriodClose.closed_at.desc(), PeriodClose.id.desc())
    )
    return list(rows.all())


async def open_close(session: AsyncSession, *, tenant_id: str, period: str) -> PeriodClose | None:
    """The close of ``period`` in force (not reopened), if any."""
    return await session.scalar(
        select(PeriodClose).where(
            PeriodClose.tenant_id == tenant_id,
            PeriodClose.period == period,
            PeriodClose.reopened_at.is_(None),
        )
    )


async def add_close(session: AsyncSession, row: PeriodClose) -> PeriodClose:
    """Store a new close."""
    session.add(row)
    await session.flush()
    return row


async def adjustments(
    session: AsyncSession,
    *,
    tenant_id: str,
    booked_period: str | None,
    source_period: str | None,
    kpi: str | None,
    rep_ids: Sequence[str] | None,
    after_id: int | None,
    limit: int,
) -> list[FactAdjustment]:
    """A page of adjustments in id order, filtered."""
    a = FactAdjustment
    stmt = select(a).where(a.tenant_id == tenant_id)
    if booked_period is not None:
        stmt = stmt.where(a.booked_period == booked_period)
    if source_period is not None:
        stmt = stmt.where(a.source_period == source_period)
    if kpi is not None:
        stmt = stmt.where(a.kpi == kpi)
    if rep_ids is not None:
        stmt = stmt.where(a.rep_id.in_(list(rep_ids)))
    if after_id is not None:
        stmt = stmt.where(a.id > after_id)
    return list((await session.scalars(stmt.order_by(a.id).limit(limit))).all())
