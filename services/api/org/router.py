"""Org chart routes: the whole chart at once, and teams and reps one by one."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.deps import TenantDep
from paceline.api.org import service
from paceline.api.org.schemas import OrgIn, OrgOut, RepIn, RepOut, TeamIn, TeamOut
from paceline.shared.errors import NotFound
from paceline.shared.web.deps import (
    AdminPrincipal,
    AuditDep,
    ReadPrincipal,
    ReadSessionDep,
    StateDep,
    WriteSessionDep,
)

router = APIRouter(prefix="/v1", tags=["org"])

TeamId = Annotated[str, Path(min_length=1, max_length=200)]
RepId = Annotated[str, Path(min_length=1, max_length=200)]
EffectiveFrom = Annotated[
    date | None,
    Query(
        description="First tenant-local day a team or role change applies (default today); "
        "incentive plans assigned by role follow the role from that day."
    ),
]


def _today(state: StateDep, tz: str) -> date:
    return state.clock.now().astimezone(ZoneInfo(tz)).date()


def _dump(value: BaseModel) -> dict[str, Any]:
    return value.model_dump(mode="json")


async def _team_or_none(
    session: AsyncSession, tenant_id: str, team_id: str
) -> dict[str, Any] | None:
    """The team as it is before a change (for the audit log)."""
    try:
        return _dump(await service.get_team(session, tenant_id=tenant_id, team_id=team_id))
    except NotFound:
        return None


async def _rep_or_none(session: AsyncSession, tenant_id: str, rep_id: str) -> dict[str, Any] | None:
    """The rep as they are before a change (for the audit log)."""
    try:
        return _dump(await service.get_rep(session, tenant_id=tenant_id, rep_id=rep_id))
    except NotFound:
        return None


@router.put("/org", response_model=OrgOut, summary="Replace the whole org chart (idempotent)")
async def put_org(
    org: OrgIn,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    tenant: TenantDep,
    audit: AuditDep,
) -> OrgOut:
    """Make the org chart equal to the body; teams and reps not listed become inactive."""
    before = await service.get_org(session, tenant_id=principal.tenant_id)
    out = await service.replace_org(
        session,
        tenant_id=principal.tenant_id,
        org=org,
        today=_today(state, tenant.timezone),
        now=state.clock.now(),
    )
    await audit.record("org.replace", target="org", before=_dump(before), after=_dump(out))
    return out


@router.get("/org", response_model=OrgOut, summary="The org chart")
async def get_org(principal: ReadPrincipal, session: ReadSessionDep) -> OrgOut:
    """Teams and reps with each rep's current team."""
    return await service.get_org(session, tenant_id=principal.tenant_id)


@router.get("/teams", response_model=list[TeamOut], summary="List teams")
async def list_teams(principal: ReadPrincipal, session: ReadSessionDep) -> list[TeamOut]:
    """All teams, active and inactive."""
    return await service.list_teams(session, tenant_id=principal.tenant_id)


@router.get("/teams/{team_id}", response_model=TeamOut, summary="Get a team")
async def get_team(team_id: TeamId, principal: ReadPrincipal, session: ReadSessionDep) -> TeamOut:
    """One team."""
    return await service.get_team(session, tenant_id=principal.tenant_id, team_id=team_id)


@router.put("/teams/{team_id}", response_model=TeamOut, summary="Create or update a team")
async def put_team(
    team_id: TeamId,
    team: TeamIn,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> TeamOut:
    """Create or update one team."""
    before = await _team_or_none(session, principal.tenant_id, team_id)
    out = await service.put_team(
        session, tenant_id=principal.tenant_id, team_id=team_id, team=team, now=state.clock.now()
    )
    await audit.record("teams.put", target=f"team:{team_id}", before=before, after=_dump(out))
    return out


@router.delete(
    "/teams/{team_id}",
    response_model=TeamOut,
    summary="Deactivate a team",
    responses={409: {"description": "The team still has active members or sub-teams"}},
)
async def delete_team(
    team_id: TeamId,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> TeamOut:
    """Mark a team inactive (its history stays)."""
    before = await _team_or_none(session, principal.tenant_id, team_id)
    out = await service.deactivate_team(
        session, tenant_id=principal.tenant_id, team_id=team_id, now=state.clock.now()
    )
    await audit.record(
        "teams.deactivate", target=f"team:{team_id}", before=before, after=_dump(out)
    )
    return out


@router.get("/reps", response_model=list[RepOut], summary="List reps")
async def list_reps(principal: ReadPrincipal, session: ReadSessionDep) -> list[RepOut]:
    """All reps with their current team."""
    return await service.list_reps(session, tenant_id=principal.tenant_id)


@router.get("/reps/{rep_id}", response_model=RepOut, summary="Get a rep and their team history")
async def get_rep(rep_id: RepId, principal: ReadPrincipal, session: ReadSessionDep) -> RepOut:
    """One rep with their memberships."""
    return await service.get_rep(session, tenant_id=principal.tenant_id, rep_id=rep_id)


@router.put("/reps/{rep_id}", response_model=RepOut, summary="Create or update a rep")
async def put_rep(
    rep_id: RepId,
    rep: RepIn,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    tenant: TenantDep,
    audit: AuditDep,
    effective_from: EffectiveFrom = None,
) -> RepOut:
    """Create or update one rep; a team or role change applies from ``effective_from``."""
    before = await _rep_or_none(session, principal.tenant_id, rep_id)
    out = await service.put_rep(
        session,
        tenant_id=principal.tenant_id,
        rep_id=rep_id,
        rep=rep,
        effective_from=effective_from,
        today=_today(state, tenant.timezone),
        now=state.clock.now(),
    )
    await audit.record("reps.put", target=f"rep:{rep_id}", before=before, after=_dump(out))
    return out


@router.delete("/reps/{rep_id}", response_model=RepOut, summary="Deactivate a rep")
async def delete_rep(
    rep_id: RepId,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    tenant: TenantDep,
    audit: AuditDep,
    effective_from: EffectiveFrom = None,
) -> RepOut:
    """Mark a rep inactive and end their team membership (their facts stay)."""
    before = await _rep_or_none(session, principal.tenant_id, rep_id)
    out = await service.deactivate_rep(
        session,
        tenant_id=principal.tenant_id,
        rep_id=rep_id,
        effective_from=effective_from,
        today=_today(state, tenant.timezone),
        now=state.clock.now(),
    )
    await audit.record("reps.deactivate", target=f"rep:{rep_id}", before=before, after=_dump(out))
    return out
