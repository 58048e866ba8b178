"""Tenant queries for the operator's routes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.auth import PLATFORM_TENANT
from paceline.shared.db.models import ApiKey, Tenant


async def page(session: AsyncSession, *, after: str | None, limit: int) -> list[Tenant]:
    """Tenants in id order after ``after`` (the operator's own tenant left out)."""
    stmt = select(Tenant).where(Tenant.id != PLATFORM_TENANT).order_by(Tenant.id).limit(limit)
    if after is not None:
        stmt = stmt.where(Tenant.id > after)
    return list((await session.scalars(stmt)).all())


async def active_key_counts(
    session: AsyncSession, *, tenant_ids: list[str], now: datetime
) -> dict[str, int]:
    """Keys neither revoked nor expired, per tenant."""
    if not tenant_ids:
        return {}
    rows = await session.execute(
        select(ApiKey.tenant_id, func.count())
        .where(
            ApiKey.tenant_id.in_(tenant_ids),
            ApiKey.revoked_at.is_(None),
            or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
        )
        .group_by(ApiKey.tenant_id)
    )
    return {tenant_id: int(n) for tenant_id, n in rows.all()}
