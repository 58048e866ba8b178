"""The dashboard's own reads: what tells it that something changed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Alert, ConsumerOffset, Job, Target, TargetVersion
from paceline.shared.db.models_history import PeriodClose


async def change_marks(
    session: AsyncSession, *, tenant_id: str, group_id: str, topic: str
) -> tuple[Any, ...]:
    """Small aggregates that move whenever facts, alerts, targets, rebuilds or month
    closes change.

    Facts: the scoring group's stored log positions (they advance in the transaction that
    writes the facts). The rest are per tenant.
    """
    applied = await session.scalar(
        select(func.coalesce(func.sum(ConsumerOffset.next_offset), 0)).where(
            ConsumerOffset.group_id == group_id, ConsumerOffset.topic == topic
        )
    )
    alerts = (
        await session.execute(
            select(
                func.count(),
                func.max(Alert.last_seen_at),
                func.max(Alert.acknowledged_at),
                func.max(Alert.resolved_at),
            ).where(Alert.tenant_id == tenant_id)
        )
    ).one()
    versions = (
        await session.execute(
            select(func.count(), func.max(TargetVersion.recorded_at)).where(
                TargetVersion.tenant_id == tenant_id
            )
        )
    ).one()
    acknowledged = await session.scalar(
        select(func.max(Target.acknowledged_at)).where(Target.tenant_id == tenant_id)
    )
    rebuilt = await session.scalar(
        select(func.max(Job.finished_at)).where(Job.tenant_id == tenant_id)
    )
    closes = (
        await session.execute(
            select(
                func.count(), func.max(PeriodClose.closed_at), func.max(PeriodClose.reopened_at)
            ).where(PeriodClose.tenant_id == tenant_id)
        )
    ).one()
    return (applied, *alerts, *versions, acknowledged, rebuilt, *closes)
