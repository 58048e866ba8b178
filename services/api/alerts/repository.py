"""SQL of the alert routes (always scoped by tenant)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Alert, RepMembership
from paceline.shared.db.models_alerts import AlertEvent, Digest


async def search(
    session: AsyncSession,
    *,
    tenant_id: str,
    kinds: Sequence[str],
    statuses: Sequence[str],
    types: Sequence[str],
    severities: Sequence[str],
    scopes: Sequence[str] | None,
    since: datetime | None,
    until: datetime | None,
    before_id: int | None,
    limit: int,
) -> list[Alert]:
    """Alerts matching the filters, newest first (keyset by id)."""
    conds: list[ColumnElement[bool]] = [Alert.tenant_id == tenant_id]
    if kinds:
        conds.append(Alert.kind.in_(list(kinds)))
    if statuses:
        conds.append(Alert.status.in_(list(statuses)))
    if types:
        conds.append(Alert.type.in_(list(types)))
    if severities:
        conds.append(Alert.severity.in_(list(severities)))
    if scopes is not None:
        conds.append(Alert.scope.in_(list(scopes)))
    if since is not None:
        conds.append(Alert.last_seen_at >= since)
    if until is not None:
        conds.append(Alert.first_seen_at < until)
    if before_id is not None:
        conds.append(Alert.id < before_id)
    stmt = select(Alert).where(*conds).order_by(Alert.id.desc()).limit(limit)
    return list((await session.scalars(stmt)).all())


async def get(
    session: AsyncSession, *, tenant_id: str, alert_id: int, lock: bool = False
) -> Alert | None:
    """A tenant's alert by id."""
    stmt = select(Alert).where(Alert.tenant_id == tenant_id, Alert.id == alert_id)
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def history(session: AsyncSession, *, tenant_id: str, alert_id: int) -> list[AlertEvent]:
    """An alert's events, oldest first."""
    return list(
        (
            await session.scalars(
                select(AlertEvent)
                .where(AlertEvent.tenant_id == tenant_id, AlertEvent.alert_id == alert_id)
                .order_by(AlertEvent.id)
            )
        ).all()
    )


async def teams_of_scopes(
    session: AsyncSession, *, tenant_id: str, scopes: Sequence[str]
) -> dict[str, str]:
    """scope -> team, for rep scopes (current membership) and team scopes."""
    out = {s: s.removeprefix("team:") for s in scopes if s.startswith("team:")}
    reps = sorted({s.removeprefix("rep:") for s in scopes if s.startswith("rep:")})
    if reps:
        rows = await session.execute(
            select(RepMembership.rep_id, RepMembership.team_id).where(
                RepMembership.tenant_id == tenant_id,
                RepMembership.rep_id.in_(reps),
                RepMembership.valid_to.is_(None),
            )
        )
        for rep, team in rows.all():
            out[f"rep:{rep}"] = team
    return out


async def reps_of_teams(
    session: AsyncSession, *, tenant_id: str, teams: Sequence[str]
) -> list[str]:
    """Reps currently in any of the teams."""
    rows = await session.scalars(
        select(RepMembership.rep_id).where(
            RepMembership.tenant_id == tenant_id,
            RepMembership.team_id.in_(list(teams)),
            or_(RepMembership.valid_to.is_(None)),
        )
    )
    return sorted(set(rows.all()))


async def digests(
    session: AsyncSession,
    *,
    tenant_id: str,
    kind: str | None,
    team: str | None,
    before_id: int | None,
    limit: int,
) -> list[Digest]:
    """Digests, newest first."""
    stmt = select(Digest).where(Digest.tenant_id == tenant_id)
    if kind is not None:
        stmt = stmt.where(Digest.kind == kind)
    if team is not None:
        stmt = stmt.where(Digest.team_id == team)
    if before_id is not None:
        stmt = stmt.where(Digest.id < before_id)
    return list((await session.scalars(stmt.order_by(Digest.id.desc()).limit(limit))).all())


async def digest(session: AsyncSession, *, tenant_id: str, digest_id: int) -> Digest | None:
    """A digest by id."""
    return await session.scalar(
        select(Digest).where(Digest.tenant_id == tenant_id, Digest.id == digest_id)
    )
