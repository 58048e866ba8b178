"""SQL of the tenant's custom KPI definitions (built-ins live in code)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import KpiDefinitionRow


async def custom_rows(
    session: AsyncSession, *, tenant_id: str, with_inactive: bool
) -> list[KpiDefinitionRow]:
    """The tenant's custom KPIs (active ones unless ``with_inactive``), by key."""
    stmt = select(KpiDefinitionRow).where(KpiDefinitionRow.tenant_id == tenant_id)
    if not with_inactive:
        stmt = stmt.where(KpiDefinitionRow.active.is_(True))
    return list((await session.scalars(stmt.order_by(KpiDefinitionRow.key))).all())
