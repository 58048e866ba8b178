"""SQL of the weekly and month-end digests (always scoped by tenant)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Alert
from paceline.shared.db.models_alerts import AlertEvent, Digest


async def exists(
    session: AsyncSession, *, tenant_id: str, team_id: str, kind: str, period: str
) -> bool:
    """Whether the team's digest of this kind and period was made."""
    found = await session.scalar(
        select(Digest.id).where(
            Digest.tenant_id == tenant_id,
            Digest.team_id == team_id,
            Digest.kind == kind,
            Digest.period == period,
        )
    )
    return found is not None


async def latest(
    session: AsyncSession, *, tenant_id: str, team_id: str, kind: str
) -> Digest | None:
    """The team's newest digest of this kind."""
    return await session.scalar(
        select(Digest)
        .where(Digest.tenant_id == tenant_id, Digest.team_id == team_id, Digest.kind == kind)
        .order_by(Digest.created_at.desc(), Digest.id.desc())
        .limit(1)
    )


async def alert_actions(
    session: AsyncSession,
    *,
    tenant_id: str,
    scopes: Collection[str],
    after: datetime,
    until: datetime,
) -> list[tuple[int, str]]:
    """(alert id, action) of the lifecycle steps of alerts on ``scopes`` in (after, until]."""
    rows = await session.execute(
        select(AlertEvent.alert_id, AlertEvent.action)
        .join(Alert, Alert.id == AlertEvent.alert_id)
        .where(
            AlertEvent.tenant_id == tenant_id,
            AlertEvent.at > after,
            AlertEvent.at <= until,
            Alert.scope.in_(sorted(scopes)),
        )
    )
    return [(int(a), str(action)) for a, action in rows.all()]
