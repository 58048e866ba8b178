"""SQL of the alert evaluators: evaluation state, targets, events, daily series."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import (
    Alert,
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
from paceline.shared.money import SCALE

GLOBAL = "*"  # tenant id of state that belongs to no tenant (the events cursor)


async def tenants(session: AsyncSession) -> list[Tenant]:
    """Every tenant."""
    return list((await session.scalars(select(Tenant).order_by(Tenant.id))).all())


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
    insert = (
        postgresql.insert(EvalState)
        if session.get_bind().dialect.name == "postgresql"
        else sqlite.insert(EvalState)
    )
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


async def max_event_id(session: AsyncSession) -> int:
    """The highest event id so far (0 without events)."""
    return int(await session.scalar(select(func.max(Event.id))) or 0)


async def rep_events(
    session: AsyncSession,
    *,
    tenant_id: str,
    rep_id: str,
    type: str,
    start: datetime,
    end: datetime,
) -> list[Event]:
    """A rep's events of one type that occurred in [start, end)."""
    return list(
        (
            await session.scalars(
                select(Event)
                .where(
                    Event.tenant_id == tenant_id,
                    Event.rep_id == rep_id,
                    Event.type == type,
                    Event.occurred_at >= start,
                    Event.occurred_at < end,
                )
                .order_by(Event.occurred_at, Event.id)
            )
        ).all()
    )


async def last_received_by_source(
    session: AsyncSession, *, tenant_id: str, since: datetime
) -> dict[str, datetime]:
    """Each source's latest arrival since ``since``."""
    rows = await session.execute(
        select(Event.source, func.max(Event.received_at))
        .where(Event.tenant_id == tenant_id, Event.received_at >= since)
        .group_by(Event.source)
    )
    out: dict[str, datetime] = {}
    for source, at in rows.all():
        if at is not None:
            out[source] = at if at.tzinfo is not None else at.replace(tzinfo=since.tzinfo)
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
