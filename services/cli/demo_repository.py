"""SQL of the demo company's seeding (always scoped by tenant)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import ConsumerOffset, Event, Target


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


async def stored_offsets(session: AsyncSession, *, group_id: str, topic: str) -> dict[int, int]:
    """The next offset scoring will read, per partition, as stored with the facts."""
    rows = await session.execute(
        select(ConsumerOffset.partition, ConsumerOffset.next_offset).where(
            ConsumerOffset.group_id == group_id, ConsumerOffset.topic == topic
        )
    )
    return {int(p): int(o) for p, o in rows.all()}


async def has_targets(session: AsyncSession, *, tenant_id: str, period: str) -> bool:
    """Whether any target of the period exists."""
    found = await session.scalar(
        select(func.count()).where(Target.tenant_id == tenant_id, Target.period == period)
    )
    return bool(found)
