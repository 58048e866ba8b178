"""SQL of the demo company's seeding (always scoped by tenant)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Event


async def watermark(
    session: AsyncSession, *, tenant_id: str, sources: Sequence[str]
) -> tuple[datetime | None, set[str]]:
    """The newest event time stored for these sources, and the ids stored at that time."""
    last = await session.scalar(
        select(func.max(Event.occurred_at)).where(
            Event.tenant_id == tenant_id, Event.source.in_(sources)
        )
    )
    if last is None:
        return None, set()
    ids = await session.scalars(
        select(Event.event_id).where(
            Event.tenant_id == tenant_id,
            Event.source.in_(sources),
            Event.occurred_at == last,
        )
    )
    return last, set(ids)
