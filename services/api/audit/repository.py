"""Audit log queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import AuditEntry


async def page(
    session: AsyncSession,
    *,
    tenant_id: str,
    before_id: int | None,
    limit: int,
    action: str | None,
    action_prefix: str | None,
    actor: str | None,
    target: str | None,
    start: datetime | None,
    end: datetime | None,
) -> list[AuditEntry]:
    """A tenant's entries, newest first, filtered."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.tenant_id == tenant_id)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    if action_prefix is not None:
        stmt = stmt.where(AuditEntry.action.startswith(action_prefix, autoescape=True))
    if actor is not None:
        stmt = stmt.where(AuditEntry.actor == actor)
    if target is not None:
        stmt = stmt.where(AuditEntry.target == target)
    if start is not None:
        stmt = stmt.where(AuditEntry.at >= start)
    if end is not None:
        stmt = stmt.where(AuditEntry.at < end)
    return list((await session.scalars(stmt)).all())
