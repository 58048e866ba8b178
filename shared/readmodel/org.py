"""The org chart over time: teams, sub-teams, reps and their memberships (SQL)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Rep, RepMembership, RepRoleSpan, Team
from paceline.shared.errors import NotFound
from paceline.shared.i18n import msg
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
        raise NotFound(msg("scopes.no_team", team=scope.id))
    return subtree(parents, scope.id)


async def require_known(session: AsyncSession, *, tenant_id: str, scope: Scope) -> None:
    """404 unless a team or rep scope names something in the org chart."""
    if scope.kind == "team":
        await team_ids(session, tenant_id=tenant_id, scope=scope)
    elif scope.kind == "rep":
        assert scope.id is not None
        if await session.get(Rep, (tenant_id, scope.id)) is None:
            raise NotFound(msg("scopes.no_rep", rep=scope.id))


async def rep_names(
    session: AsyncSession, *, tenant_id: str, rep_ids: Sequence[str]
) -> dict[str, str]:
    """The display names of reps (those in the org chart)."""
    rows = await session.execute(
        select(Rep.id, Rep.name).where(Rep.tenant_id == tenant_id, Rep.id.in_(list(rep_ids)))
    )
    return {rid: name for rid, name in rows.all()}


async def team_names(
    session: AsyncSession, *, tenant_id: str, team_ids: Collection[str]
) -> dict[str, str]:
    """The display names of teams (those in the org chart)."""
    if not team_ids:
        return {}
    rows = await session.execute(
        select(Team.id, Team.name).where(Team.tenant_id == tenant_id, Team.id.in_(list(team_ids)))
    )
    return {tid: name for tid, name in rows.all()}


async def rep_roles(
    session: AsyncSession, *, tenant_id: str, rep_ids: Sequence[str]
) -> dict[str, str | None]:
    """The roles of reps (those in the org chart; a role names a scorecard template)."""
    rows = await session.execute(
        select(Rep.id, Rep.role).where(Rep.tenant_id == tenant_id, Rep.id.in_(list(rep_ids)))
    )
    return {rid: role for rid, role in rows.all()}


async def active_team_parents(session: AsyncSession, *, tenant_id: str) -> dict[str, str | None]:
    """The tenant's active teams and their parents."""
    rows = await session.execute(
        select(Team.id, Team.parent_id).where(Team.tenant_id == tenant_id, Team.active.is_(True))
    )
    return {tid: parent for tid, parent in rows.all()}


async def active_rep_ids(session: AsyncSession, *, tenant_id: str) -> set[str]:
    """The ids of the tenant's active reps."""
    rows = await session.scalars(
        select(Rep.id).where(Rep.tenant_id == tenant_id, Rep.active.is_(True))
    )
    return set(rows.all())


async def memberships(session: AsyncSession, *, tenant_id: str) -> list[RepMembership]:
    """Every team membership of the tenant's reps, by rep and start."""
    rows = await session.scalars(
        select(RepMembership)
        .where(RepMembership.tenant_id == tenant_id)
        .order_by(RepMembership.rep_id, RepMembership.valid_from)
    )
    return list(rows.all())


async def role_history(
    session: AsyncSession, *, tenant_id: str, rep_ids: Sequence[str]
) -> dict[str, list[tuple[str | None, date, date | None]]]:
    """Each rep's roles over time: (role, from, to exclusive or None), oldest first."""
    rows = await session.execute(
        select(RepRoleSpan.rep_id, RepRoleSpan.role, RepRoleSpan.valid_from, RepRoleSpan.valid_to)
        .where(RepRoleSpan.tenant_id == tenant_id, RepRoleSpan.rep_id.in_(list(rep_ids)))
        .order_by(RepRoleSpan.rep_id, RepRoleSpan.valid_from, RepRoleSpan.id)
    )
    out: dict[str, list[tuple[str | None, date, date | None]]] = {}
    for rep, role, lo, hi in rows.all():
        out.setdefault(rep, []).append((role, lo, hi))
    return out
