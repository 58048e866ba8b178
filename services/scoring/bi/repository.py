"""SQL of the BI progress snapshot: replace a tenant's rows."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models_bi import BiProgress


async def replace(session: AsyncSession, *, tenant_id: str, rows: Sequence[BiProgress]) -> None:
    """The tenant's snapshot becomes ``rows`` (in the caller's transaction)."""
    await session.execute(delete(BiProgress).where(BiProgress.tenant_id == tenant_id))
    session.add_all(rows)
    await session.flush()
