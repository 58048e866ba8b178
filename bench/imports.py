"""History import (issue 4): rows per second into the facts, against a plain ``COPY``.

The product is :func:`paceline.ingest.imports.service.run_import` (what ``paceline import``
and ``POST /v1/imports`` run) reading a CSV file from disk, with a scoring worker running
in the same process: from the first row read to the moment scoring has applied every
appended event (its stored log positions reach the run's), so the figure is rows per
second "all applied in the facts". The baseline is ``COPY staging FROM the same file``
(asyncpg ``copy_to_table``, CSV with header) into a table of text columns on the same
PostgreSQL: the fastest way the file's rows get into that database at all.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
from sqlalchemy.engine import make_url

from bench import harness
from paceline.ingest.imports.schemas import ImportMapping
from paceline.ingest.imports.service import run_import
from paceline.scoring.worker import ScoringWorker
from paceline.shared.clock import SystemClock
from paceline.shared.db import import_runs as imports_repo
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.migrate import upgrade
from paceline.shared.db.session import Database
from paceline.shared.eventlog import EventLog
from paceline.shared.eventlog.embedded import EmbeddedEventLog
from paceline.shared.eventlog.kafka import KafkaEventLog
from paceline.shared.web.deps import Auditor

TITLE = "History import: rows per second into the facts"

ABOUT = """\
**Data.** A CSV export of a year of CRM history with canonical column names (no mapping
needed): 200,000 rows (`--quick`: 20,000) for 100 reps — won and lost deals (record id
and version), quotes, visits and payments — each row a different record, as an export of
past activity is.

**Product.** `run_import` (the code behind `paceline import` and `POST /v1/imports`)
reads the file from disk, maps and validates every row like `POST /v1/events`, derives
idempotent event ids, and appends batches of 5,000 events to the event log; a scoring
worker in the same process applies them. Timed from the first row read until scoring has
applied every appended event (its stored positions reach the run's): **rows per second
all the way into the facts**. Also timed: the import's own part (until the last append
returned), and a second import of the same file (nothing new: every id is known).

**Baseline.** `COPY staging FROM STDIN (FORMAT csv, HEADER)` of the same file into a
table of text columns on the same PostgreSQL (asyncpg `copy_to_table`): the floor of
getting those rows into that database at all, with no parsing, validation, log or
facts. **Ratio = product / baseline (higher is better)**: the share of raw `COPY` speed
the whole pipeline keeps. Distributed mode: PostgreSQL + Kafka (3 partitions); embedded
mode: SQLite + the embedded log, against the same PostgreSQL `COPY`.
"""

TENANT = "bench"
COLUMNS = [
    "event_id",
    "type",
    "occurred_at",
    "rep_id",
    "customer_id",
    "entity_id",
    "version",
    "stage",
    "amount",
    "quote_status",
    "channel",
    "amount_paid",
    "paid_at",
]


def write_history(path: Path, rows: int, *, seed: int = 4) -> None:
    """A year of mixed history as CSV (deterministic for a seed)."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
    header = [c if c != "quote_status" else "status" for c in COLUMNS]
    header.remove("event_id")  # ids are derived from record id + version, or the row
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i in range(rows):
            at = start + timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
            rep = f"rep-{rng.randrange(100):03d}"
            customer = f"cust-{rng.randrange(5000)}"
            kind = rng.choices(["visit", "quote", "deal", "payment"], [5, 2, 2, 1])[0]
            row = dict.fromkeys(header, "")
            row.update(type=kind, occurred_at=at.isoformat(), rep_id=rep, customer_id=customer)
            if kind == "deal":
                row.update(
                    entity_id=f"deal-{i}",
                    version="2",
                    stage=rng.choice(["won", "won", "lost"]),
                    amount=f"{rng.randrange(1000, 500000)}.00",
                )
            elif kind == "quote":
                row.update(entity_id=f"quote-{i}", version="1", status="sent")
            elif kind == "visit":
                row.update(channel=rng.choice(["onsite", "phone", "video"]))
            else:
                row.update(
                    entity_id=f"inv-{i}",
                    version="1",
                    amount_paid=f"{rng.randrange(100, 90000)}.00",
                    paid_at=at.isoformat(),
                )
            w.writerow([row[c] for c in header])


async def _create_pg_database(server_url: str, name: str) -> str:
    u = make_url(server_url)
    conn = await asyncpg.connect(host=u.host, port=u.port, user=u.username, database=u.database)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return u.set(database=name).render_as_string(hide_password=False)


async def copy_baseline(url: str, path: Path) -> float:
    """Rows per second of ``COPY staging FROM`` the file (a fresh table, text columns)."""
    u = make_url(url)
    conn = await asyncpg.connect(host=u.host, port=u.port, user=u.username, database=u.database)
    try:
        with path.open(encoding="utf-8") as f:
            header = next(csv.reader(f))
        cols = ", ".join(f'"{c}" text' for c in header)
        await conn.execute("DROP TABLE IF EXISTS staging")
        await conn.execute(f"CREATE TABLE staging ({cols})")
        started = time.perf_counter()
        result = await conn.copy_to_table("staging", source=str(path), format="csv", header=True)
        elapsed = time.perf_counter() - started
        rows = int(str(result).split()[-1])
    finally:
        await conn.close()
    return rows / elapsed


async def _wait_applied(db: Database, run_id: int, group: str, topic: str) -> None:
    deadline = time.monotonic() + 1800
    while True:
        async with db.transaction(write=False) as session:
            run = await imports_repo.get_run(session, tenant_id=TENANT, run_id=run_id)
            applied = await imports_repo.applied_positions(session, group_id=group, topic=topic)
        assert run is not None
        if imports_repo.is_applied(run, applied):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"scoring did not apply import {run_id}")
        await asyncio.sleep(0.05)


async def product(
    ctx: harness.Context, *, db_url: str, eventlog: EventLog, path: Path, rows: int
) -> dict[str, float]:
    """Rows per second: import only, into the facts, and a second (no-op) import."""
    await asyncio.to_thread(upgrade, db_url)
    db = Database(db_url)
    await eventlog.start()
    group = f"bench-imports-{uuid.uuid4().hex[:6]}"
    worker = ScoringWorker(
        db=db,
        eventlog=eventlog,
        clock=SystemClock(),
        group_id=group,
        batch_max=2000,
        poll_timeout_s=0.05,
        jobs_every_s=3600,
    )
    try:
        async with db.transaction() as session:
            await tenant_repo.ensure_tenant(
                session, tenant_id=TENANT, name="Bench", now=datetime.now(UTC)
            )
        task = asyncio.create_task(worker.run())
        digest = await asyncio.to_thread(lambda: hashlib.sha256(path.read_bytes()).hexdigest())

        async def once(name: str) -> tuple[Any, float]:
            started = time.perf_counter()
            with path.open(encoding="utf-8", newline="") as lines:
                out = await run_import(
                    db=db,
                    eventlog=eventlog,
                    tenant_id=TENANT,
                    name=name,
                    fmt="csv",
                    mapping=ImportMapping(),
                    lines=lines,
                    sha256=digest,
                    file_name=path.name,
                    auditor=Auditor(
                        session=None,  # run_import records in its own last transaction
                        actor="bench",
                        tenant_id=TENANT,
                        request_id=None,
                        clock=SystemClock(),
                    ),
                    clock=SystemClock(),
                )
            return out, started

        out, started = await once("history")
        appended = time.perf_counter()
        if out.rows_accepted != rows:
            raise RuntimeError(f"{out.rows_accepted} of {rows} rows accepted: {out.issues[:3]}")
        await _wait_applied(db, out.id, group, eventlog.topic)
        done = time.perf_counter()
        ctx.log(
            f"imported {rows:,} rows: appended in {appended - started:.1f} s, "
            f"applied in {done - started:.1f} s"
        )
        again, started2 = await once("history")
        second = time.perf_counter() - started2
        if again.rows_unchanged != rows:
            raise RuntimeError(f"re-import: {again.rows_unchanged} unchanged of {rows}")
        worker.stop()
        await asyncio.wait_for(task, 60)
        return {
            "facts": rows / (done - started),
            "append": rows / (appended - started),
            "again": rows / second,
        }
    finally:
        worker.stop()
        await eventlog.close()
        await db.dispose()


def _result(
    value: float, baseline: float, *, label: str, table: str, **extra: Any
) -> harness.Result:
    return {
        "value": round(value, 1),
        "baseline": round(baseline, 1),
        "ratio": round(value / baseline, 4) if baseline else None,
        "unit": "rows/s",
        "better": "higher",
        "label": label,
        "table": table,
        **extra,
    }


def run(ctx: harness.Context) -> dict[str, harness.Result]:
    """Write the file, COPY it, import it in both modes."""
    rows = 20_000 if ctx.quick else 200_000
    path = ctx.tmp / "history.csv"
    write_history(path, rows)
    size_mb = path.stat().st_size / 1e6
    ctx.note(f"File: {rows:,} rows, {size_mb:.1f} MB; batches of 5,000 events per log append.")
    pg_server = ctx.postgres()
    baseline_url = ctx.run_async(_create_pg_database(pg_server, "bench_imports_copy"))
    copies = [ctx.run_async(copy_baseline(baseline_url, path)) for _ in range(3)]
    copy_rate = sorted(copies)[1]
    ctx.log(f"COPY: {copy_rate:,.0f} rows/s (median of 3)")
    results: dict[str, harness.Result] = {}
    table = "History import vs COPY of the same file (rows per second)"
    pg_url = ctx.run_async(_create_pg_database(pg_server, "bench_imports"))
    kafka = KafkaEventLog(ctx.kafka(), topic=f"bench.imports.{uuid.uuid4().hex[:6]}", partitions=3)
    dist = ctx.run_async(product(ctx, db_url=pg_url, eventlog=kafka, path=path, rows=rows))
    sqlite_path = (ctx.tmp / "imports.db").resolve()
    embedded = EmbeddedEventLog(ctx.tmp / "eventlog.db", topic="bench.imports", partitions=4)
    emb = ctx.run_async(
        product(
            ctx,
            db_url=f"sqlite+aiosqlite:///{sqlite_path}",
            eventlog=embedded,
            path=path,
            rows=rows,
        )
    )
    for mode, figures in (("PostgreSQL + Kafka", dist), ("SQLite + embedded log", emb)):
        key = "distributed" if mode.startswith("Postgre") else "embedded"
        results[f"imports.{key}.facts"] = _result(
            figures["facts"],
            copy_rate,
            label=f"{mode}: import until applied in the facts",
            table=table,
            rows=rows,
        )
        results[f"imports.{key}.append"] = _result(
            figures["append"],
            copy_rate,
            label=f"{mode}: import until appended to the log",
            table=table,
            rows=rows,
        )
        results[f"imports.{key}.again"] = _result(
            figures["again"],
            copy_rate,
            label=f"{mode}: the same file again (nothing new)",
            table=table,
            rows=rows,
        )
    return results
