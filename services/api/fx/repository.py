"""SQL for a tenant's exchange rates; every query is scoped by tenant."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import FxRate
from paceline.shared.db.upsert import insert_for

# Rows per executemany batch (the driver batches them; this bounds memory per call).
_CHUNK = 5_000


async def list_rates(
    session: AsyncSession,
    *,
    tenant_id: str,
    currency: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[FxRate]:
    """A tenant's rates, by currency and day; ``end`` is exclusive."""
    stmt = select(FxRate).where(FxRate.tenant_id == tenant_id)
    if currency is not None:
        stmt = stmt.where(FxRate.currency == currency)
    if start is not None:
        stmt = stmt.where(FxRate.day >= start)
    if end is not None:
        stmt = stmt.where(FxRate.day < end)
    rows = await session.scalars(stmt.order_by(FxRate.currency, FxRate.day))
    return list(rows.all())


async def stored_rates(
    session: AsyncSession, *, tenant_id: str, currencies: Collection[str], start: date, end: date
) -> dict[tuple[str, date], str]:
    """The stored rate text of some currencies on days in [start, end]."""
    rows = await session.execute(
        select(FxRate.currency, FxRate.day, FxRate.rate).where(
            FxRate.tenant_id == tenant_id,
            FxRate.currency.in_(sorted(currencies)),
            FxRate.day >= start,
            FxRate.day <= end,
        )
    )
    return {(c, d): r for c, d, r in rows.all()}


async def upsert_rates(
    session: AsyncSession,
    *,
    tenant_id: str,
    rates: Sequence[tuple[str, date, str]],
    now: datetime,
) -> None:
    """Insert rates, replacing any stored for the same currency and day."""
    insert = insert_for(session, FxRate)
    stmt = insert.on_conflict_do_update(
        index_elements=["tenant_id", "currency", "day"],
        set_={"rate": insert.excluded.rate, "updated_at": insert.excluded.updated_at},
    )
    for i in range(0, len(rates), _CHUNK):
        await session.execute(
            stmt,
            [
                {"tenant_id": tenant_id, "currency": c, "day": d, "rate": r, "updated_at": now}
                for c, d, r in rates[i : i + _CHUNK]
            ],
        )


async def delete_rate(session: AsyncSession, *, tenant_id: str, currency: str, day: date) -> bool:
    """Remove one rate; False if there was none."""
    result = await session.execute(
        delete(FxRate).where(
            FxRate.tenant_id == tenant_id, FxRate.currency == currency, FxRate.day == day
        )
    )
    return bool(getattr(result, "rowcount", 0))
