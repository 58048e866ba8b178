"""SQL roll-ups of facts over days, reps and teams (membership as of each fact's day)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import ColumnElement, distinct, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Fact, FactMember, Rep, RepMembership, Team
from paceline.shared.kpi.values import MeasureTotal


def _scope_filter(
    model: type[Fact] | type[FactMember],
    *,
    tenant_id: str,
    rep_id: str | None,
    team_ids: Sequence[str] | None,
) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if rep_id is not None:
        conds.append(model.rep_id == rep_id)
    if team_ids is not None:
        m = RepMembership
        conds.append(
            exists().where(
                m.tenant_id == tenant_id,
                m.rep_id == model.rep_id,
                m.team_id.in_(list(team_ids)),
                m.valid_from <= model.day,
                or_(m.valid_to.is_(None), model.day < m.valid_to),
            )
        )
    return conds


async def measure_totals(
    session: AsyncSession,
    *,
    tenant_id: str,
    kpi: str,
    start: date,
    end: date,
    rep_id: str | None = None,
    team_ids: Sequence[str] | None = None,
    distinct_measures: Sequence[int] = (),
    pair_measures: Sequence[int] = (),
) -> dict[int, MeasureTotal]:
    """Totals per measure of a KPI for days in [start, end) and a scope.

    ``distinct_measures`` count distinct members across reps; ``pair_measures`` count
    distinct (rep, member) pairs (active rep-days).
    """
    out: dict[int, MeasureTotal] = {}
    base = [Fact.tenant_id == tenant_id, Fact.kpi == kpi, Fact.day >= start, Fact.day < end]
    stmt = (
        select(Fact.measure, func.sum(Fact.value), func.sum(Fact.n))
        .where(*base, *_scope_filter(Fact, tenant_id=tenant_id, rep_id=rep_id, team_ids=team_ids))
        .group_by(Fact.measure)
    )
    for measure, value, n in (await session.execute(stmt)).all():
        out[int(measure)] = MeasureTotal(units=int(value or 0), records=int(n or 0))
    mbase = [
        FactMember.tenant_id == tenant_id,
        FactMember.kpi == kpi,
        FactMember.day >= start,
        FactMember.day < end,
        FactMember.n > 0,
        *_scope_filter(FactMember, tenant_id=tenant_id, rep_id=rep_id, team_ids=team_ids),
    ]
    for index in distinct_measures:
        count = await session.scalar(
            select(func.count(distinct(FactMember.member))).where(
                *mbase, FactMember.measure == index
            )
        )
        out[index] = MeasureTotal(members=int(count or 0))
    for index in pair_measures:
        pairs = (
            select(FactMember.rep_id, FactMember.member)
            .where(*mbase, FactMember.measure == index)
            .distinct()
            .subquery()
        )
        count = await session.scalar(select(func.count()).select_from(pairs))
        out[index] = MeasureTotal(members=int(count or 0))
    return out


async def team_parents(session: AsyncSession, *, tenant_id: str) -> dict[str, str | None]:
    """Every team of a tenant and its parent."""
    rows = await session.execute(select(Team.id, Team.parent_id).where(Team.tenant_id == tenant_id))
    return {tid: parent for tid, parent in rows.all()}


async def reps_in_scope(
    session: AsyncSession,
    *,
    tenant_id: str,
    start: date,
    end: date,
    team_ids: Sequence[str] | None,
) -> list[tuple[str, date, date]]:
    """Reps and the part of [start, end) they spent in the scope: (rep, from, to)."""
    if team_ids is None:
        reps = await session.scalars(
            select(Rep.id).where(Rep.tenant_id == tenant_id, Rep.active.is_(True))
        )
        return [(r, start, end) for r in reps.all()]
    m = RepMembership
    rows = await session.execute(
        select(m.rep_id, m.valid_from, m.valid_to).where(
            m.tenant_id == tenant_id,
            m.team_id.in_(list(team_ids)),
            m.valid_from < end,
            or_(m.valid_to.is_(None), m.valid_to > start),
        )
    )
    out = []
    for rep, vf, vt in rows.all():
        lo = max(start, vf)
        hi = min(end, vt) if vt is not None else end
        if lo < hi:
            out.append((rep, lo, hi))
    return out


async def rep_exists(session: AsyncSession, *, tenant_id: str, rep_id: str) -> bool:
    """Whether the org chart knows a rep."""
    return (await session.get(Rep, (tenant_id, rep_id))) is not None


def subtree(parents: dict[str, str | None], root: str) -> list[str]:
    """A team and every team under it."""
    children: dict[str, list[str]] = {}
    for tid, parent in parents.items():
        if parent is not None:
            children.setdefault(parent, []).append(tid)
    out, stack = [], [root]
    seen: set[str] = set()
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen.add(t)
        out.append(t)
        stack.extend(children.get(t, []))
    return sorted(out)
