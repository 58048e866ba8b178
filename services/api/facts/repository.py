"""SQL for the BI export of facts and for drill-down to the records behind them.

The export pages through groups (team, rep, day) with a keyset cursor: the page's keys
come from both fact tables (sums and distinct members), then their values are summed in
one query per table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_, union
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Event, Fact, FactMember, Record, RepMembership


def _membership_team(model: type[Fact] | type[FactMember], tenant_id: str) -> Any:
    """The team a fact's rep belonged to on the fact's day ('' when none)."""
    m = RepMembership
    return func.coalesce(
        select(m.team_id)
        .where(
            m.tenant_id == tenant_id,
            m.rep_id == model.rep_id,
            m.valid_from <= model.day,
            or_(m.valid_to.is_(None), model.day < m.valid_to),
        )
        .order_by(m.valid_from.desc())
        .limit(1)
        .scalar_subquery(),
        "",
    )


def group_columns(
    model: type[Fact] | type[FactMember], tenant_id: str, group_by: Sequence[str]
) -> list[Any]:
    """The SQL expressions of the group keys, in the order team, rep, day."""
    cols = []
    if "team" in group_by:
        cols.append(_membership_team(model, tenant_id))
    if "rep" in group_by:
        cols.append(model.rep_id)
    if "day" in group_by:
        cols.append(model.day)
    return cols


def _filters(
    model: type[Fact] | type[FactMember],
    *,
    tenant_id: str,
    kpi: str,
    start: date,
    end: date,
    rep_ids: Sequence[str] | None,
    team_ids: Sequence[str] | None = None,
) -> list[Any]:
    conds = [model.tenant_id == tenant_id, model.kpi == kpi, model.day >= start, model.day < end]
    if model is FactMember:
        conds.append(FactMember.n > 0)
    if rep_ids is not None:
        conds.append(model.rep_id.in_(list(rep_ids)))
    if team_ids is not None:
        conds.append(_membership_team(model, tenant_id).in_(list(team_ids)))
    return conds


async def group_keys(
    session: AsyncSession,
    *,
    tenant_id: str,
    kpi: str,
    start: date,
    end: date,
    group_by: Sequence[str],
    rep_ids: Sequence[str] | None,
    team_ids: Sequence[str] | None,
    after: Sequence[Any] | None,
    limit: int,
) -> list[tuple[Any, ...]]:
    """The next ``limit`` group keys (from either fact table) after the cursor."""
    parts = []
    for model in (Fact, FactMember):
        cols = group_columns(model, tenant_id, group_by)
        conds = _filters(
            model,
            tenant_id=tenant_id,
            kpi=kpi,
            start=start,
            end=end,
            rep_ids=rep_ids,
            team_ids=team_ids,
        )
        if after is not None:
            conds.append(tuple_(*cols) > tuple_(*after))
        parts.append(select(*[c.label(f"k{i}") for i, c in enumerate(cols)]).where(*conds))
    keys = union(*parts).subquery()
    key_cols = [keys.c[f"k{i}"] for i in range(len(group_by))]
    stmt = select(*key_cols).order_by(*key_cols).limit(limit)
    return [tuple(r) for r in (await session.execute(stmt)).all()]


async def values_in_range(
    session: AsyncSession,
    *,
    tenant_id: str,
    kpi: str,
    start: date,
    end: date,
    group_by: Sequence[str],
    rep_ids: Sequence[str] | None,
    team_ids: Sequence[str] | None,
    first: Sequence[Any] | None,
    last: Sequence[Any] | None,
    distinct_measures: Sequence[int],
    pair_measures: Sequence[int],
    pair_days: Sequence[date] | None = None,
) -> dict[tuple[Any, ...], dict[str, int]]:
    """Per group key in [first, last]: ``m{i}_value``/``m{i}_n`` sums and member counts."""
    out: dict[tuple[Any, ...], dict[str, int]] = {}
    cols = group_columns(Fact, tenant_id, group_by)
    conds = _filters(
        Fact, tenant_id=tenant_id, kpi=kpi, start=start, end=end, rep_ids=rep_ids, team_ids=team_ids
    )
    stmt = select(*cols, Fact.measure, func.sum(Fact.value), func.sum(Fact.n)).where(*conds)
    if cols and first is not None and last is not None:
        stmt = stmt.where(tuple_(*cols) >= tuple_(*first), tuple_(*cols) <= tuple_(*last))
    stmt = stmt.group_by(*cols, Fact.measure)
    for row in (await session.execute(stmt)).all():
        *key, measure, value, n = row
        entry = out.setdefault(tuple(key), {})
        entry[f"m{int(measure)}_value"] = int(value or 0)
        entry[f"m{int(measure)}_n"] = int(n or 0)
    mcols = group_columns(FactMember, tenant_id, group_by)
    mconds = _filters(
        FactMember,
        tenant_id=tenant_id,
        kpi=kpi,
        start=start,
        end=end,
        rep_ids=rep_ids,
        team_ids=team_ids,
    )
    if mcols and first is not None and last is not None:
        mconds += [tuple_(*mcols) >= tuple_(*first), tuple_(*mcols) <= tuple_(*last)]
    for index in [*distinct_measures, *pair_measures]:
        counted = (
            func.count(func.distinct(FactMember.rep_id + "\x1f" + FactMember.member))
            if index in pair_measures
            else func.count(func.distinct(FactMember.member))
        )
        only_days = (
            [FactMember.member.in_([d.isoformat() for d in pair_days])]
            if index in pair_measures and pair_days is not None
            else []
        )
        mstmt = (
            select(*mcols, counted)
            .where(*mconds, FactMember.measure == index, *only_days)
            .group_by(*mcols)
        )
        for row in (await session.execute(mstmt)).all():
            *key, count = row
            out.setdefault(tuple(key), {})[f"m{index}_members"] = int(count)
    return out


async def records_touching(
    session: AsyncSession,
    *,
    tenant_id: str,
    types: Sequence[str] | None,
    start: date,
    end: date,
    rep_ids: Sequence[str] | None,
    after: tuple[str, str] | None,
    limit: int,
) -> list[Record]:
    """Records whose contributions touch [start, end), in (type, record_id) order."""
    stmt = select(Record).where(
        Record.tenant_id == tenant_id,
        Record.first_day.is_not(None),
        Record.first_day < end,
        Record.last_day >= start,
    )
    if types is not None:
        stmt = stmt.where(Record.type.in_(list(types)))
    if rep_ids is not None:
        stmt = stmt.where(Record.rep_id.in_(list(rep_ids)))
    if after is not None:
        stmt = stmt.where(
            or_(Record.type > after[0], and_(Record.type == after[0], Record.record_id > after[1]))
        )
    stmt = stmt.order_by(Record.type, Record.record_id).limit(limit)
    return list((await session.scalars(stmt)).all())


async def events_by_pk(
    session: AsyncSession, *, tenant_id: str, pks: Sequence[int]
) -> dict[int, Event]:
    """Stored events by primary key."""
    if not pks:
        return {}
    rows = await session.scalars(
        select(Event).where(Event.tenant_id == tenant_id, Event.id.in_(list(pks)))
    )
    return {e.id: e for e in rows}


async def memberships_of(
    session: AsyncSession, *, tenant_id: str, team_ids: Sequence[str]
) -> list[RepMembership]:
    """Memberships in some teams."""
    rows = await session.scalars(
        select(RepMembership).where(
            RepMembership.tenant_id == tenant_id, RepMembership.team_id.in_(list(team_ids))
        )
    )
    return list(rows.all())


async def all_memberships(session: AsyncSession, *, tenant_id: str) -> list[RepMembership]:
    """Every membership of a tenant."""
    rows = await session.scalars(select(RepMembership).where(RepMembership.tenant_id == tenant_id))
    return list(rows.all())
