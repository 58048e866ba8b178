"""SQL of the alert evaluators: evaluation state, tenants, targets, events, daily series,
the scoring positions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import DateTime, String, and_, bindparam, func, or_, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import (
    Alert,
    ConsumerOffset,
    Event,
    Fact,
    FactMember,
    Rep,
    RepMembership,
    Target,
    Team,
    Tenant,
)
from paceline.shared.db.models_alerts import EvalState
from paceline.shared.db.upsert import insert_for
from paceline.shared.money import SCALE

GLOBAL = "*"  # tenant id of state that belongs to no tenant (the events cursor)


async def tenants(session: AsyncSession) -> list[Tenant]:
    """Every tenant."""
    return list((await session.scalars(select(Tenant).order_by(Tenant.id))).all())


async def tenant(session: AsyncSession, *, tenant_id: str) -> Tenant | None:
    """A tenant by id (None if it is gone)."""
    return await session.get(Tenant, tenant_id)


async def get_state(
    session: AsyncSession, *, tenant_id: str, key: str, lock: bool = False
) -> dict[str, Any]:
    """An evaluator's stored state ({} when none)."""
    stmt = select(EvalState.state).where(EvalState.tenant_id == tenant_id, EvalState.key == key)
    if lock:
        stmt = stmt.with_for_update()
    state = await session.scalar(stmt)
    return dict(state) if state else {}


async def states(
    session: AsyncSession, *, tenant_id: str, prefix: str
) -> dict[str, dict[str, Any]]:
    """Stored states whose key starts with ``prefix``."""
    rows = await session.execute(
        select(EvalState.key, EvalState.state).where(
            EvalState.tenant_id == tenant_id, EvalState.key.startswith(prefix, autoescape=True)
        )
    )
    return {k: dict(s or {}) for k, s in rows.all()}


async def put_state(
    session: AsyncSession, *, tenant_id: str, key: str, state: dict[str, Any], now: datetime
) -> None:
    """Store an evaluator's state."""
    insert = insert_for(session, EvalState)
    stmt = insert.values(tenant_id=tenant_id, key=key, state=state, updated_at=now)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "key"],
            set_={"state": stmt.excluded.state, "updated_at": now},
        )
    )


async def current_targets(session: AsyncSession, *, tenant_id: str, day: date) -> list[Target]:
    """Targets whose period contains the day."""
    return list(
        (
            await session.scalars(
                select(Target)
                .where(Target.tenant_id == tenant_id, Target.start <= day, Target.end > day)
                .order_by(Target.id)
            )
        ).all()
    )


async def targets_by_id(
    session: AsyncSession, *, tenant_id: str, ids: Sequence[int]
) -> dict[int, Target]:
    """Targets by id."""
    if not ids:
        return {}
    rows = await session.scalars(
        select(Target).where(Target.tenant_id == tenant_id, Target.id.in_(list(ids)))
    )
    return {t.id: t for t in rows}


async def open_alerts(
    session: AsyncSession, *, tenant_id: str, types: Sequence[str] | None = None
) -> list[Alert]:
    """Alerts not resolved, optionally of some types."""
    stmt = select(Alert).where(Alert.tenant_id == tenant_id, Alert.status != "resolved")
    if types is not None:
        stmt = stmt.where(Alert.type.in_(list(types)))
    return list((await session.scalars(stmt.order_by(Alert.id))).all())


async def events_after(
    session: AsyncSession, *, after_id: int, since: datetime | None, limit: int
) -> list[Event]:
    """Events with an id above ``after_id`` (or received since ``since``), by id."""
    cond = Event.id > after_id
    if since is not None:
        cond = cond | (Event.received_at >= since)
    return list(
        (await session.scalars(select(Event).where(cond).order_by(Event.id).limit(limit))).all()
    )


async def events_from(
    session: AsyncSession, *, partition: int, offset: int, limit: int
) -> list[Event]:
    """Stored events of a log partition from an offset on, in offset order."""
    return list(
        (
            await session.scalars(
                select(Event)
                .where(Event.log_partition == partition, Event.log_offset >= offset)
                .order_by(Event.log_offset)
                .limit(limit)
            )
        ).all()
    )


async def scoring_positions(session: AsyncSession, *, group_id: str, topic: str) -> dict[int, int]:
    """The next offset scoring stored for each partition of the event log it has applied."""
    rows = await session.execute(
        select(ConsumerOffset.partition, ConsumerOffset.next_offset).where(
            ConsumerOffset.group_id == group_id, ConsumerOffset.topic == topic
        )
    )
    return {int(p): int(o) for p, o in rows.all()}


async def stored_up_to(session: AsyncSession) -> dict[int, int]:
    """The next offset after the last stored event, per log partition."""
    rows = await session.execute(
        select(Event.log_partition, func.max(Event.log_offset)).group_by(Event.log_partition)
    )
    return {int(p): int(o) + 1 for p, o in rows.all()}


async def max_event_id(session: AsyncSession) -> int:
    """The highest event id so far (0 without events)."""
    return int(await session.scalar(select(func.max(Event.id))) or 0)


@dataclass(frozen=True, slots=True)
class Window:
    """A rep's events of one type in [start, end), of one customer when it is given."""

    rep_id: str
    type: str
    start: datetime
    end: datetime
    customer: str | None = None


@dataclass(frozen=True, slots=True)
class Brief:
    """What the data-quality checks read of a stored event (no payload beyond it)."""

    id: int
    event_id: str
    rep_id: str
    type: str
    record_id: str
    occurred_at: datetime
    customer: str | None
    deleted: bool


_customer_col = Event.payload["customer_id"].as_string()
_deleted_col = Event.payload["deleted"].as_boolean()
_BRIEF = (
    Event.id,
    Event.event_id,
    Event.rep_id,
    Event.type,
    Event.record_id,
    Event.occurred_at,
    _customer_col,
    _deleted_col,
)


async def events_in_windows(
    session: AsyncSession, *, tenant_id: str, windows: Sequence[Window]
) -> list[list[Brief]]:
    """For each window, the stored events in it, ordered by time then id.

    On PostgreSQL one statement for all windows (a join with the windows as arrays), so a
    batch's checks cost one round trip whatever its size; elsewhere one query a window.
    Only the columns the checks need are read, never whole payloads.
    """
    if not windows:
        return []
    out: list[list[Brief]] = [[] for _ in windows]
    if session.get_bind().dialect.name == "postgresql":
        rows = await session.execute(
            _IN_WINDOWS,
            {
                "tenant": tenant_id,
                "reps": [w.rep_id for w in windows],
                "types": [w.type for w in windows],
                "starts": [w.start for w in windows],
                "ends": [w.end for w in windows],
                "customers": [w.customer for w in windows],
            },
        )
        for i, *brief in rows.all():
            out[int(i) - 1].append(_brief(brief))
        for found in out:
            found.sort(key=lambda b: (b.occurred_at, b.id))
        return out
    # Elsewhere (SQLite): one query per rep and type, its windows OR-ed (in chunks), each
    # row then handed to the windows it falls in.
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, w in enumerate(windows):
        groups[(w.rep_id, w.type)].append(i)
    for (rep, type_), members in groups.items():
        for start in range(0, len(members), _WINDOWS_PER_QUERY):
            chunk = members[start : start + _WINDOWS_PER_QUERY]
            spans = [
                and_(
                    Event.occurred_at >= windows[i].start,
                    Event.occurred_at < windows[i].end,
                    *(
                        [_customer_col == windows[i].customer]
                        if windows[i].customer is not None
                        else []
                    ),
                )
                for i in chunk
            ]
            rows = await session.execute(
                select(*_BRIEF)
                .where(
                    Event.tenant_id == tenant_id,
                    Event.rep_id == rep,
                    Event.type == type_,
                    or_(*spans),
                )
                .order_by(Event.occurred_at, Event.id)
            )
            for row in rows.all():
                seen = _brief(list(row))
                for i in chunk:
                    w = windows[i]
                    if w.start <= seen.occurred_at < w.end and (
                        w.customer is None or w.customer == seen.customer
                    ):
                        out[i].append(seen)
    return out


_WINDOWS_PER_QUERY = 100


def _brief(row: Sequence[Any]) -> Brief:
    pk, event_id, rep, type_, record, at, customer, deleted = row
    return Brief(int(pk), event_id, rep, type_, record, at, customer, bool(deleted))


_WINDOWS = (
    func.unnest(
        bindparam("reps", type_=postgresql.ARRAY(String)),
        bindparam("types", type_=postgresql.ARRAY(String)),
        bindparam("starts", type_=postgresql.ARRAY(DateTime(timezone=True))),
        bindparam("ends", type_=postgresql.ARRAY(DateTime(timezone=True))),
        bindparam("customers", type_=postgresql.ARRAY(String)),
    )
    .table_valued("rep", "ty", "lo", "hi", "cust", with_ordinality="i")
    .render_derived()
)
_IN_WINDOWS = select(_WINDOWS.c.i, *_BRIEF).join(
    _WINDOWS,
    and_(
        Event.tenant_id == bindparam("tenant"),
        Event.rep_id == _WINDOWS.c.rep,
        Event.type == _WINDOWS.c.ty,
        Event.occurred_at >= _WINDOWS.c.lo,
        Event.occurred_at < _WINDOWS.c.hi,
        or_(_WINDOWS.c.cust.is_(None), _customer_col == _WINDOWS.c.cust),
    ),
)


async def last_received_by_source(
    session: AsyncSession, *, tenant_id: str, since: datetime
) -> dict[str, datetime]:
    """Each source's latest arrival since ``since``.

    A loose index scan over ``ix_events_tenant_source_received``: the tenant's sources one
    by one (each the next one after the last, an index probe), then each source's latest
    arrival (one more probe). Its cost grows with the number of sources, not with the
    events stored — a GROUP BY over the window read every event of it (382 ms at 520k
    rows, per tenant per tick).
    """
    rows = await session.execute(
        text(
            "WITH RECURSIVE src(source) AS ("
            " SELECT (SELECT min(source) FROM events WHERE tenant_id = :t)"
            " UNION ALL"
            " SELECT (SELECT min(e.source) FROM events e"
            "         WHERE e.tenant_id = :t AND e.source > src.source)"
            " FROM src WHERE src.source IS NOT NULL"
            ") SELECT src.source, (SELECT max(e.received_at) FROM events e"
            "   WHERE e.tenant_id = :t AND e.source = src.source) AS last"
            " FROM src WHERE src.source IS NOT NULL"
        ).columns(source=String(), last=Event.__table__.c.received_at.type),
        {"t": tenant_id},
    )
    out: dict[str, datetime] = {}
    for source, at in rows.all():
        if at is None:
            continue
        at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite
        if at >= since:
            out[source] = at
    return out


async def daily_counts(
    session: AsyncSession, *, tenant_id: str, kpi: str, start: date, end: date
) -> dict[str, dict[date, int]]:
    """Per rep and day, a count KPI's first measure (whole events) over [start, end)."""
    rows = await session.execute(
        select(Fact.rep_id, Fact.day, Fact.value).where(
            Fact.tenant_id == tenant_id,
            Fact.kpi == kpi,
            Fact.measure == 0,
            Fact.day >= start,
            Fact.day < end,
        )
    )
    out: dict[str, dict[date, int]] = defaultdict(dict)
    for rep, day, value in rows.all():
        if value:
            out[rep][day] = int(value) // SCALE
    return out


async def active_days(
    session: AsyncSession, *, tenant_id: str, start: date, end: date
) -> dict[str, set[date]]:
    """Per rep, the days with at least one logged event (the crm_active_days members)."""
    rows = await session.execute(
        select(FactMember.rep_id, FactMember.day).where(
            FactMember.tenant_id == tenant_id,
            FactMember.kpi == "crm_active_days",
            FactMember.day >= start,
            FactMember.day < end,
            FactMember.n > 0,
        )
    )
    out: dict[str, set[date]] = defaultdict(set)
    for rep, day in rows.all():
        out[rep].add(day)
    return out


async def active_reps(session: AsyncSession, *, tenant_id: str) -> list[str]:
    """The org chart's active reps."""
    return list(
        (
            await session.scalars(
                select(Rep.id)
                .where(Rep.tenant_id == tenant_id, Rep.active.is_(True))
                .order_by(Rep.id)
            )
        ).all()
    )


async def teams(session: AsyncSession, *, tenant_id: str) -> list[Team]:
    """The tenant's active teams."""
    return list(
        (
            await session.scalars(
                select(Team)
                .where(Team.tenant_id == tenant_id, Team.active.is_(True))
                .order_by(Team.id)
            )
        ).all()
    )


async def team_members(session: AsyncSession, *, tenant_id: str, day: date) -> dict[str, str]:
    """rep -> team, as of a day."""
    rows = await session.execute(
        select(RepMembership.rep_id, RepMembership.team_id).where(
            RepMembership.tenant_id == tenant_id,
            RepMembership.valid_from <= day,
            (RepMembership.valid_to.is_(None)) | (RepMembership.valid_to > day),
        )
    )
    return {r: t for r, t in rows.all()}


async def alerts_of_types(
    session: AsyncSession, *, tenant_id: str, types: Sequence[str], since: datetime
) -> list[Alert]:
    """Alerts of some types that are open, or were seen or resolved since ``since``."""
    return list(
        (
            await session.scalars(
                select(Alert).where(
                    Alert.tenant_id == tenant_id,
                    Alert.type.in_(list(types)),
                    (Alert.status != "resolved")
                    | (Alert.last_seen_at >= since)
                    | (Alert.resolved_at >= since),
                )
            )
        ).all()
    )


async def tenants_by_ids(session: AsyncSession, *, ids: Sequence[str]) -> dict[str, Tenant]:
    """Tenants by id."""
    if not ids:
        return {}
    rows = await session.scalars(select(Tenant).where(Tenant.id.in_(list(ids))))
    return {t.id: t for t in rows}
