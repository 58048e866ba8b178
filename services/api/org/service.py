"""The org chart: replace it whole (idempotently) or item by item; memberships over time.

A rep's team membership is history: moving a rep ends the old membership at
``effective_from`` (exclusive: the old team keeps the days before it) and opens a new one,
so facts from before the move keep counting for the old team. A rep's first team applies
to all their history (events are often imported before the org chart is loaded). Nothing
is deleted: teams and reps that leave the chart become inactive.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.org import repository as repo
from paceline.api.org.schemas import (
    MembershipOut,
    OrgChanges,
    OrgIn,
    OrgOut,
    RepIn,
    RepOut,
    TeamIn,
    TeamOut,
)
from paceline.shared.db.lifecycle import resolve_alerts
from paceline.shared.db.models import Rep, RepMembership, RepRoleSpan, Team
from paceline.shared.errors import Conflict, FieldError, InvalidInput, NotFound
from paceline.shared.i18n import msg

# The start of a rep's first membership when no effective date is given.
BEGINNING = date(1970, 1, 1)


def _team_out(t: Team) -> TeamOut:
    return TeamOut(id=t.id, name=t.name, parent_id=t.parent_id, active=t.active)


def _rep_out(r: Rep, ms: list[RepMembership], *, with_history: bool) -> RepOut:
    open_ms = next((m for m in reversed(ms) if m.valid_to is None), None)
    return RepOut(
        id=r.id,
        name=r.name,
        team_id=open_ms.team_id if open_ms else None,
        role=r.role,
        active=r.active,
        memberships=[
            MembershipOut(team_id=m.team_id, valid_from=m.valid_from, valid_to=m.valid_to)
            for m in ms
        ]
        if with_history
        else [],
    )


def validate_org(org: OrgIn) -> list[FieldError]:
    """Every problem in an org chart, each naming its field."""
    errors: list[FieldError] = []
    team_ids: dict[str, int] = {}
    for i, t in enumerate(org.teams):
        if t.id in team_ids:
            errors.append(
                FieldError(f"teams[{i}].id", msg("org.duplicate", field=f"teams[{team_ids[t.id]}]"))
            )
        team_ids.setdefault(t.id, i)
    parents = {t.id: t.parent_id for t in org.teams}
    for i, t in enumerate(org.teams):
        if t.parent_id is None:
            continue
        if t.parent_id == t.id:
            errors.append(FieldError(f"teams[{i}].parent_id", msg("org.team.own_parent")))
        elif t.parent_id not in parents:
            errors.append(
                FieldError(f"teams[{i}].parent_id", msg("org.team.unknown", team=repr(t.parent_id)))
            )
    for i, t in enumerate(org.teams):
        seen = {t.id}
        cur = parents.get(t.id)
        while cur is not None and cur in parents:
            if cur in seen:
                errors.append(FieldError(f"teams[{i}].parent_id", msg("org.team.cycle")))
                break
            seen.add(cur)
            cur = parents[cur]
    rep_ids: dict[str, int] = {}
    for i, r in enumerate(org.reps):
        if r.id in rep_ids:
            errors.append(
                FieldError(f"reps[{i}].id", msg("org.duplicate", field=f"reps[{rep_ids[r.id]}]"))
            )
        rep_ids.setdefault(r.id, i)
        if r.team_id is not None and r.team_id not in parents:
            errors.append(
                FieldError(f"reps[{i}].team_id", msg("org.team.unknown", team=repr(r.team_id)))
            )
    return errors


async def _set_team(
    session: AsyncSession,
    *,
    tenant_id: str,
    rep_id: str,
    team_id: str | None,
    history: list[RepMembership],
    effective_from: date | None,
    today: date,
) -> bool:
    """Move a rep to a team (or out of any) from a day on; True if anything changed."""
    open_ms = next((m for m in reversed(history) if m.valid_to is None), None)
    if open_ms is not None and open_ms.team_id == team_id:
        return False
    if open_ms is None and team_id is None:
        return False
    start = effective_from or (BEGINNING if not history else today)
    # From ``start`` on, the rep is only in the new team: memberships that begin on or
    # after it go (a back-dated correction replaces them), the one running over it ends.
    for m in list(history):
        if m.valid_from >= start:
            await repo.delete_membership(session, membership=m)
            history.remove(m)
        elif m.valid_to is None or m.valid_to > start:
            await repo.close_membership(session, membership_id=m.id, valid_to=start)
            m.valid_to = start
    if team_id is not None:
        m = RepMembership(tenant_id=tenant_id, rep_id=rep_id, team_id=team_id, valid_from=start)
        session.add(m)
        history.append(m)
    await session.flush()
    return True


async def _set_role(
    session: AsyncSession,
    *,
    tenant_id: str,
    rep_id: str,
    role: str | None,
    spans: list[RepRoleSpan],
    effective_from: date | None,
    today: date,
) -> None:
    """Record a rep's role from a day on (the first role applies to all history), so that
    incentive plans assigned by role follow a role change from its day."""
    open_span = next((s for s in reversed(spans) if s.valid_to is None), None)
    if open_span is not None and open_span.role == role:
        return
    start = effective_from or (BEGINNING if not spans else today)
    for span in list(spans):
        if span.valid_from >= start:
            await repo.delete_role_span(session, span=span)
        elif span.valid_to is None or span.valid_to > start:
            await repo.close_role_span(session, span_id=span.id, valid_to=start)
    session.add(RepRoleSpan(tenant_id=tenant_id, rep_id=rep_id, role=role, valid_from=start))
    await session.flush()


async def get_org(session: AsyncSession, *, tenant_id: str) -> OrgOut:
    """The current org chart."""
    ms: dict[str, list[RepMembership]] = defaultdict(list)
    for m in await repo.memberships(session, tenant_id=tenant_id):
        ms[m.rep_id].append(m)
    return OrgOut(
        teams=[_team_out(t) for t in await repo.teams(session, tenant_id=tenant_id)],
        reps=[
            _rep_out(r, ms[r.id], with_history=False)
            for r in await repo.reps(session, tenant_id=tenant_id)
        ],
    )


async def replace_org(
    session: AsyncSession, *, tenant_id: str, org: OrgIn, today: date, now: datetime
) -> OrgOut:
    """Make the stored org chart equal to ``org``; the same chart twice changes nothing."""
    errors = validate_org(org)
    if errors:
        raise InvalidInput(
            msg(
                "org.invalid",
                fields=[
                    msg("errors.field_reason", field=e.field, reason=e.reason) for e in errors[:3]
                ],
            ),
            fields=errors,
        )
    changes = OrgChanges()
    teams = {t.id: t for t in await repo.teams(session, tenant_id=tenant_id)}
    for t_in in org.teams:
        t = teams.get(t_in.id)
        if t is None:
            session.add(
                Team(
                    tenant_id=tenant_id,
                    id=t_in.id,
                    name=t_in.name,
                    parent_id=t_in.parent_id,
                    active=True,
                    updated_at=now,
                )
            )
            changes.teams_added += 1
        elif (t.name, t.parent_id, t.active) != (t_in.name, t_in.parent_id, True):
            t.name, t.parent_id, t.active, t.updated_at = t_in.name, t_in.parent_id, True, now
            changes.teams_updated += 1
    listed_teams = {t.id for t in org.teams}
    for t in teams.values():
        if t.id not in listed_teams and t.active:
            t.active, t.updated_at = False, now
            changes.teams_deactivated += 1

    reps = {r.id: r for r in await repo.reps(session, tenant_id=tenant_id)}
    ms: dict[str, list[RepMembership]] = defaultdict(list)
    for m in await repo.memberships(session, tenant_id=tenant_id):
        ms[m.rep_id].append(m)
    roles: dict[str, list[RepRoleSpan]] = defaultdict(list)
    for span in await repo.role_spans(session, tenant_id=tenant_id):
        roles[span.rep_id].append(span)
    for r_in in org.reps:
        r = reps.get(r_in.id)
        if r is None:
            session.add(
                Rep(
                    tenant_id=tenant_id,
                    id=r_in.id,
                    name=r_in.name,
                    role=r_in.role,
                    active=True,
                    updated_at=now,
                )
            )
            await session.flush()
            changes.reps_added += 1
        elif (r.name, r.role, r.active) != (r_in.name, r_in.role, True):
            r.name, r.role, r.active, r.updated_at = r_in.name, r_in.role, True, now
            changes.reps_updated += 1
        await _set_role(
            session,
            tenant_id=tenant_id,
            rep_id=r_in.id,
            role=r_in.role,
            spans=roles[r_in.id],
            effective_from=org.effective_from,
            today=today,
        )
        moved = await _set_team(
            session,
            tenant_id=tenant_id,
            rep_id=r_in.id,
            team_id=r_in.team_id,
            history=ms[r_in.id],
            effective_from=org.effective_from,
            today=today,
        )
        if moved and r is not None:
            changes.reps_moved += 1
    listed_reps = {r.id for r in org.reps}
    for r in reps.values():
        if r.id not in listed_reps and r.active:
            r.active, r.updated_at = False, now
            await _set_team(
                session,
                tenant_id=tenant_id,
                rep_id=r.id,
                team_id=None,
                history=ms[r.id],
                effective_from=org.effective_from,
                today=today,
            )
            changes.reps_deactivated += 1
    await session.flush()
    # Reps the org chart now names are no longer unknown.
    await resolve_alerts(
        session, tenant_id=tenant_id, dedup_keys=[f"unknown_rep:{r.id}" for r in org.reps], now=now
    )
    out = await get_org(session, tenant_id=tenant_id)
    out.changes = changes
    return out


async def list_teams(session: AsyncSession, *, tenant_id: str) -> list[TeamOut]:
    """All teams."""
    return [_team_out(t) for t in await repo.teams(session, tenant_id=tenant_id)]


async def get_team(session: AsyncSession, *, tenant_id: str, team_id: str) -> TeamOut:
    """One team, or 404."""
    team = await session.get(Team, (tenant_id, team_id))
    if team is None:
        raise NotFound(msg("org.team.not_found", team=repr(team_id)))
    return _team_out(team)


async def put_team(
    session: AsyncSession, *, tenant_id: str, team_id: str, team: TeamIn, now: datetime
) -> TeamOut:
    """Create or update one team."""
    if team.id != team_id:
        raise InvalidInput(
            msg("org.id_differs"),
            fields=[FieldError("id", msg("org.id_must_be", id=repr(team_id)))],
        )
    if team.parent_id is not None:
        known = {t.id: t.parent_id for t in await repo.teams(session, tenant_id=tenant_id)}
        if team.parent_id not in known:
            raise InvalidInput(
                msg("org.team.unknown_parent"),
                fields=[
                    FieldError("parent_id", msg("org.team.unknown", team=repr(team.parent_id)))
                ],
            )
        cur: str | None = team.parent_id
        while cur is not None:
            if cur == team_id:
                raise InvalidInput(
                    msg("org.team.would_cycle"),
                    fields=[FieldError("parent_id", msg("org.team.cycle"))],
                )
            cur = known.get(cur)
    row = await session.get(Team, (tenant_id, team_id))
    if row is None:
        row = Team(
            tenant_id=tenant_id,
            id=team_id,
            name=team.name,
            parent_id=team.parent_id,
            active=True,
            updated_at=now,
        )
        session.add(row)
    else:
        row.name, row.parent_id, row.active, row.updated_at = team.name, team.parent_id, True, now
    await session.flush()
    return _team_out(row)


async def deactivate_team(
    session: AsyncSession, *, tenant_id: str, team_id: str, now: datetime
) -> TeamOut:
    """Mark a team inactive; refused while active reps or teams are under it."""
    row = await session.get(Team, (tenant_id, team_id))
    if row is None:
        raise NotFound(msg("org.team.not_found", team=repr(team_id)))
    children = [
        t
        for t in await repo.teams(session, tenant_id=tenant_id)
        if t.parent_id == team_id and t.active
    ]
    members = [
        m
        for m in await repo.memberships(session, tenant_id=tenant_id)
        if m.team_id == team_id and m.valid_to is None
    ]
    if children or members:
        raise Conflict(msg("org.team.busy", team=row.name))
    row.active, row.updated_at = False, now
    await session.flush()
    return _team_out(row)


async def list_reps(session: AsyncSession, *, tenant_id: str) -> list[RepOut]:
    """All reps with their current team."""
    return (await get_org(session, tenant_id=tenant_id)).reps


async def get_rep(session: AsyncSession, *, tenant_id: str, rep_id: str) -> RepOut:
    """One rep with their membership history, or 404."""
    rep = await session.get(Rep, (tenant_id, rep_id))
    if rep is None:
        raise NotFound(msg("org.rep.not_found", rep=repr(rep_id)))
    ms = await repo.memberships(session, tenant_id=tenant_id, rep_ids=[rep_id])
    return _rep_out(rep, ms, with_history=True)


async def put_rep(
    session: AsyncSession,
    *,
    tenant_id: str,
    rep_id: str,
    rep: RepIn,
    effective_from: date | None,
    today: date,
    now: datetime,
) -> RepOut:
    """Create or update one rep; a new team applies from ``effective_from`` (default today)."""
    if rep.id != rep_id:
        raise InvalidInput(
            msg("org.id_differs"), fields=[FieldError("id", msg("org.id_must_be", id=repr(rep_id)))]
        )
    if rep.team_id is not None and await session.get(Team, (tenant_id, rep.team_id)) is None:
        raise InvalidInput(
            msg("org.rep.unknown_team"),
            fields=[FieldError("team_id", msg("org.team.unknown", team=repr(rep.team_id)))],
        )
    row = await session.get(Rep, (tenant_id, rep_id))
    if row is None:
        row = Rep(
            tenant_id=tenant_id,
            id=rep_id,
            name=rep.name,
            role=rep.role,
            active=True,
            updated_at=now,
        )
        session.add(row)
        await session.flush()
    else:
        row.name, row.role, row.active, row.updated_at = rep.name, rep.role, True, now
    await resolve_alerts(
        session, tenant_id=tenant_id, dedup_keys=[f"unknown_rep:{rep_id}"], now=now
    )
    await _set_role(
        session,
        tenant_id=tenant_id,
        rep_id=rep_id,
        role=rep.role,
        spans=await repo.role_spans(session, tenant_id=tenant_id, rep_ids=[rep_id]),
        effective_from=effective_from,
        today=today,
    )
    history = await repo.memberships(session, tenant_id=tenant_id, rep_ids=[rep_id])
    await _set_team(
        session,
        tenant_id=tenant_id,
        rep_id=rep_id,
        team_id=rep.team_id,
        history=history,
        effective_from=effective_from,
        today=today,
    )
    return _rep_out(row, history, with_history=True)


async def deactivate_rep(
    session: AsyncSession,
    *,
    tenant_id: str,
    rep_id: str,
    effective_from: date | None,
    today: date,
    now: datetime,
) -> RepOut:
    """Mark a rep inactive and end their team membership."""
    row = await session.get(Rep, (tenant_id, rep_id))
    if row is None:
        raise NotFound(msg("org.rep.not_found", rep=repr(rep_id)))
    row.active, row.updated_at = False, now
    history = await repo.memberships(session, tenant_id=tenant_id, rep_ids=[rep_id])
    await _set_team(
        session,
        tenant_id=tenant_id,
        rep_id=rep_id,
        team_id=None,
        history=history,
        effective_from=effective_from,
        today=today,
    )
    return _rep_out(row, history, with_history=True)
