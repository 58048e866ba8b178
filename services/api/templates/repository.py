"""SQL of the tenant's own role templates (built-ins live in code)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import RoleTemplateRow


async def custom_rows(session: AsyncSession, *, tenant_id: str) -> list[RoleTemplateRow]:
    """The tenant's templates, by key."""
    rows = await session.scalars(
        select(RoleTemplateRow)
        .where(RoleTemplateRow.tenant_id == tenant_id)
        .order_by(RoleTemplateRow.key)
    )
    return list(rows.all())
