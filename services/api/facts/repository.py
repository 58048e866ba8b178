"""SQL for the BI export of facts and for drill-down to the records behind them.

The export pages through groups (team, rep, day) with a keyset cursor: the page's keys
come from both fact tables (sums and distinct members), then their values are summed in
one query per table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, tuple_, union, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from paceline.shared.db.models import Event, Fact, FactMember, Record, RepMembership
from paceline.shared.db.models_history import FactChange, FactMemberChange


def fact_sources(
    *, tenant_id: str, kpi: str, start: date, end: date, known: datetime | None
) -> tuple[Any, Any]:
    """The fact and member tables to read: as they are (``known`` None), or as they were
    known at ``known`` — each a derived table of the rows minus the changes known after
    it, with the same columns, so the queries below read either alike."""
    if known is None:
        return Fact, FactMember
    f, c = Fact, FactChange
    rows = union_all(
        select(f.tenant_id, f.kpi, f.measure, f.rep_id, f.day, f.value, f.n).where(
            f.tenant_id == tenant_id, f.kpi == kpi, f.day >= start, f.day < end
        ),
        select(c.tenant_id, c.kpi, c.measure, c.rep_id, c.day, -c.value, -c.n).where(
            c.tenant_id == tenant_id,
            c.kpi == kpi,
            c.day >= start,
            c.day < end,
            c.known_at > known,
        ),
    ).subquery()
    facts = (
        select(
            rows.c.tenant_id,
            rows.c.kpi,
            rows.c.measure,
            rows.c.rep_id,
            rows.c.day,
            func.sum(rows.c.value).label("value"),
            func.sum(rows.c.n).label("n"),
        )
        .group_by(rows.c.tenant_id, rows.c.kpi, rows.c.measure, rows.c.rep_id, rows.c.day)
        .having(or_(func.sum(rows.c.value) != 0, func.sum(rows.c.n) != 0))
        .subquery("facts_known")
    )
    m, mc = FactMember, FactMemberChange
    mrows = union_all(
        select(m.tenant_id, m.kpi, m.measure, m.rep_id, m.day, m.member, m.n).where(
            m.tenant_id == tenant_id, m.kpi == kpi, m.day >= start, m.day < end
        ),
        select(mc.tenant_id, mc.kpi, mc.measure, mc.rep_id, mc.day, mc.member, -mc.n).where(
            mc.tenant_id == tenant_id,
            mc.kpi == kpi,
            mc.day >= start,
            mc.day < end,
            mc.known_at > known,
        ),
    ).subquery()
    keys = (mrows.c.tenant_id, mrows.c.kpi, mrows.c.measure, mrows.c.rep_id, mrows.c.day)
    members = (
        select(*keys, mrows.c.member, func.sum(mrows.c.n).label("n"))
        .group_by(*keys, mrows.c.member)
        .having(func.sum(mrows.c.n) > 0)
        .subquery("members_known")
    )
    return (
        aliased(Fact, facts, adapt_on_names=True),
        aliased(FactMember, members, adapt_on_names=True),
    )


def _membership_team(model: Any, tenant_id: str) -> Any:
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


def group_columns(model: Any, tenant_id: str, group_by: Sequence[str]) -> list[Any]:
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
    model: Any,
    *,
    tenant_id: str,
    kpi: str,
    start: date,
    end: date,
    rep_ids: Sequence[str] | None,
    team_ids: Sequence[str] | None = None,
) -> list[Any]:
    conds = [model.tenant_id == tenant_id, model.kpi == kpi, model.day >= start, model.day < end]
    if hasattr(model, "member"):
        conds.append(model.n > 0)
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
    known: datetime | None = None,
    changed_since: datetime | None = None,
) -> list[tuple[Any, ...]]:
    """The next ``limit`` group keys (from either fact table) after the cursor; with
    ``changed_since``, only rows with a change known at or after it (the change log)."""
    parts = []
    sources = fact_sources(tenant_id=tenant_id, kpi=kpi, start=start, end=end, known=known)
    logs: tuple[Any, Any] = (FactChange, FactMemberChange)
    for model, log in zip(sources, logs, strict=True):
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
        if changed_since is not None:
            conds.append(
                exists().where(
                    log.tenant_id == tenant_id,
                    log.kpi == kpi,
                    log.rep_id == model.rep_id,
                    log.day == model.day,
                    log.known_at >= changed_since,
                )
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
    known: datetime | None = None,
) -> dict[tuple[Any, ...], dict[str, int]]:
    """Per group key in [first, last]: ``m{i}_value``/``m{i}_n`` sums and member counts
    (as known at ``known``, or now)."""
    out: dict[tuple[Any, ...], dict[str, int]] = {}
    fact, member = fact_sources(tenant_id=tenant_id, kpi=kpi, start=start, end=end, known=known)
    cols = group_columns(fact, tenant_id, group_by)
    conds = _filters(
        fact, tenant_id=tenant_id, kpi=kpi, start=start, end=end, rep_ids=rep_ids, team_ids=team_ids
    )
    stmt = select(*cols, fact.measure, func.sum(fact.value), func.sum(fact.n)).where(*conds)
    if cols and first is not None and last is not None:
        stmt = stmt.where(tuple_(*cols) >= tuple_(*first), tuple_(*cols) <= tuple_(*last))
    stmt = stmt.group_by(*cols, fact.measure)
    for row in (await session.execute(stmt)).all():
        *key, measure, value, n = row
        entry = out.setdefault(tuple(key), {})
        entry[f"m{int(measure)}_value"] = int(value or 0)
        entry[f"m{int(measure)}_n"] = int(n or 0)
    mcols = group_columns(member, tenant_id, group_by)
    mconds = _filters(
        member,
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
            func.count(func.distinct(member.rep_id + "\x1f" + member.member))
            if index in pair_measures
            else func.count(func.distinct(member.member))
        )
        only_days = (
            [member.member.in_([d.isoformat() for d in pair_days])]
            if index in pair_measures and pair_days is not None
            else []
        )
        mstmt = (
            select(*mcols, counted)
            .where(*mconds, member.measure == index, *only_days)
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
    known: datetime | None = None,
) -> list[Record]:
    """Records whose contributions touch [start, end), in (type, record_id) order; with
    ``known``, also every record changed after it (its state then is recomputed)."""
    touching = and_(
        Record.first_day.is_not(None),
        Record.first_day < end,
        Record.last_day >= start,
        *([Record.rep_id.in_(list(rep_ids))] if rep_ids is not None else []),
    )
    stmt = select(Record).where(
        Record.tenant_id == tenant_id,
        or_(touching, Record.known_at > known) if known is not None else touching,
    )
    if types is not None:
        stmt = stmt.where(Record.type.in_(list(types)))
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


async def events_of_records(
    session: AsyncSession, *, tenant_id: str, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], list[Event]]:
    """Every stored event of these records, in log order."""
    out: dict[tuple[str, str], list[Event]] = {}
    wanted = sorted(set(keys))
    for i in range(0, len(wanted), 500):
        rows = await session.scalars(
            select(Event)
            .where(
                Event.tenant_id == tenant_id,
                tuple_(Event.type, Event.record_id).in_(wanted[i : i + 500]),
            )
            .order_by(Event.id)
        )
        for e in rows:
            out.setdefault((e.type, e.record_id), []).append(e)
    return out


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


async def fact_days(
    session: AsyncSession, *, tenant_id: str, kpis: Sequence[str]
) -> tuple[date, date] | None:
    """The first and last day with facts of some KPIs (None without any)."""
    lows: list[date] = []
    highs: list[date] = []
    for model in (Fact, FactMember):
        row = (
            await session.execute(
                select(func.min(model.day), func.max(model.day)).where(
                    model.tenant_id == tenant_id, model.kpi.in_(list(kpis))
                )
            )
        ).one()
        if row[0] is not None:
            lows.append(_day(row[0]))
            highs.append(_day(row[1]))
    return (min(lows), max(highs)) if lows else None


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


async def last_changes(
    session: AsyncSession,
    *,
    tenant_id: str,
    kpi: str,
    rep_ids: Sequence[str],
    start: date,
    end: date,
) -> dict[tuple[str, date], datetime]:
    """(rep, day) -> the knowledge time of the latest change to that rep's facts of the
    KPI on that day (either fact table), for days in [start, end)."""
    out: dict[tuple[str, date], datetime] = {}
    for log in (FactChange, FactMemberChange):
        stmt = (
            select(log.rep_id, log.day, func.max(log.known_at))
            .where(
                log.tenant_id == tenant_id,
                log.kpi == kpi,
                log.rep_id.in_(list(rep_ids)),
                log.day >= start,
                log.day < end,
            )
            .group_by(log.rep_id, log.day)
        )
        for rep, day, at in (await session.execute(stmt)).all():
            key = (rep, _day(day))
            if at is not None and (key not in out or at > out[key]):
                out[key] = at
    return out
