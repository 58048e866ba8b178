"""SQL for teams, reps and memberships; every query is scoped by tenant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Rep, RepMembership, RepRoleSpan, Team


async def teams(session: AsyncSession, *, tenant_id: str) -> list[Team]:
    """All teams of a tenant."""
    rows = await session.scalars(select(Team).where(Team.tenant_id == tenant_id).order_by(Team.id))
    return list(rows.all())


async def reps(session: AsyncSession, *, tenant_id: str) -> list[Rep]:
    """All reps of a tenant."""
    rows = await session.scalars(select(Rep).where(Rep.tenant_id == tenant_id).order_by(Rep.id))
    return list(rows.all())


async def memberships(
    session: AsyncSession, *, tenant_id: str, rep_ids: Sequence[str] | None = None
) -> list[RepMembership]:
    """Memberships of a tenant (or of some reps), oldest first."""
    stmt = select(RepMembership).where(RepMembership.tenant_id == tenant_id)
    if rep_ids is not None:
        stmt = stmt.where(RepMembership.rep_id.in_(list(rep_ids)))
    stmt = stmt.order_by(RepMembership.rep_id, RepMembership.valid_from, RepMembership.id)
    return list((await session.scalars(stmt)).all())


async def close_membership(session: AsyncSession, *, membership_id: int, valid_to: date) -> None:
    """End a membership."""
    await session.execute(
        update(RepMembership).where(RepMembership.id == membership_id).values(valid_to=valid_to)
    )


async def delete_membership(session: AsyncSession, *, membership: RepMembership) -> None:
    """Remove a membership that never took effect."""
    await session.delete(membership)


async def role_spans(
    session: AsyncSession, *, tenant_id: str, rep_ids: Sequence[str] | None = None
) -> list[RepRoleSpan]:
    """The role spans of a tenant's reps (or of some), oldest first."""
    stmt = select(RepRoleSpan).where(RepRoleSpan.tenant_id == tenant_id)
    if rep_ids is not None:
        stmt = stmt.where(RepRoleSpan.rep_id.in_(list(rep_ids)))
    stmt = stmt.order_by(RepRoleSpan.rep_id, RepRoleSpan.valid_from, RepRoleSpan.id)
    return list((await session.scalars(stmt)).all())


async def close_role_span(session: AsyncSession, *, span_id: int, valid_to: date) -> None:
    """End a role span."""
    await session.execute(
        update(RepRoleSpan).where(RepRoleSpan.id == span_id).values(valid_to=valid_to)
    )


async def delete_role_span(session: AsyncSession, *, span: RepRoleSpan) -> None:
    """Remove a role span (a back-dated change replaces it)."""
    await session.delete(span)
