"""SQL of incentive plans, assignments and statements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Rep, RepMembership, RepRoleSpan
from paceline.shared.db.models_incentives import (
    IncentiveAssignment,
    IncentivePlan,
    IncentivePlanVersion,
    IncentiveStatement,
)


async def get_plan(session: AsyncSession, *, tenant_id: str, key: str) -> IncentivePlan | None:
    """A plan by key."""
    return await session.get(IncentivePlan, (tenant_id, key))


async def plans(session: AsyncSession, *, tenant_id: str) -> list[IncentivePlan]:
    """The tenant's plans by key."""
    rows = await session.scalars(
        select(IncentivePlan)
        .where(IncentivePlan.tenant_id == tenant_id)
        .order_by(IncentivePlan.key)
    )
    return list(rows.all())


async def plan_versions(
    session: AsyncSession, *, tenant_id: str, key: str
) -> list[IncentivePlanVersion]:
    """Every version of a plan, oldest first."""
    rows = await session.scalars(
        select(IncentivePlanVersion)
        .where(IncentivePlanVersion.tenant_id == tenant_id, IncentivePlanVersion.plan_key == key)
        .order_by(IncentivePlanVersion.version)
    )
    return list(rows.all())


async def assignments(
    session: AsyncSession, *, tenant_id: str, plan: str | None = None, rep: str | None = None
) -> list[IncentiveAssignment]:
    """Assignments, optionally of one plan or rep, by plan and start."""
    a = IncentiveAssignment
    stmt = select(a).where(a.tenant_id == tenant_id)
    if plan is not None:
        stmt = stmt.where(a.plan_key == plan)
    if rep is not None:
        stmt = stmt.where(a.rep_id == rep)
    rows = await session.scalars(stmt.order_by(a.plan_key, a.valid_from, a.id))
    return list(rows.all())


async def get_assignment(
    session: AsyncSession, *, tenant_id: str, assignment_id: int
) -> IncentiveAssignment | None:
    """One assignment of the tenant."""
    return await session.scalar(
        select(IncentiveAssignment).where(
            IncentiveAssignment.tenant_id == tenant_id, IncentiveAssignment.id == assignment_id
        )
    )


async def reps_in(
    session: AsyncSession,
    *,
    tenant_id: str,
    team_ids: Sequence[str] | None,
    start: date,
    end: date,
) -> list[str]:
    """Reps of some teams on any day of [start, end), or the tenant's active reps."""
    if team_ids is None:
        rows = await session.scalars(
            select(Rep.id).where(Rep.tenant_id == tenant_id, Rep.active.is_(True)).order_by(Rep.id)
        )
        return list(rows.all())
    m = RepMembership
    found = await session.scalars(
        select(m.rep_id)
        .where(
            m.tenant_id == tenant_id,
            m.team_id.in_(list(team_ids)),
            m.valid_from < end,
            or_(m.valid_to.is_(None), m.valid_to > start),
        )
        .distinct()
    )
    return sorted(found.all())


async def reps_with_plans(
    session: AsyncSession, *, tenant_id: str, start: date, end: date
) -> list[str]:
    """Reps with a plan on any day of [start, end): assigned by id, or by a role they
    have or had on one of those days."""
    a = IncentiveAssignment
    rows = (
        await session.execute(
            select(a.rep_id, a.role).where(
                a.tenant_id == tenant_id,
                a.valid_from < end,
                or_(a.valid_to.is_(None), a.valid_to > start),
            )
        )
    ).all()
    reps = {rep for rep, _role in rows if rep is not None}
    roles = {role for rep, role in rows if rep is None and role is not None}
    if roles:
        found = await session.scalars(
            select(Rep.id).where(Rep.tenant_id == tenant_id, Rep.role.in_(sorted(roles)))
        )
        reps |= set(found.all())
        r = RepRoleSpan
        held = await session.scalars(
            select(r.rep_id).where(
                r.tenant_id == tenant_id,
                r.role.in_(sorted(roles)),
                r.valid_from < end,
                or_(r.valid_to.is_(None), r.valid_to > start),
            )
        )
        reps |= set(held.all())
    return sorted(reps)


async def statements(
    session: AsyncSession,
    *,
    tenant_id: str,
    period: str | None = None,
    rep: str | None = None,
    status: str | None = None,
) -> list[IncentiveStatement]:
    """Statements by month and rep."""
    s = IncentiveStatement
    stmt = select(s).where(s.tenant_id == tenant_id)
    if period is not None:
        stmt = stmt.where(s.period == period)
    if rep is not None:
        stmt = stmt.where(s.rep_id == rep)
    if status is not None:
        stmt = stmt.where(s.status == status)
    rows = await session.scalars(stmt.order_by(s.period, s.rep_id))
    return list(rows.all())


async def get_statement(
    session: AsyncSession, *, tenant_id: str, statement_id: int, for_update: bool = False
) -> IncentiveStatement | None:
    """One statement of the tenant (locked for a workflow step)."""
    stmt = select(IncentiveStatement).where(
        IncentiveStatement.tenant_id == tenant_id, IncentiveStatement.id == statement_id
    )
    if for_update:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)
