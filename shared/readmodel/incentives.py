"""SQL of incentives for the read model: plan versions in force, assignments, team
memberships on a day, adjustments booked into a month."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import RepMembership
from paceline.shared.db.models_history import FactAdjustment
from paceline.shared.db.models_incentives import (
    IncentiveAssignment,
    IncentivePlanVersion,
)
from paceline.shared.kpi.incentives.plans import PlanBody


@dataclass(frozen=True, slots=True)
class PlanInForce:
    """A plan's version in force at a moment."""

    key: str
    version: int
    body: PlanBody


async def plans_in_force(
    session: AsyncSession, *, tenant_id: str, at: datetime
) -> dict[str, PlanInForce]:
    """Every plan's version in force at ``at`` (plans created later are absent)."""
    rows = await session.scalars(
        select(IncentivePlanVersion)
        .where(
            IncentivePlanVersion.tenant_id == tenant_id,
            IncentivePlanVersion.recorded_at <= at,
        )
        .order_by(IncentivePlanVersion.plan_key, IncentivePlanVersion.version)
    )
    out: dict[str, PlanInForce] = {}
    for v in rows:  # ascending versions: the last one wins
        out[v.plan_key] = PlanInForce(v.plan_key, v.version, PlanBody.model_validate(v.body))
    return out


async def assignments_in(
    session: AsyncSession,
    *,
    tenant_id: str,
    start: date,
    end: date,
    known: datetime | None = None,
) -> list[IncentiveAssignment]:
    """The assignments that cover any day of [start, end) (made by ``known``, if given)."""
    a = IncentiveAssignment
    conds = [a.tenant_id == tenant_id, a.valid_from < end]
    if known is not None:
        conds.append(a.created_at <= known)
    rows = await session.scalars(
        select(a).where(*conds, or_(a.valid_to.is_(None), a.valid_to > start)).order_by(a.id)
    )
    return list(rows.all())


async def teams_on(
    session: AsyncSession, *, tenant_id: str, reps: Sequence[str], day: date
) -> dict[str, str]:
    """Each rep's team on ``day`` (the last membership begun by then)."""
    m = RepMembership
    rows = await session.execute(
        select(m.rep_id, m.team_id, m.valid_from)
        .where(
            m.tenant_id == tenant_id,
            m.rep_id.in_(list(reps)),
            m.valid_from <= day,
            or_(m.valid_to.is_(None), m.valid_to > day),
        )
        .order_by(m.valid_from)
    )
    return {rep: team for rep, team, _vf in rows.all()}


async def team_members(
    session: AsyncSession, *, tenant_id: str, teams: Sequence[str], start: date, end: date
) -> dict[str, set[str]]:
    """The reps of each team on any day of [start, end)."""
    m = RepMembership
    rows = await session.execute(
        select(m.team_id, m.rep_id).where(
            m.tenant_id == tenant_id,
            m.team_id.in_(list(teams)),
            m.valid_from < end,
            or_(m.valid_to.is_(None), m.valid_to > start),
        )
    )
    out: dict[str, set[str]] = defaultdict(set)
    for team, rep in rows.all():
        out[team].add(rep)
    return out


async def adjustments_booked(
    session: AsyncSession,
    *,
    tenant_id: str,
    kpi: str,
    reps: Sequence[str],
    start: date,
    end: date,
    known: datetime | None,
) -> list[tuple[str, str, date, int, int]]:
    """Adjustments of a KPI booked into [start, end): (rep, source month, booked day,
    units, count)."""
    a = FactAdjustment
    conds = [
        a.tenant_id == tenant_id,
        a.kpi == kpi,
        a.kind == "adjust",
        a.measure == 0,
        a.booked_day >= start,
        a.booked_day < end,
        a.rep_id.in_(list(reps)),
    ]
    if known is not None:
        conds.append(a.known_at <= known)
    rows = await session.execute(
        select(a.rep_id, a.source_period, a.booked_day, func.sum(a.value), func.count())
        .where(*conds)
        .group_by(a.rep_id, a.source_period, a.booked_day)
    )
    return [(r, s, d, int(v or 0), int(n or 0)) for r, s, d, v, n in rows.all() if d is not None]
