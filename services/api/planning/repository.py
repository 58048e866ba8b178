"""SQL of planning that no other domain reads (the org chart and targets live in the
read model, :mod:`paceline.shared.readmodel`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Event, RepMembership


async def events_since(
    session: AsyncSession,
    *,
    tenant_id: str,
    since: datetime,
    types: Collection[str] | None,
    rep_id: str | None = None,
    team_ids: Sequence[str] | None = None,
) -> bool:
    """Whether events of ``types`` (any type if None) arrived since ``since``, for one rep
    or for reps who were in ``team_ids`` at any time since."""
    conds: list[ColumnElement[bool]] = [Event.tenant_id == tenant_id, Event.occurred_at >= since]
    if types is not None:
        conds.append(Event.type.in_(sorted(types)))
    if rep_id is not None:
        conds.append(Event.rep_id == rep_id)
    if team_ids is not None:
        m = RepMembership
        conds.append(
            exists().where(
                m.tenant_id == tenant_id,
                m.rep_id == Event.rep_id,
                m.team_id.in_(list(team_ids)),
                or_(m.valid_to.is_(None), m.valid_to > since.date()),
            )
        )
    return bool(await session.scalar(select(exists().where(*conds))))
