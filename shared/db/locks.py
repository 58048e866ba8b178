"""Per-tenant locks on the facts: streaming batches share, rebuilds and month closes
take it alone (PostgreSQL advisory locks held until the transaction ends; on SQLite every
write transaction is already exclusive)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def lock_facts(session: AsyncSession, *, tenant_ids: Iterable[str], exclusive: bool) -> None:
    """Take the facts lock of each tenant (in id order, so two callers never deadlock)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    for tenant_id in sorted(set(tenant_ids)):
        await session.execute(
            text(f"SELECT {fn}(hashtext(:key))"), {"key": f"paceline-facts:{tenant_id}"}
        )
