"""SQL roll-ups of facts over days, reps and teams (membership as of each fact's day)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import ColumnElement, and_, distinct, exists, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Fact, FactMember, Rep, RepMembership
from paceline.shared.kpi.values import MeasureTotal


def _scope_filter(
    model: type[Fact] | type[FactMember],
    *,
    tenant_id: str,
    rep_id: str | None,
    team_ids: Sequence[str] | None,
    spans: Sequence[tuple[str, date, date]] | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[ColumnElement[bool]]:
    """Conditions that keep a scope's facts.

    A team scope with its membership ``spans`` (rep, from, to) already known becomes
    ``rep_id IN (whole-span reps) OR (rep_id = r AND day in its part)``, which both
    databases answer from the primary key; without spans it is a correlated ``EXISTS``
    over the memberships.
    """
    conds: list[ColumnElement[bool]] = []
    if rep_id is not None:
        conds.append(model.rep_id == rep_id)
    if team_ids is not None and spans is not None:
        whole = sorted({r for r, lo, hi in spans if lo <= start and hi >= end})  # type: ignore[operator]
        parts = [(r, lo, hi) for r, lo, hi in spans if r not in whole]
        ors: list[ColumnElement[bool]] = []
        if whole:
            ors.append(model.rep_id.in_(whole))
        ors += [and_(model.rep_id == r, model.day >= lo, model.day < hi) for r, lo, hi in parts]
        conds.append(or_(*ors) if ors else false())
    elif team_ids is not None:
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
    value_measures: Sequence[int] | None = None,
    distinct_measures: Sequence[int] = (),
    pair_measures: Sequence[int] = (),
    pair_days: Sequence[date] | None = None,
) -> dict[int, MeasureTotal]:
    """Totals per measure of a KPI for days in [start, end) and a scope.

    ``value_measures`` (sums and counts) narrow the fact query to those measures, so the
    primary key (tenant, kpi, measure, rep, day) serves rep scopes directly.

    ``distinct_measures`` count distinct members across reps; ``pair_measures`` count
    distinct (rep, member) pairs (active rep-days), only on ``pair_days`` when given (the
    working days: activity on a weekend does not make a working day active).
    """
    out: dict[int, MeasureTotal] = {}
    # Team scopes: PostgreSQL plans the membership EXISTS as a hash semi-join (fast);
    # SQLite runs it row by row, so there the membership spans become key lookups
    # (bench/reads.py measured both ways).
    spans = (
        await reps_in_scope(session, tenant_id=tenant_id, start=start, end=end, team_ids=team_ids)
        if team_ids is not None and session.get_bind().dialect.name == "sqlite"
        else None
    )
    scope = {
        "tenant_id": tenant_id,
        "rep_id": rep_id,
        "team_ids": team_ids,
        "spans": spans,
        "start": start,
        "end": end,
    }
    if value_measures is None or value_measures:
        base = [Fact.tenant_id == tenant_id, Fact.kpi == kpi, Fact.day >= start, Fact.day < end]
        if value_measures is not None:
            base.append(Fact.measure.in_(list(value_measures)))
        stmt = (
            select(Fact.measure, func.sum(Fact.value), func.sum(Fact.n))
            .where(*base, *_scope_filter(Fact, **scope))  # type: ignore[arg-type]
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
        *_scope_filter(FactMember, **scope),  # type: ignore[arg-type]
    ]
    for index in distinct_measures:
        count = await session.scalar(
            select(func.count(distinct(FactMember.member))).where(
                *mbase, FactMember.measure == index
            )
        )
        out[index] = MeasureTotal(members=int(count or 0))
    for index in pair_measures:
        day_filter = (
            [FactMember.member.in_([d.isoformat() for d in pair_days])]
            if pair_days is not None
            else []
        )
        pairs = (
            select(FactMember.rep_id, FactMember.member)
            .where(*mbase, FactMember.measure == index, *day_filter)
            .distinct()
            .subquery()
        )
        count = await session.scalar(select(func.count()).select_from(pairs))
        out[index] = MeasureTotal(members=int(count or 0))
    return out


async def reps_in_scope(
    session: AsyncSession,
    *,
    tenant_id: str,
    start: date,
    end: date,
    team_ids: Sequence[str] | None,
    kpi: str | None = None,
) -> list[tuple[str, date, date]]:
    """Reps and the part of [start, end) they spent in the scope: (rep, from, to).

    For the company: the active reps of the org chart, and any other rep with facts of
    ``kpi`` in the span (unknown or since deactivated reps count too, for the whole span).
    For a team: its members, for the days of their membership.
    """
    if team_ids is None:
        reps = set(
            (
                await session.scalars(
                    select(Rep.id).where(Rep.tenant_id == tenant_id, Rep.active.is_(True))
                )
            ).all()
        )
        if kpi is not None:
            reps |= set(
                (
                    await session.scalars(
                        select(FactMember.rep_id)
                        .where(
                            FactMember.tenant_id == tenant_id,
                            FactMember.kpi == kpi,
                            FactMember.day >= start,
                            FactMember.day < end,
                            FactMember.n > 0,
                        )
                        .distinct()
                    )
                ).all()
            )
        return [(r, start, end) for r in sorted(reps)]
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


async def daily_units(
    session: AsyncSession,
    *,
    tenant_id: str,
    kpi: str,
    measure: int,
    start: date,
    end: date,
    rep_id: str | None = None,
    team_ids: Sequence[str] | None = None,
) -> dict[date, int]:
    """A measure's units per day over [start, end) for a scope."""
    stmt = (
        select(Fact.day, func.sum(Fact.value))
        .where(
            Fact.tenant_id == tenant_id,
            Fact.kpi == kpi,
            Fact.measure == measure,
            Fact.day >= start,
            Fact.day < end,
            *_scope_filter(Fact, tenant_id=tenant_id, rep_id=rep_id, team_ids=team_ids),
        )
        .group_by(Fact.day)
    )
    return {d: int(v or 0) for d, v in (await session.execute(stmt)).all()}


async def totals_by_rep(
    session: AsyncSession,
    *,
    tenant_id: str,
    kpi: str,
    start: date,
    end: date,
    rep_ids: Sequence[str],
    value_measures: Sequence[int] | None = None,
    distinct_measures: Sequence[int] = (),
    pair_measures: Sequence[int] = (),
    pair_days: Sequence[date] | None = None,
) -> dict[str, dict[int, MeasureTotal]]:
    """Measure totals per rep (one query per table, for leaderboards and scorecards)."""
    out: dict[str, dict[int, MeasureTotal]] = {r: {} for r in rep_ids}
    if not rep_ids:
        return out
    reps = list(rep_ids)
    measures = [Fact.measure.in_(list(value_measures))] if value_measures is not None else []
    stmt = (
        select(Fact.rep_id, Fact.measure, func.sum(Fact.value), func.sum(Fact.n))
        .where(
            Fact.tenant_id == tenant_id,
            Fact.kpi == kpi,
            *measures,
            Fact.day >= start,
            Fact.day < end,
            Fact.rep_id.in_(reps),
        )
        .group_by(Fact.rep_id, Fact.measure)
    )
    for rep, measure, value, n in (await session.execute(stmt)).all():
        out[rep][int(measure)] = MeasureTotal(units=int(value or 0), records=int(n or 0))
    for index in [*distinct_measures, *pair_measures]:
        only_days = (
            [FactMember.member.in_([d.isoformat() for d in pair_days])]
            if index in pair_measures and pair_days is not None
            else []
        )
        mstmt = (
            select(FactMember.rep_id, func.count(distinct(FactMember.member)))
            .where(
                FactMember.tenant_id == tenant_id,
                FactMember.kpi == kpi,
                FactMember.day >= start,
                FactMember.day < end,
                FactMember.n > 0,
                FactMember.measure == index,
                FactMember.rep_id.in_(reps),
                *only_days,
            )
            .group_by(FactMember.rep_id)
        )
        for rep, count in (await session.execute(mstmt)).all():
            out[rep][index] = MeasureTotal(members=int(count or 0))
    return out
