"""SQL roll-ups of facts over days, reps and teams (membership as of each fact's day).

Every roll-up takes ``known``: None reads the facts as they are now; a knowledge time T
reads them as Paceline knew them at T — the fact rows minus the changes known after T
(``kpi_fact_changes``; docs/KPIS.md, "As of a moment"). Reads without ``known`` are the
same statements as before the change log existed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    distinct,
    exists,
    false,
    func,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Fact, FactMember, Rep, RepMembership
from paceline.shared.db.models_history import FactAdjustment, FactChange, FactMemberChange
from paceline.shared.kpi.values import MeasureTotal


def _scope_filter(
    model: Any,
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
        conds.append(_in_teams(tenant_id, team_ids, rep=model.rep_id, day=model.day))
    return conds


def _in_teams(tenant_id: str, team_ids: Sequence[str], *, rep: Any, day: Any) -> Any:
    """``EXISTS`` a membership of ``rep`` in one of the teams on ``day`` (SQL columns)."""
    m = RepMembership
    return exists().where(
        m.tenant_id == tenant_id,
        m.rep_id == rep,
        m.team_id.in_(list(team_ids)),
        m.valid_from <= day,
        or_(m.valid_to.is_(None), day < m.valid_to),
    )


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
    known: datetime | None = None,
) -> dict[int, MeasureTotal]:
    """Totals per measure of a KPI for days in [start, end) and a scope (as known at
    ``known``, or now).

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
        sums = await _value_sums(
            session,
            group=(),
            tenant_id=tenant_id,
            kpi=kpi,
            start=start,
            end=end,
            measures=value_measures,
            scope=scope,
            known=known,
        )
        for (measure,), (value, n) in sums.items():
            out[measure] = MeasureTotal(units=value, records=n)
    for index in distinct_measures:
        live = _live_members(
            tenant_id=tenant_id,
            kpi=kpi,
            start=start,
            end=end,
            measure=index,
            scope=scope,
            known=known,
        )
        count = await session.scalar(select(func.count(distinct(live[0].member))).where(*live[1]))
        out[index] = MeasureTotal(members=int(count or 0))
    for index in pair_measures:
        live = _live_members(
            tenant_id=tenant_id,
            kpi=kpi,
            start=start,
            end=end,
            measure=index,
            scope=scope,
            known=known,
            days=pair_days,
        )
        pairs = select(live[0].rep_id, live[0].member).where(*live[1]).distinct().subquery()
        count = await session.scalar(select(func.count()).select_from(pairs))
        out[index] = MeasureTotal(members=int(count or 0))
    return out


async def _value_sums(
    session: AsyncSession,
    *,
    group: Sequence[str],
    tenant_id: str,
    kpi: str,
    start: date,
    end: date,
    measures: Sequence[int] | None,
    scope: dict[str, Any],
    known: datetime | None,
    extra: Sequence[Any] = (),
) -> dict[tuple[Any, ...], tuple[int, int]]:
    """Sums of value and record count per ``group`` columns + measure (as known at
    ``known``): the fact rows, minus the changes known after it."""
    out: dict[tuple[Any, ...], tuple[int, int]] = {}
    models: list[Any] = [Fact] if known is None else [Fact, FactChange]
    for model in models:
        keys = [getattr(model, g) for g in group] + [model.measure]
        conds = [
            model.tenant_id == tenant_id,
            model.kpi == kpi,
            model.day >= start,
            model.day < end,
            *_scope_filter(model, **scope),
            *[e(model) for e in extra],
        ]
        if measures is not None:
            conds.append(model.measure.in_(list(measures)))
        if model is FactChange:
            conds.append(FactChange.known_at > known)
        stmt = select(*keys, func.sum(model.value), func.sum(model.n)).where(*conds).group_by(*keys)
        sign = 1 if model is Fact else -1
        for row in (await session.execute(stmt)).all():
            key = (*row[: len(group)], int(row[len(group)]))
            v, n = out.get(key, (0, 0))
            out[key] = (v + sign * int(row[-2] or 0), n + sign * int(row[-1] or 0))
    return out


def _live_members(
    *,
    tenant_id: str,
    kpi: str,
    start: date,
    end: date,
    measure: int,
    scope: dict[str, Any],
    known: datetime | None,
    days: Sequence[date] | None = None,
    reps: Sequence[str] | None = None,
) -> tuple[Any, list[ColumnElement[bool]]]:
    """The member rows of a distinct measure alive at ``known`` (or now): something with
    ``rep_id``, ``day`` and ``member`` columns, and the conditions to select with it.

    Now: ``kpi_fact_members`` itself and its filters (the statements reads ran before the
    change log existed). At ``known``: the rows minus the changes known after it, summed
    per (rep, day, member) and kept where still positive.
    """

    def conds(model: Any) -> list[ColumnElement[bool]]:
        out = [
            model.tenant_id == tenant_id,
            model.kpi == kpi,
            model.measure == measure,
            model.day >= start,
            model.day < end,
            *_scope_filter(model, **scope),
        ]
        if days is not None:
            out.append(model.member.in_([d.isoformat() for d in days]))
        if reps is not None:
            out.append(model.rep_id.in_(list(reps)))
        return out

    fm, ch = FactMember, FactMemberChange
    if known is None:
        return fm, [*conds(fm), fm.n > 0]
    rows = union_all(
        select(fm.rep_id, fm.day, fm.member, fm.n.label("n")).where(*conds(fm)),
        select(ch.rep_id, ch.day, ch.member, (-ch.n).label("n")).where(
            *conds(ch), ch.known_at > known
        ),
    ).subquery()
    live = (
        select(rows.c.rep_id, rows.c.day, rows.c.member)
        .group_by(rows.c.rep_id, rows.c.day, rows.c.member)
        .having(func.sum(rows.c.n) > 0)
        .subquery()
    )
    return live.c, []


async def reps_in_scope(
    session: AsyncSession,
    *,
    tenant_id: str,
    start: date,
    end: date,
    team_ids: Sequence[str] | None,
    kpi: str | None = None,
    known: datetime | None = None,
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
        if kpi is not None:  # a working-day share: its one member measure
            live = _live_members(
                tenant_id=tenant_id,
                kpi=kpi,
                start=start,
                end=end,
                measure=0,
                scope={"tenant_id": tenant_id, "rep_id": None, "team_ids": None},
                known=known,
            )
            reps |= set(
                (await session.scalars(select(live[0].rep_id).where(*live[1]).distinct())).all()
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
    known: datetime | None = None,
) -> dict[date, int]:
    """A measure's units per day over [start, end) for a scope (as known at ``known``)."""
    sums = await _value_sums(
        session,
        group=("day",),
        tenant_id=tenant_id,
        kpi=kpi,
        start=start,
        end=end,
        measures=[measure],
        scope={"tenant_id": tenant_id, "rep_id": rep_id, "team_ids": team_ids},
        known=known,
    )
    return {d: v for (d, _m), (v, _n) in sums.items()}


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
    known: datetime | None = None,
) -> dict[str, dict[int, MeasureTotal]]:
    """Measure totals per rep (one query per table, for leaderboards and scorecards)."""
    out: dict[str, dict[int, MeasureTotal]] = {r: {} for r in rep_ids}
    if not rep_ids:
        return out
    reps = list(rep_ids)
    sums = await _value_sums(
        session,
        group=("rep_id",),
        tenant_id=tenant_id,
        kpi=kpi,
        start=start,
        end=end,
        measures=value_measures,
        scope={"tenant_id": tenant_id, "rep_id": None, "team_ids": None},
        known=known,
        extra=[lambda model: model.rep_id.in_(reps)],
    )
    for (rep, measure), (value, n) in sums.items():
        out[rep][measure] = MeasureTotal(units=value, records=n)
    for index in [*distinct_measures, *pair_measures]:
        live = _live_members(
            tenant_id=tenant_id,
            kpi=kpi,
            start=start,
            end=end,
            measure=index,
            scope={"tenant_id": tenant_id, "rep_id": None, "team_ids": None},
            known=known,
            days=pair_days if index in pair_measures else None,
            reps=reps,
        )
        src, where = live
        mstmt = (
            select(src.rep_id, func.count(distinct(src.member))).where(*where).group_by(src.rep_id)
        )
        for rep, count in (await session.execute(mstmt)).all():
            out[rep][index] = MeasureTotal(members=int(count or 0))
    return out


def _adjusted_conditions(
    *,
    tenant_id: str,
    kpi: str,
    measure: int,
    start: date,
    end: date,
    rep_id: str | None,
    team_ids: Sequence[str] | None,
    known: datetime | None,
) -> list[ColumnElement[bool]]:
    """Which adjustments are booked into [start, end) for a scope (team membership as of
    the booked day), as known at ``known``: one rule for their sum and their list."""
    a = FactAdjustment
    conds: list[ColumnElement[bool]] = [
        a.tenant_id == tenant_id,
        a.kpi == kpi,
        a.kind == "adjust",
        a.measure == measure,
        a.booked_day >= start,
        a.booked_day < end,
    ]
    if known is not None:
        conds.append(a.known_at <= known)
    if rep_id is not None:
        conds.append(a.rep_id == rep_id)
    if team_ids is not None:
        conds.append(_in_teams(tenant_id, team_ids, rep=a.rep_id, day=a.booked_day))
    return conds


async def adjusted_units(
    session: AsyncSession,
    *,
    tenant_id: str,
    kpi: str,
    measure: int,
    start: date,
    end: date,
    rep_id: str | None = None,
    team_ids: Sequence[str] | None = None,
    known: datetime | None = None,
) -> tuple[int, int]:
    """The units and count of adjustments from closed months booked into [start, end) for
    a scope (team membership as of the booked day), as known at ``known``."""
    conds = _adjusted_conditions(
        tenant_id=tenant_id,
        kpi=kpi,
        measure=measure,
        start=start,
        end=end,
        rep_id=rep_id,
        team_ids=team_ids,
        known=known,
    )
    a = FactAdjustment
    row = (await session.execute(select(func.sum(a.value), func.count()).where(*conds))).one()
    return int(row[0] or 0), int(row[1] or 0)


async def adjusted_rows(
    session: AsyncSession,
    *,
    tenant_id: str,
    kpi: str,
    measure: int,
    start: date,
    end: date,
    rep_id: str | None = None,
    team_ids: Sequence[str] | None = None,
    known: datetime | None = None,
    limit: int,
) -> Sequence[FactAdjustment]:
    """The adjustments :func:`adjusted_units` adds up, in the order they became known."""
    conds = _adjusted_conditions(
        tenant_id=tenant_id,
        kpi=kpi,
        measure=measure,
        start=start,
        end=end,
        rep_id=rep_id,
        team_ids=team_ids,
        known=known,
    )
    a = FactAdjustment
    stmt = select(a).where(*conds).order_by(a.known_at, a.id).limit(limit)
    return (await session.execute(stmt)).scalars().all()
