"""Raising and resolving alerts, deduplicated by key (one row per key, with occurrences)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Alert


async def raise_alert(
    session: AsyncSession,
    *,
    tenant_id: str,
    kind: str,
    type: str,
    dedup_key: str,
    scope: str,
    severity: str,
    title: str,
    detail: dict[str, Any],
    now: datetime,
) -> None:
    """Open an alert, or count one more occurrence of it (reopening it if resolved)."""
    insert = (
        postgresql.insert(Alert)
        if session.get_bind().dialect.name == "postgresql"
        else sqlite.insert(Alert)
    )
    stmt = insert.values(
        tenant_id=tenant_id,
        kind=kind,
        type=type,
        dedup_key=dedup_key,
        scope=scope,
        severity=severity,
        status="open",
        title=title,
        detail=detail,
        occurrences=1,
        first_seen_at=now,
        last_seen_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant_id", "dedup_key"],
        set_={
            "occurrences": Alert.occurrences + 1,
            "last_seen_at": now,
            "detail": stmt.excluded.detail,
            "severity": stmt.excluded.severity,
            "title": stmt.excluded.title,
            "status": case((Alert.status == "resolved", "open"), else_=Alert.status),
            "resolved_at": case((Alert.status == "resolved", None), else_=Alert.resolved_at),
        },
    )
    await session.execute(stmt)


async def resolve_alerts(
    session: AsyncSession, *, tenant_id: str, dedup_keys: list[str], now: datetime
) -> None:
    """Resolve open or acknowledged alerts by key."""
    if not dedup_keys:
        return
    await session.execute(
        update(Alert)
        .where(
            Alert.tenant_id == tenant_id,
            Alert.dedup_key.in_(dedup_keys),
            Alert.status != "resolved",
        )
        .values(status="resolved", resolved_at=now)
    )
