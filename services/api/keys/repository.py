"""API key queries (the hash is read by authentication in shared/db/tenants.py only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import ApiKey


async def get_key(session: AsyncSession, *, key_id: str, for_update: bool = False) -> ApiKey | None:
    """A key by id."""
    stmt = select(ApiKey).where(ApiKey.id == key_id)
    if for_update:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def page(
    session: AsyncSession,
    *,
    tenant_id: str,
    after: tuple[datetime, str] | None,
    limit: int,
    active_at: datetime | None,
) -> list[ApiKey]:
    """A tenant's keys by creation time (then id), after a cursor; only active ones if
    ``active_at`` is given."""
    stmt = (
        select(ApiKey)
        .where(ApiKey.tenant_id == tenant_id)
        .order_by(ApiKey.created_at, ApiKey.id)
        .limit(limit)
    )
    if after is not None:
        at, key_id = after
        stmt = stmt.where(
            or_(ApiKey.created_at > at, and_(ApiKey.created_at == at, ApiKey.id > key_id))
        )
    if active_at is not None:
        stmt = stmt.where(
            ApiKey.revoked_at.is_(None),
            or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > active_at),
        )
    return list((await session.scalars(stmt)).all())
