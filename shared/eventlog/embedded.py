"""The embedded event log: a durable, partitioned log in one SQLite file.

Same semantics as the Kafka log: a record's key picks its partition (Kafka's murmur2
partitioner), offsets grow by one per partition, an append returns only after the
transaction that holds it is committed with ``synchronous=FULL`` (the WAL is fsynced),
and consumer groups keep committed positions.

Appends are group-committed: concurrent ``append`` calls that arrive while a write is in
flight are written together in the next transaction, which is what makes single-event
HTTP ingest fast on one fsync per batch instead of one per request.

Consumers in the same process are woken by the append; consumers in other processes
(``paceline scoring`` next to ``paceline ingest`` on one data directory) poll. One
consumer per group reads all partitions; the scoring service's database-held positions
keep its effect exactly-once even if two were started by mistake.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from paceline.shared.errors import EventLogUnavailable
from paceline.shared.eventlog.base import (
    ConsumedRecord,
    EventLog,
    LogConsumer,
    LogPosition,
    LogRecord,
    PositionsProvider,
    partition_for,
)
from paceline.shared.files import private_file

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log_topics (
    topic TEXT PRIMARY KEY,
    partitions INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS log_records (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    "offset" INTEGER NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    ts_ms INTEGER NOT NULL,
    PRIMARY KEY (topic, partition, "offset")
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log_group_offsets (
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
) WITHOUT ROWID;
"""


def _connect(path: Path) -> sqlite3.Connection:
    private_file(path)  # mode 0600: the events are the tenants' data
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class EmbeddedEventLog(EventLog):
    """A durable event log in a SQLite file, with Kafka's partitioning and offsets."""

    def __init__(
        self,
        path: Path,
        *,
        topic: str = "paceline.events",
        partitions: int = 4,
        poll_interval_s: float = 0.05,
    ) -> None:
        self.path = path
        self.topic = topic
        self.partitions = partitions
        self.poll_interval_s = poll_interval_s
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._pending: list[tuple[Sequence[LogRecord], asyncio.Future[list[LogPosition]]]] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._appended = asyncio.Condition()
        self._closed = True
        self._failure: str | None = None

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        assert self._executor is not None
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def start(self) -> None:
        """Open the file (creating it and the topic if needed) and start the writer."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eventlog")
        self._conn = await self._run(_connect, self.path)
        await self._run(self._init_sync)
        self._closed = False
        self._writer = asyncio.create_task(self._write_loop(), name="eventlog-writer")

    def _init_sync(self) -> None:
        assert self._conn is not None
        self._conn.executescript(_SCHEMA)
        row = self._conn.execute(
            "SELECT partitions FROM log_topics WHERE topic = ?", (self.topic,)
        ).fetchone()
        if row is None:
            self._conn.execute(
                "INSERT INTO log_topics (topic, partitions) VALUES (?, ?)",
                (self.topic, self.partitions),
            )
        else:
            # Like a Kafka topic, the partition count is fixed when the topic is created.
            self.partitions = int(row[0])

    async def close(self) -> None:
        """Finish pending appends, then close the file."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        if self._writer is not None:
            await self._writer
        if self._conn is not None:
            await self._run(self._conn.close)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._conn = None
        async with self._appended:
            self._appended.notify_all()

    async def append(self, records: Sequence[LogRecord]) -> list[LogPosition]:
        """Append records durably; return their partitions and offsets."""
        if self._closed:
            raise EventLogUnavailable("the event log is closed", retry_after_s=5)
        if not records:
            return []
        fut: asyncio.Future[list[LogPosition]] = asyncio.get_running_loop().create_future()
        self._pending.append((records, fut))
        self._wake.set()
        return await fut

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if batch:
                try:
                    positions = await self._run(
                        self._write_sync, [r for recs, _ in batch for r in recs]
                    )
                    self._failure = None
                except Exception as exc:  # any failure fails this batch, never the writer
                    self._failure = f"{type(exc).__name__}: {exc}"
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(
                                EventLogUnavailable(
                                    "the event log could not write", retry_after_s=5
                                )
                            )
                else:
                    i = 0
                    for recs, fut in batch:
                        if not fut.done():
                            fut.set_result(positions[i : i + len(recs)])
                        i += len(recs)
                    async with self._appended:
                        self._appended.notify_all()
            if self._closed and not self._pending:
                return

    def _write_sync(self, records: Sequence[LogRecord]) -> list[LogPosition]:
        conn = self._conn
        assert conn is not None
        now_ms = int(time.time() * 1000)
        conn.execute("BEGIN IMMEDIATE")
        try:
            next_offset: dict[int, int] = {}
            rows = []
            positions = []
            for rec in records:
                p = partition_for(rec.key, self.partitions)
                if p not in next_offset:
                    (mx,) = conn.execute(
                        'SELECT MAX("offset") FROM log_records WHERE topic = ? AND partition = ?',
                        (self.topic, p),
                    ).fetchone()
                    next_offset[p] = 0 if mx is None else int(mx) + 1
                off = next_offset[p]
                next_offset[p] = off + 1
                rows.append((self.topic, p, off, rec.key, rec.value, now_ms))
                positions.append(LogPosition(p, off))
            conn.executemany(
                'INSERT INTO log_records (topic, partition, "offset", key, value, ts_ms) '
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        return positions

    async def check(self) -> None:
        """Raise EventLogUnavailable unless appends can be written."""
        if self._closed or self._conn is None:
            raise EventLogUnavailable("the event log is closed", retry_after_s=5)
        if self._failure is not None:
            # The last write failed: only a write shows whether writes work again.
            try:
                await self._run(self._probe_write_sync)
            except sqlite3.Error:
                raise EventLogUnavailable(
                    f"the event log is failing: {self._failure}", retry_after_s=5
                ) from None
            self._failure = None

    def _probe_write_sync(self) -> None:
        assert self._conn is not None
        self._conn.execute("BEGIN IMMEDIATE")
        self._conn.execute("ROLLBACK")

    async def end_offsets(self) -> dict[int, int]:
        """Next offset per partition."""
        if self._conn is None:
            raise EventLogUnavailable("the event log is closed", retry_after_s=5)
        return await self._run(self._end_offsets_sync)

    def _end_offsets_sync(self) -> dict[int, int]:
        assert self._conn is not None
        out = dict.fromkeys(range(self.partitions), 0)
        for p, mx in self._conn.execute(
            'SELECT partition, MAX("offset") FROM log_records WHERE topic = ? GROUP BY partition',
            (self.topic,),
        ):
            out[int(p)] = int(mx) + 1
        return out

    async def commit_group(self, group_id: str, positions: Mapping[int, int]) -> None:
        """Store a consumer group's next offsets."""
        if self._closed or self._conn is None:
            raise EventLogUnavailable("the event log is closed", retry_after_s=5)
        await self._run(self._commit_sync, group_id, dict(positions))

    def _commit_sync(self, group_id: str, positions: dict[int, int]) -> None:
        assert self._conn is not None
        self._conn.executemany(
            "INSERT INTO log_group_offsets (group_id, topic, partition, next_offset) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (group_id, topic, partition) "
            "DO UPDATE SET next_offset = excluded.next_offset",
            [(group_id, self.topic, p, o) for p, o in positions.items()],
        )

    async def group_offsets(self, group_id: str) -> dict[int, int]:
        """A consumer group's committed next offsets."""
        if self._conn is None:
            raise EventLogUnavailable("the event log is closed", retry_after_s=5)
        return await self._run(self._group_offsets_sync, group_id)

    def _group_offsets_sync(self, group_id: str) -> dict[int, int]:
        assert self._conn is not None
        return {
            int(p): int(o)
            for p, o in self._conn.execute(
                "SELECT partition, next_offset FROM log_group_offsets "
                "WHERE group_id = ? AND topic = ?",
                (group_id, self.topic),
            )
        }

    async def wait_for_append(self, timeout_s: float) -> None:
        """Return when something was appended in this process, or after the timeout."""
        async with self._appended:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._appended.wait(), timeout_s)

    def consumer(self, group_id: str) -> LogConsumer:
        """A consumer that owns every partition of the topic."""
        return EmbeddedLogConsumer(self, group_id)


class EmbeddedLogConsumer(LogConsumer):
    """Reads the embedded log; owns all partitions."""

    def __init__(self, log: EmbeddedEventLog, group_id: str) -> None:
        self._log = log
        self.group_id = group_id
        self._positions: dict[int, int] = {}
        self._conn: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        assert self._executor is not None
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def start(self, positions: PositionsProvider) -> None:
        """Open a reader connection and start where the provider says."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eventlog-read")
        self._conn = await self._run(_connect, self._log.path)
        assigned = frozenset(range(self._log.partitions))
        given = await positions(assigned)
        self._positions = {p: int(given.get(p, 0)) for p in assigned}

    def assignment(self) -> frozenset[int]:
        """All partitions."""
        return frozenset(self._positions)

    async def seek(self, positions: Mapping[int, int]) -> None:
        """Continue from these offsets."""
        for p, o in positions.items():
            if p in self._positions:
                self._positions[p] = int(o)

    def _fetch_sync(self, positions: dict[int, int], max_records: int) -> list[ConsumedRecord]:
        assert self._conn is not None
        out: list[ConsumedRecord] = []
        parts = sorted(positions)
        nxt = dict(positions)
        # Fair shares first so no partition starves, then what the others left unused.
        share = max(1, max_records // max(1, len(parts)))
        for fair in (True, False):
            for p in parts:
                room = max_records - len(out)
                if room <= 0:
                    return out
                for off, key, value, ts in self._conn.execute(
                    'SELECT "offset", key, value, ts_ms FROM log_records WHERE topic = ? '
                    'AND partition = ? AND "offset" >= ? ORDER BY "offset" LIMIT ?',
                    (self._log.topic, p, nxt[p], min(room, share) if fair else room),
                ):
                    out.append(ConsumedRecord(p, int(off), bytes(key), bytes(value), int(ts)))
                    nxt[p] = int(off) + 1
        out.sort(key=lambda r: (r.partition, r.offset))
        return out

    async def getmany(self, *, max_records: int, timeout_s: float) -> list[ConsumedRecord]:
        """Up to ``max_records`` records; waits up to ``timeout_s`` for some."""
        if self._conn is None:
            raise EventLogUnavailable("the consumer is not started", retry_after_s=1)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            try:
                records: list[ConsumedRecord] = await self._run(
                    self._fetch_sync, dict(self._positions), max_records
                )
            except sqlite3.Error as exc:
                raise EventLogUnavailable(f"cannot read the event log: {exc}") from None
            if records:
                for r in records:
                    self._positions[r.partition] = r.offset + 1
                return records
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return []
            await self._log.wait_for_append(min(left, self._log.poll_interval_s))

    async def commit(self, positions: Mapping[int, int]) -> None:
        """Store the group's next offsets in the log file."""
        await self._log.commit_group(self.group_id, positions)

    async def close(self) -> None:
        """Close the reader connection."""
        if self._conn is not None:
            await self._run(self._conn.close)
            self._conn = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
