"""The org chart over time: teams, sub-teams, reps and their memberships (SQL)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Rep, Team
from paceline.shared.errors import NotFound
from paceline.shared.readmodel.scopes import Scope, subtree


async def team_parents(session: AsyncSession, *, tenant_id: str) -> dict[str, str | None]:
    """Every team of a tenant and its parent."""
    rows = await session.execute(select(Team.id, Team.parent_id).where(Team.tenant_id == tenant_id))
    return {tid: parent for tid, parent in rows.all()}


async def team_ids(session: AsyncSession, *, tenant_id: str, scope: Scope) -> list[str] | None:
    """The teams a team scope covers (None for company and rep scopes); 404 if unknown."""
    if scope.kind != "team":
        return None
    assert scope.id is not None
    parents = await team_parents(session, tenant_id=tenant_id)
    if scope.id not in parents:
        raise NotFound(f"no team {scope.id!r}")
    return subtree(parents, scope.id)


async def require_known(session: AsyncSession, *, tenant_id: str, scope: Scope) -> None:
    """404 unless a team or rep scope names something in the org chart."""
    if scope.kind == "team":
        await team_ids(session, tenant_id=tenant_id, scope=scope)
    elif scope.kind == "rep":
        assert scope.id is not None
        if await session.get(Rep, (tenant_id, scope.id)) is None:
            raise NotFound(f"no rep {scope.id!r} in the org chart")
