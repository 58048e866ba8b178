"""SQL for a tenant's calendar changes; every query is scoped by tenant."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import CalendarDay
from paceline.shared.db.upsert import insert_for


async def changes(
    session: AsyncSession, *, tenant_id: str, start: date, end: date
) -> list[CalendarDay]:
    """The tenant's changes to days in [start, end)."""
    rows = await session.scalars(
        select(CalendarDay)
        .where(CalendarDay.tenant_id == tenant_id, CalendarDay.day >= start, CalendarDay.day < end)
        .order_by(CalendarDay.day)
    )
    return list(rows.all())


async def change(session: AsyncSession, *, tenant_id: str, day: date) -> CalendarDay | None:
    """The tenant's change to one day, if any."""
    return await session.get(CalendarDay, (tenant_id, day))


async def put_change(
    session: AsyncSession, *, tenant_id: str, day: date, kind: str, name: str, now: datetime
) -> None:
    """Store the tenant's change to a day, replacing any earlier one."""
    insert = insert_for(session, CalendarDay)
    stmt = insert.values(tenant_id=tenant_id, day=day, kind=kind, name=name, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant_id", "day"],
        set_={"kind": kind, "name": name, "updated_at": now},
    )
    await session.execute(stmt)


async def delete_change(session: AsyncSession, *, tenant_id: str, day: date) -> bool:
    """Remove the tenant's change to a day; False if there was none."""
    result = await session.execute(
        delete(CalendarDay).where(CalendarDay.tenant_id == tenant_id, CalendarDay.day == day)
    )
    return bool(getattr(result, "rowcount", 0))
