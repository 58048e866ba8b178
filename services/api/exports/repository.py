"""Reads of the exports: reps with their names and current teams."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Rep, RepMembership


async def rep_names_and_teams(
    session: AsyncSession, *, tenant_id: str, rep_ids: Sequence[str]
) -> dict[str, tuple[str | None, str | None]]:
    """rep id -> (name, current team) for the reps the org chart knows."""
    if not rep_ids:
        return {}
    rows = await session.execute(
        select(Rep.id, Rep.name, RepMembership.team_id)
        .outerjoin(
            RepMembership,
            (RepMembership.tenant_id == Rep.tenant_id)
            & (RepMembership.rep_id == Rep.id)
            & RepMembership.valid_to.is_(None),
        )
        .where(Rep.tenant_id == tenant_id, Rep.id.in_(list(rep_ids)))
    )
    return {rep: (name, team) for rep, name, team in rows.all()}
