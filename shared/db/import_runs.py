"""SQL for history import runs and their row issues (always scoped by tenant)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, any_, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import ConsumerOffset, Event
from paceline.shared.db.models_import_runs import ImportRowIssue, ImportRun


async def get_run(session: AsyncSession, *, tenant_id: str, run_id: int) -> ImportRun | None:
    """A tenant's import run."""
    return await session.scalar(
        select(ImportRun).where(ImportRun.tenant_id == tenant_id, ImportRun.id == run_id)
    )


async def list_runs(
    session: AsyncSession, *, tenant_id: str, name: str | None, before_id: int | None, limit: int
) -> list[ImportRun]:
    """A tenant's import runs, newest first."""
    stmt = select(ImportRun).where(ImportRun.tenant_id == tenant_id)
    if name is not None:
        stmt = stmt.where(ImportRun.name == name)
    if before_id is not None:
        stmt = stmt.where(ImportRun.id < before_id)
    return list((await session.scalars(stmt.order_by(ImportRun.id.desc()).limit(limit))).all())


async def issues(
    session: AsyncSession,
    *,
    tenant_id: str,
    run_id: int,
    status: str | None = None,
    after_line: int | None = None,
    limit: int = 1000,
) -> list[ImportRowIssue]:
    """Row issues of a run in line order."""
    stmt = select(ImportRowIssue).where(
        ImportRowIssue.tenant_id == tenant_id, ImportRowIssue.import_id == run_id
    )
    if status is not None:
        stmt = stmt.where(ImportRowIssue.status == status)
    if after_line is not None:
        stmt = stmt.where(ImportRowIssue.line > after_line)
    stmt = stmt.order_by(ImportRowIssue.line, ImportRowIssue.id).limit(limit)
    return list((await session.scalars(stmt)).all())


async def add_issues(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert row issues in bulk (dicts of ImportRowIssue columns)."""
    if rows:
        await session.execute(insert(ImportRowIssue), list(rows))


async def existing_event_ids(
    session: AsyncSession, *, tenant_id: str, source: str, event_ids: Sequence[str]
) -> set[str]:
    """The ids among ``event_ids`` that scoring has already stored for this source."""
    found: set[str] = set()
    ids = list(event_ids)
    postgres = session.get_bind().dialect.name == "postgresql"
    # PostgreSQL: one array parameter (= ANY), measured 30x faster through asyncpg than an
    # IN list of 1,000 parameters; SQLite: IN lists within its parameter limit.
    step = 10_000 if postgres else 1000
    for i in range(0, len(ids), step):
        chunk = ids[i : i + step]
        match = (
            Event.event_id == any_(bindparam("ids", value=chunk, type_=ARRAY(String)))
            if postgres
            else Event.event_id.in_(chunk)
        )
        rows = await session.scalars(
            select(Event.event_id).where(
                Event.tenant_id == tenant_id, Event.source == source, match
            )
        )
        found.update(rows.all())
    return found


async def applied_positions(session: AsyncSession, *, group_id: str, topic: str) -> dict[int, int]:
    """The scoring service's next offset per partition (what it has applied)."""
    rows = await session.execute(
        select(ConsumerOffset.partition, ConsumerOffset.next_offset).where(
            ConsumerOffset.group_id == group_id, ConsumerOffset.topic == topic
        )
    )
    return {int(p): int(o) for p, o in rows.all()}


def is_applied(run: ImportRun, applied: dict[int, int]) -> bool:
    """Whether every record the run appended lies below scoring's applied positions."""
    return all(applied.get(int(p), 0) >= int(o) for p, o in (run.positions or {}).items())


async def count_issues(session: AsyncSession, *, tenant_id: str, run_id: int) -> int:
    """How many row issues a run stored."""
    n = await session.scalar(
        select(func.count()).where(
            ImportRowIssue.tenant_id == tenant_id, ImportRowIssue.import_id == run_id
        )
    )
    return int(n or 0)
