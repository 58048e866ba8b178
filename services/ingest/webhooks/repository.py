"""SQL for connectors and record snapshots; every query is scoped by tenant."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.ingest.webhooks.vendor_records import Snapshot
from paceline.shared.db.models_webhooks import WebhookConnector, WebhookRecord


async def connector_by_endpoint(
    session: AsyncSession, *, endpoint_id: str
) -> WebhookConnector | None:
    """The connector an endpoint id routes to."""
    return await session.scalar(
        select(WebhookConnector).where(WebhookConnector.endpoint_id == endpoint_id)
    )


async def connector(
    session: AsyncSession, *, tenant_id: str, source: str, for_update: bool = False
) -> WebhookConnector | None:
    """A tenant's connector for a source."""
    stmt = select(WebhookConnector).where(
        WebhookConnector.tenant_id == tenant_id, WebhookConnector.source == source
    )
    if for_update:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def list_connectors(session: AsyncSession, *, tenant_id: str) -> list[WebhookConnector]:
    """A tenant's connectors, by source."""
    rows = await session.scalars(
        select(WebhookConnector)
        .where(WebhookConnector.tenant_id == tenant_id)
        .order_by(WebhookConnector.source)
    )
    return list(rows.all())


async def load_snapshot(
    session: AsyncSession, *, tenant_id: str, source: str, object_type: str, record_id: str
) -> tuple[WebhookRecord | None, Snapshot]:
    """A record's snapshot, locked for update (empty if never seen)."""
    row = await session.scalar(
        select(WebhookRecord)
        .where(
            WebhookRecord.tenant_id == tenant_id,
            WebhookRecord.source == source,
            WebhookRecord.object_type == object_type,
            WebhookRecord.record_id == record_id,
        )
        .with_for_update()
    )
    if row is None:
        return None, Snapshot()
    return row, Snapshot.from_json(row.fields, row.deleted, row.deleted_at_us)


async def save_snapshot(
    session: AsyncSession,
    *,
    row: WebhookRecord | None,
    tenant_id: str,
    source: str,
    object_type: str,
    record_id: str,
    snapshot: Snapshot,
    now: datetime,
) -> WebhookRecord:
    """Store a snapshot (insert or update)."""
    if row is None:
        row = WebhookRecord(
            tenant_id=tenant_id,
            source=source,
            object_type=object_type,
            record_id=record_id,
        )
        session.add(row)
    row.fields = snapshot.to_json()
    row.deleted = snapshot.deleted
    row.deleted_at_us = snapshot.deleted_at_us
    row.updated_at = now
    await session.flush()
    return row
