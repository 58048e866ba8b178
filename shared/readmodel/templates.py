"""Role templates as readers need them: the tenant's own first, then the built-ins."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import RoleTemplateRow
from paceline.shared.kpi.scorecards import BUILTIN_TEMPLATE_BY_KEY, RoleTemplate, TemplateItem

DEFAULT_TEMPLATE = "account_manager"  # a rep without a role (or an unknown one) is scored so


def template_from_row(row: RoleTemplateRow) -> RoleTemplate:
    """A stored custom template."""
    return RoleTemplate(
        row.key,
        row.name_zh,
        row.name_en,
        tuple(TemplateItem(i["kpi"], Decimal(str(i["weight"]))) for i in row.items),
        builtin=False,
    )


async def find_template(session: AsyncSession, *, tenant_id: str, key: str) -> RoleTemplate | None:
    """A template by key: the tenant's own first, then the built-ins."""
    row = await session.get(RoleTemplateRow, (tenant_id, key))
    if row is not None:
        return template_from_row(row)
    return BUILTIN_TEMPLATE_BY_KEY.get(key)
