"""History imports: CSV or NDJSON rows -> canonical events -> the event log, with a report.

Where it runs: where the event log is. ``POST /v1/imports`` is an ingest route (in
distributed mode the api service has no event log) and ``paceline import`` appends to
the log directly; both call :func:`run_import`. Every row goes the way of
``POST /v1/events``: the mapping turns it into event data, :func:`validate_item` checks it
like any event, and accepted events are appended in batches of thousands (one log append
each) with source ``import:<name>``. Scoring then applies them like any other events.

Idempotent: a row without an ``event_id`` gets one derived from its record id and
version (or a digest of the normalised event), so importing the same file again appends
nothing new (ids scoring already stored are skipped here; any that slip through are
ignored by scoring). Rows repeated within a file are reported as duplicates.

Transactions: an import is a batch job, not a request that owns one transaction. It
records the run (``running``) in a short transaction, then appends batches to the log
while only reading the database (which ids exist), and records the counts and row issues
in one short transaction at the end. It never holds a write transaction while it waits
for the log, so scoring (SQLite has one writer) keeps applying the batches meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from paceline.ingest.events.service import _Item, validate_item
from paceline.ingest.imports.mapping import (
    Row,
    RowMapper,
    check_mapping,
    content_digest,
    csv_rows,
    derived_event_id,
    ndjson_rows,
)
from paceline.ingest.imports.schemas import ImportMapping
from paceline.shared import metrics
from paceline.shared.clock import Clock
from paceline.shared.db import import_runs as repo
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.models_import_runs import ImportRun
from paceline.shared.db.session import Database
from paceline.shared.errors import EventLogUnavailable, NotFound
from paceline.shared.eventlog import EventLog, LogRecord
from paceline.shared.events import CanonicalEvent, Envelope
from paceline.shared.i18n import DEFAULT_LOCALE, Msg, msg
from paceline.shared.import_report import (
    ImportOut,
    import_source,
    msg_of_text,
    problem,
    run_out,
    stored_text,
)
from paceline.shared.web.deps import Auditor

BATCH_SIZE: Final = 5000
# Row issues kept per run (the counts stay exact beyond it; a warning says so).
MAX_STORED_ISSUES: Final = 100_000
MAX_ROW_BYTES: Final = 4096
# Rows mapped between two turns of the event loop (a row is bounded: 500 cells of 10,000
# characters at most), so one import never holds the other requests back for long.
YIELD_EVERY: Final = 200
_PLACEHOLDER_ID: Final = "\x1fimport-pending"


@dataclass
class _Progress:
    total: int = 0
    accepted: int = 0
    unchanged: int = 0
    duplicate: int = 0
    rejected: int = 0
    issues: list[dict[str, Any]] = field(default_factory=list)
    positions: dict[int, int] = field(default_factory=dict)
    dropped_issues: int = 0

    def issue(self, **row: Any) -> None:
        if len(self.issues) < MAX_STORED_ISSUES:
            self.issues.append(row)
        else:
            self.dropped_issues += 1


def _row_for_report(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {}
    out: dict[str, Any] = {}
    size = 0
    for k, v in raw.items():
        text = v if isinstance(v, str | int | float | bool) or v is None else str(v)
        size += len(str(k)) + len(str(text))
        if size > MAX_ROW_BYTES:
            out["…"] = "truncated"
            break
        out[str(k)] = text
    return out


def _event_for(
    row: Row, mapper: RowMapper, *, now: datetime
) -> tuple[CanonicalEvent | None, list[dict[str, Any]]]:
    """The row's canonical event, or its problems (field and reason each: a catalog code
    and parameters, and the English text for logs and older readers)."""
    if row.parse_error is not None:
        reason = msg("imports.row.line", line=row.line, reason=row.parse_error)
        return None, [problem("(row)", reason)]
    data, problems = mapper.map(row.raw)
    if problems:
        return None, [
            problem(p.field, p.reason if isinstance(p.reason, Msg) else msg_of_text(p.reason))
            for p in problems
        ]
    placeholder = data.get("event_id") is None
    if placeholder:
        data["event_id"] = _PLACEHOLDER_ID
    event, result = validate_item(_Item(row.line, data), now=now)
    if event is None:
        return None, [problem(e.field, e.msg()) for e in result.errors]
    if placeholder:
        event = event.model_copy(update={"event_id": derived_event_id(event)})
    return event, []


async def _flush(
    batch: list[tuple[int, CanonicalEvent]],
    progress: _Progress,
    *,
    db: Database,
    eventlog: EventLog,
    tenant_id: str,
    source: str,
    run_id: int,
    now: datetime,
) -> None:
    """Append a batch (minus what scoring already stored) in one log append."""
    async with db.transaction(write=False) as session:
        known = await repo.existing_event_ids(
            session, tenant_id=tenant_id, source=source, event_ids=[e.event_id for _l, e in batch]
        )
    records = []
    for _line, event in batch:
        if event.event_id in known:
            progress.unchanged += 1
            continue
        envelope = Envelope(
            tenant_id=tenant_id,
            source=source,
            received_at=now,
            request_id=f"import:{run_id}",
            event=event,
        )
        records.append(
            LogRecord(
                key=envelope.partition_key(),
                value=envelope.model_dump_json(exclude_none=True).encode(),
            )
        )
    if records:
        positions = await eventlog.append(records)
        for pos in positions:
            progress.positions[pos.partition] = max(
                progress.positions.get(pos.partition, 0), pos.offset + 1
            )
        progress.accepted += len(records)
    batch.clear()


def rows_of(fmt: str, lines: Iterable[str], mapping: ImportMapping) -> Iterator[Row]:
    """The rows of a file in a format."""
    if fmt == "ndjson":
        return ndjson_rows(lines)
    _header, rows = csv_rows(lines, delimiter=mapping.delimiter)
    return rows


async def run_import(
    *,
    db: Database,
    eventlog: EventLog,
    tenant_id: str,
    name: str,
    fmt: str,
    mapping: ImportMapping,
    lines: Iterable[str],
    sha256: str,
    file_name: str | None,
    auditor: Auditor,
    clock: Clock,
    batch_size: int = BATCH_SIZE,
    locale: str = DEFAULT_LOCALE,
    warnings: Sequence[Msg] = (),
) -> ImportOut:
    """Import a file's rows; the stored run with its report (see the module docstring).

    ``auditor`` names who imports (the run's ``created_by``) and records ``imports.run``
    in the run's last transaction. ``warnings`` are the file's own (a detected charset).
    """
    now = clock.now()
    async with db.transaction(write=False) as session:
        tenant = await tenant_repo.get_tenant(session, tenant_id=tenant_id)
    if tenant is None:
        raise NotFound(msg("imports.no_tenant", tenant=tenant_id))
    tz = check_mapping(mapping, default_tz=tenant.timezone)
    rows = rows_of(fmt, lines, mapping)  # a bad header is refused before the run exists
    source = import_source(name)
    mapping_data = mapping.model_dump(exclude_defaults=True)
    async with db.transaction() as session:
        run = ImportRun(
            tenant_id=tenant_id,
            name=name,
            source=source,
            format=fmt,
            file_name=file_name,
            sha256=sha256,
            mapping=mapping_data,
            status="running",
            rows_total=0,
            rows_accepted=0,
            rows_unchanged=0,
            rows_duplicate=0,
            rows_rejected=0,
            warnings=[],
            positions={},
            created_by=auditor.actor,
            started_at=now,
        )
        session.add(run)
        await session.flush()
        run_id = run.id
    mapper = RowMapper(mapping, tz=tz)
    progress = _Progress()
    seen: dict[str, tuple[int, str]] = {}
    batch: list[tuple[int, CanonicalEvent]] = []
    error: Msg | None = None
    failure: EventLogUnavailable | None = None
    try:
        for row in rows:
            progress.total += 1
            if progress.total % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # rejected rows never flush: let requests in anyway
            event, problems = _event_for(row, mapper, now=now)
            if event is None:
                progress.rejected += 1
                progress.issue(
                    line=row.line,
                    status="rejected",
                    event_id=row.raw.get("event_id") if isinstance(row.raw, dict) else None,
                    errors=problems,
                    row=_row_for_report(row.raw),
                )
                continue
            digest = content_digest(event)
            first = seen.get(event.event_id)
            if first is not None:
                progress.duplicate += 1
                same = first[1] == digest
                progress.issue(
                    line=row.line,
                    status="duplicate",
                    event_id=event.event_id,
                    errors=[
                        problem(
                            "event_id",
                            msg("imports.row.repeats", line=first[0])
                            if same
                            else msg("imports.row.repeats_other", line=first[0]),
                        )
                    ],
                    row=_row_for_report(row.raw),
                )
                continue
            seen[event.event_id] = (row.line, digest)
            batch.append((row.line, event))
            if len(batch) >= batch_size:
                await _flush(
                    batch,
                    progress,
                    db=db,
                    eventlog=eventlog,
                    tenant_id=tenant_id,
                    source=source,
                    run_id=run_id,
                    now=now,
                )
                await asyncio.sleep(0)  # let requests in between batches
        if batch:
            await _flush(
                batch,
                progress,
                db=db,
                eventlog=eventlog,
                tenant_id=tenant_id,
                source=source,
                run_id=run_id,
                now=now,
            )
    except EventLogUnavailable as exc:
        error = msg("imports.log_refused", count=progress.accepted, reason=str(exc))
        failure = exc
    all_warnings = [*warnings, *mapper.warnings.values()]
    if progress.dropped_issues:
        all_warnings.append(
            msg("imports.issues_dropped", count=progress.dropped_issues, max=MAX_STORED_ISSUES)
        )
    for result, count in (
        ("accepted", progress.accepted),
        ("unchanged", progress.unchanged),
        ("duplicate", progress.duplicate),
        ("rejected", progress.rejected),
    ):
        if count:
            metrics.IMPORT_ROWS.labels(result=result).inc(count)
    async with db.transaction() as session:
        stored = await repo.get_run(session, tenant_id=tenant_id, run_id=run_id)
        assert stored is not None
        stored.status = "failed" if failure is not None else "completed"
        stored.rows_total = progress.total
        stored.rows_accepted = progress.accepted
        stored.rows_unchanged = progress.unchanged
        stored.rows_duplicate = progress.duplicate
        stored.rows_rejected = progress.rejected
        stored.warnings = [stored_text(w) for w in all_warnings]
        stored.positions = {str(p): o for p, o in sorted(progress.positions.items())}
        stored.finished_at = clock.now()
        stored.error = stored_text(error) if error is not None else None
        await repo.add_issues(
            session,
            [{"import_id": run_id, "tenant_id": tenant_id, **i} for i in progress.issues],
        )
        await auditor.bound(session).record(
            "imports.run",
            target=f"import:{run_id}",
            after={
                "name": name,
                "format": fmt,
                "file_name": file_name,
                "sha256": sha256,
                "status": stored.status,
                "rows_total": progress.total,
                "rows_accepted": progress.accepted,
                "rows_rejected": progress.rejected,
            },
            tenant_id=tenant_id,
        )
        first_issues = await repo.issues(session, tenant_id=tenant_id, run_id=run_id, limit=1000)
        out = run_out(stored, issues=first_issues, locale=locale)
    if failure is not None:
        raise failure
    return out
