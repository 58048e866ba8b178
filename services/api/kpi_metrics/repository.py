"""Reads of the KPI exporter: the company and team targets of some periods, team names."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Target


async def company_and_team_targets(
    session: AsyncSession, *, tenant_id: str, periods: Sequence[str]
) -> list[Target]:
    """The tenant's targets of any of ``periods`` whose scope is the company or a team."""
    if not periods:
        return []
    stmt = select(Target).where(
        Target.tenant_id == tenant_id,
        Target.period.in_(list(periods)),
        or_(Target.scope == "company", Target.scope.startswith("team:", autoescape=True)),
    )
    return list((await session.scalars(stmt.order_by(Target.id))).all())
