"""SQL for targets and their versions (always scoped by tenant)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Target, TargetVersion


async def get(
    session: AsyncSession, *, tenant_id: str, target_id: int, lock: bool = False
) -> Target | None:
    """A tenant's target by id (locked until the transaction ends, to revise it)."""
    stmt = select(Target).where(Target.tenant_id == tenant_id, Target.id == target_id)
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def find(
    session: AsyncSession, *, tenant_id: str, kpi: str, scope: str, period: str
) -> Target | None:
    """The target of a KPI, scope and period."""
    return await session.scalar(
        select(Target).where(
            Target.tenant_id == tenant_id,
            Target.kpi == kpi,
            Target.scope == scope,
            Target.period == period,
        )
    )


async def search(
    session: AsyncSession,
    *,
    tenant_id: str,
    kpi: str | None,
    scope: str | None,
    period: str | None,
    parent_id: int | None,
    after_id: int | None,
    limit: int,
    within: Sequence[str] | None = None,
) -> list[Target]:
    """Targets matching the filters, by id (``within``: only these scopes)."""
    stmt = select(Target).where(Target.tenant_id == tenant_id)
    if within is not None:
        stmt = stmt.where(Target.scope.in_(list(within)))
    if kpi is not None:
        stmt = stmt.where(Target.kpi == kpi)
    if scope is not None:
        stmt = stmt.where(Target.scope == scope)
    if period is not None:
        stmt = stmt.where(Target.period == period)
    if parent_id is not None:
        stmt = stmt.where(Target.parent_id == parent_id)
    if after_id is not None:
        stmt = stmt.where(Target.id > after_id)
    return list((await session.scalars(stmt.order_by(Target.id).limit(limit))).all())


async def versions(
    session: AsyncSession, *, tenant_id: str, target_ids: Sequence[int]
) -> dict[int, list[TargetVersion]]:
    """Versions of targets, oldest first."""
    out: dict[int, list[TargetVersion]] = {t: [] for t in target_ids}
    if not target_ids:
        return out
    rows = await session.scalars(
        select(TargetVersion)
        .where(TargetVersion.tenant_id == tenant_id, TargetVersion.target_id.in_(list(target_ids)))
        .order_by(TargetVersion.target_id, TargetVersion.version)
    )
    for v in rows:
        out[v.target_id].append(v)
    return out


async def version_in_force(
    session: AsyncSession, *, tenant_id: str, target_id: int, at: datetime
) -> TargetVersion | None:
    """The latest version recorded at or before ``at``."""
    return await session.scalar(
        select(TargetVersion)
        .where(
            TargetVersion.tenant_id == tenant_id,
            TargetVersion.target_id == target_id,
            TargetVersion.recorded_at <= at,
        )
        .order_by(TargetVersion.version.desc())
        .limit(1)
    )


async def values_in_force(
    session: AsyncSession,
    *,
    tenant_id: str,
    kpis: Sequence[str],
    scopes: Sequence[str],
    period: str,
    at: datetime,
) -> dict[tuple[str, str], TargetVersion]:
    """(kpi, scope) -> the version in force at ``at``, for many targets at once."""
    if not kpis or not scopes:
        return {}
    targets = (
        await session.scalars(
            select(Target).where(
                Target.tenant_id == tenant_id,
                Target.kpi.in_(list(kpis)),
                Target.scope.in_(list(scopes)),
                Target.period == period,
            )
        )
    ).all()
    by_id = {t.id: t for t in targets}
    if not by_id:
        return {}
    rows = await session.scalars(
        select(TargetVersion)
        .where(
            TargetVersion.tenant_id == tenant_id,
            TargetVersion.target_id.in_(list(by_id)),
            TargetVersion.recorded_at <= at,
        )
        .order_by(TargetVersion.target_id, TargetVersion.version)
    )
    out: dict[tuple[str, str], TargetVersion] = {}
    for v in rows:  # ascending versions: the last one per target wins
        t = by_id[v.target_id]
        out[(t.kpi, t.scope)] = v
    return out


@dataclass(frozen=True, slots=True)
class Goal:
    """The values of a target version: target, and baseline and stretch when set."""

    target: str
    baseline: str | None
    stretch: str | None


async def goals_in_force(
    session: AsyncSession,
    *,
    tenant_id: str,
    kpis: Sequence[str],
    scopes: Sequence[str],
    period: str,
    at: datetime,
) -> dict[tuple[str, str], Goal]:
    """(kpi, scope) -> the values of the version in force at ``at`` (as
    :func:`values_in_force`, in one statement of plain columns, for scorecards)."""
    if not kpis or not scopes:
        return {}
    t, v = Target, TargetVersion
    rows = await session.execute(
        select(t.kpi, t.scope, v.target, v.baseline, v.stretch)
        .join(v, v.target_id == t.id)
        .where(
            t.tenant_id == tenant_id,
            t.kpi.in_(list(kpis)),
            t.scope.in_(list(scopes)),
            t.period == period,
            v.tenant_id == tenant_id,
            v.recorded_at <= at,
        )
        .order_by(t.id, v.version)
    )
    # Ascending versions: the last one per target wins.
    return {(k, s): Goal(g, b, x) for k, s, g, b, x in rows.all()}


async def of_scopes(
    session: AsyncSession,
    *,
    tenant_id: str,
    period: str,
    scopes: Sequence[str],
    kpis: Sequence[str] | None = None,
) -> list[Target]:
    """The targets of a period for any of ``scopes`` (and of ``kpis`` if given)."""
    stmt = select(Target).where(
        Target.tenant_id == tenant_id, Target.period == period, Target.scope.in_(list(scopes))
    )
    if kpis is not None:
        stmt = stmt.where(Target.kpi.in_(list(kpis)))
    return list((await session.scalars(stmt.order_by(Target.id))).all())


async def of_kpi_periods(
    session: AsyncSession, *, tenant_id: str, kpi: str, periods: Sequence[str], lock: bool = False
) -> list[Target]:
    """A KPI's targets of any of ``periods`` (locked until the transaction ends, to revise)."""
    stmt = select(Target).where(
        Target.tenant_id == tenant_id, Target.kpi == kpi, Target.period.in_(list(periods))
    )
    if lock:
        stmt = stmt.with_for_update()
    return list((await session.scalars(stmt)).all())


_CHUNK = 1000  # ids per IN list (well under SQLite's and asyncpg's parameter limits)


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    ordered = sorted(set(ids))
    return [ordered[i : i + _CHUNK] for i in range(0, len(ordered), _CHUNK)]


async def children_of(
    session: AsyncSession, *, tenant_id: str, parent_ids: Sequence[int], lock: bool = False
) -> list[Target]:
    """The targets whose parent is one of ``parent_ids``, by id (locked until the
    transaction ends, to revise them)."""
    out: list[Target] = []
    for chunk in _chunks(parent_ids):
        stmt = select(Target).where(Target.tenant_id == tenant_id, Target.parent_id.in_(chunk))
        if lock:
            stmt = stmt.with_for_update()
        out += (await session.scalars(stmt)).all()
    return sorted(out, key=lambda t: t.id)


async def descendants_of(
    session: AsyncSession, *, tenant_id: str, root_ids: Sequence[int], lock: bool = False
) -> list[Target]:
    """Every target under ``root_ids`` (children, their children...), level by level."""
    seen = set(root_ids)
    out: list[Target] = []
    frontier = list(root_ids)
    while frontier:
        level = [
            t
            for t in await children_of(session, tenant_id=tenant_id, parent_ids=frontier, lock=lock)
            if t.id not in seen
        ]
        seen.update(t.id for t in level)
        out += level
        frontier = [t.id for t in level]
    return out


async def current_versions(
    session: AsyncSession, *, tenant_id: str, targets: Sequence[Target]
) -> dict[int, TargetVersion]:
    """target id -> its current version, for many targets at once."""
    wanted = {t.id: t.current_version for t in targets}
    out: dict[int, TargetVersion] = {}
    for chunk in _chunks(list(wanted)):
        rows = await session.scalars(
            select(TargetVersion).where(
                TargetVersion.tenant_id == tenant_id, TargetVersion.target_id.in_(chunk)
            )
        )
        for v in rows:
            if v.version == wanted[v.target_id]:
                out[v.target_id] = v
    return out
