"""Maintenance jobs one service asks another to run (e.g. the api asks scoring to rebuild)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Job


async def enqueue_job(
    session: AsyncSession,
    *,
    tenant_id: str,
    kind: str,
    now: datetime,
    params: dict[str, Any] | None = None,
) -> Job:
    """Ask for a job; a pending job of the same kind for the tenant is reused."""
    existing = await session.scalar(
        select(Job).where(Job.tenant_id == tenant_id, Job.kind == kind, Job.status == "pending")
    )
    if existing is not None:
        return existing
    job = Job(tenant_id=tenant_id, kind=kind, params=params or {}, status="pending", created_at=now)
    session.add(job)
    await session.flush()
    return job


async def claim_job(session: AsyncSession, *, kinds: Sequence[str], now: datetime) -> Job | None:
    """Take the oldest pending job of these kinds (no two workers take the same one)."""
    candidate = await session.scalar(
        select(Job)
        .where(Job.status == "pending", Job.kind.in_(list(kinds)))
        .order_by(Job.id)
        .limit(1)
    )
    if candidate is None:
        return None
    result = await session.execute(
        update(Job).where(Job.id == candidate.id, Job.status == "pending").values(status="running")
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    candidate.status = "running"
    return candidate


async def finish_job(
    session: AsyncSession,
    *,
    job: Job,
    now: datetime,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Mark a job done (or failed)."""
    await session.execute(
        update(Job)
        .where(Job.id == job.id)
        .values(status="failed" if error else "done", finished_at=now, result=result, error=error)
    )


async def get_job(session: AsyncSession, *, tenant_id: str, job_id: int) -> Job | None:
    """A tenant's job by id."""
    return await session.scalar(select(Job).where(Job.id == job_id, Job.tenant_id == tenant_id))
