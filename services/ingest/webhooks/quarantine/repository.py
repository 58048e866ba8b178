"""SQL for the quarantine; every query is scoped by tenant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models_webhooks import QuarantineItem


async def upsert(
    session: AsyncSession,
    *,
    tenant_id: str,
    source: str,
    item_key: str,
    object_type: str | None,
    record_id: str | None,
    reason_code: str,
    reason: str,
    item: dict[str, Any],
    now: datetime,
    request_id: str | None,
    fix: dict[str, Any] | None = None,
) -> QuarantineItem:
    """Keep an item (a resend of the same item updates its row and reopens it); ``fix``:
    what would fix it (a catalog code and parameters), kept in ``result``."""
    row = await session.scalar(
        select(QuarantineItem)
        .where(
            QuarantineItem.tenant_id == tenant_id,
            QuarantineItem.source == source,
            QuarantineItem.item_key == item_key,
        )
        .with_for_update()
    )
    if row is None:
        row = QuarantineItem(
            tenant_id=tenant_id,
            source=source,
            item_key=item_key,
            object_type=object_type,
            record_id=record_id,
            reason_code=reason_code,
            reason=reason,
            item=item,
            status="pending",
            occurrences=1,
            attempts=0,
            received_at=now,
            last_seen_at=now,
            request_id=request_id,
            result={"fix": fix} if fix is not None else None,
        )
        session.add(row)
    else:
        row.occurrences += 1
        row.last_seen_at = now
        row.reason_code = reason_code
        row.reason = reason
        row.item = item
        kept = {k: v for k, v in (row.result or {}).items() if k != "fix"}
        row.result = {**kept, "fix": fix} if fix is not None else (kept or None)
        if row.status != "pending":
            row.status = "pending"
            row.resolved_at = None
            row.resolved_by = None
    await session.flush()
    return row


async def get(session: AsyncSession, *, tenant_id: str, item_id: int) -> QuarantineItem | None:
    """One item of a tenant."""
    return await session.scalar(
        select(QuarantineItem).where(
            QuarantineItem.tenant_id == tenant_id, QuarantineItem.id == item_id
        )
    )


async def by_key(
    session: AsyncSession, *, tenant_id: str, source: str, item_key: str
) -> QuarantineItem | None:
    """An item by its key."""
    return await session.scalar(
        select(QuarantineItem).where(
            QuarantineItem.tenant_id == tenant_id,
            QuarantineItem.source == source,
            QuarantineItem.item_key == item_key,
        )
    )


async def list_items(
    session: AsyncSession,
    *,
    tenant_id: str,
    source: str | None = None,
    status: str | None = None,
    reason_code: str | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> list[QuarantineItem]:
    """Items by id, filtered."""
    stmt = select(QuarantineItem).where(QuarantineItem.tenant_id == tenant_id)
    if source is not None:
        stmt = stmt.where(QuarantineItem.source == source)
    if status is not None:
        stmt = stmt.where(QuarantineItem.status == status)
    if reason_code is not None:
        stmt = stmt.where(QuarantineItem.reason_code == reason_code)
    if after_id is not None:
        stmt = stmt.where(QuarantineItem.id > after_id)
    rows = await session.scalars(stmt.order_by(QuarantineItem.id).limit(limit))
    return list(rows.all())


async def pending_ids(
    session: AsyncSession,
    *,
    tenant_id: str,
    source: str,
    limit: int,
    reason_codes: Sequence[str] | None = None,
) -> list[int]:
    """Ids of a source's pending items (of these reasons, when given), oldest first."""
    stmt = select(QuarantineItem.id).where(
        QuarantineItem.tenant_id == tenant_id,
        QuarantineItem.source == source,
        QuarantineItem.status == "pending",
    )
    if reason_codes is not None:
        stmt = stmt.where(QuarantineItem.reason_code.in_(list(reason_codes)))
    rows = await session.scalars(stmt.order_by(QuarantineItem.id).limit(limit))
    return list(rows.all())


async def supersede_incomplete(
    session: AsyncSession,
    *,
    tenant_id: str,
    source: str,
    records: Sequence[tuple[str, str]],
    now: datetime,
) -> None:
    """Resolve pending ``incomplete`` items of records that now map completely."""
    for object_type, record_id in records:
        await session.execute(
            update(QuarantineItem)
            .where(
                QuarantineItem.tenant_id == tenant_id,
                QuarantineItem.source == source,
                QuarantineItem.object_type == object_type,
                QuarantineItem.record_id == record_id,
                QuarantineItem.status == "pending",
                QuarantineItem.reason_code == "incomplete",
            )
            .values(status="superseded", resolved_at=now, resolved_by="a later complete state")
        )
