"""Read the audit log: filters and a cursor."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.audit import repository
from paceline.api.audit.schemas import AuditEntryOut, AuditPage
from paceline.shared.errors import FieldError, InvalidInput
from paceline.shared.i18n import msg


async def audit_page(
    session: AsyncSession,
    *,
    tenant_id: str,
    cursor: str | None,
    limit: int,
    action: str | None,
    actor: str | None,
    target: str | None,
    start: datetime | None,
    end: datetime | None,
) -> AuditPage:
    """The tenant's admin actions, newest first; ``action`` ending in ``*`` is a prefix."""
    if start is not None and end is not None and end <= start:
        raise InvalidInput(
            msg("audit.to_not_after_from"), fields=[FieldError("to", msg("audit.after_from"))]
        )
    before_id = None
    if cursor is not None:
        if re.fullmatch(r"[0-9]{1,18}", cursor) is None:  # ASCII digits ("²".isdigit() holds)
            raise InvalidInput(
                msg("audit.bad_cursor"), fields=[FieldError("cursor", msg("audit.use_next_cursor"))]
            )
        before_id = int(cursor)
    prefix = action[:-1] if action is not None and action.endswith("*") else None
    rows = await repository.page(
        session,
        tenant_id=tenant_id,
        before_id=before_id,
        limit=limit + 1,
        action=None if prefix is not None else action,
        action_prefix=prefix,
        actor=actor,
        target=target,
        start=start,
        end=end,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(
        items=[
            AuditEntryOut(
                id=r.id,
                at=r.at,
                actor=r.actor,
                action=r.action,
                target=r.target,
                before=r.before,
                after=r.after,
                request_id=r.request_id,
            )
            for r in rows
        ],
        next_cursor=str(rows[-1].id) if more and rows else None,
    )
