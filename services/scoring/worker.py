"""The scoring worker: consume the event log, keep the facts, exactly once.

Commit order, per batch (the one place it is written down):

1. ``getmany`` a batch (offset order within each partition).
2. ``BEGIN`` a database transaction.
3. Lock the stored positions of the batch's partitions (``SELECT ... FOR UPDATE``; the
   write lock on SQLite). Records below a stored position were applied before (by us
   before a crash, or by another worker before a rebalance): drop them. A batch that
   starts beyond a stored position means our reading position is stale: roll back, seek
   to the stored positions, and read again.
4. Apply the batch (:func:`paceline.scoring.facts.service.apply_batch`): events, record
   states, fact deltas.
5. Store the new positions.
6. ``COMMIT``: the facts and the positions that produced them become durable together.
7. Commit the positions to the log's consumer group too (best effort, for lag reports).
8. Run the after-commit hooks (alert evaluation); they never change facts.

A crash anywhere before 6 redoes the batch from the stored positions and changes nothing
twice (the events table also refuses repeated event ids); after 6 nothing is redone. On
every partition assignment the consumer seeks to the stored positions, not to the log's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from paceline.scoring.facts import repository as repo
from paceline.scoring.facts.service import (
    BatchOutcome,
    FlagMemo,
    TenantLoader,
    apply_batch,
    rebuild_tenant,
)
from paceline.scoring.tenants import TenantCache
from paceline.shared import metrics
from paceline.shared.clock import Clock
from paceline.shared.db.jobs import claim_job, finish_job
from paceline.shared.db.session import Database
from paceline.shared.eventlog import ConsumedRecord, EventLog, LogConsumer

log = logging.getLogger(__name__)

AfterCommit = Callable[[BatchOutcome], Awaitable[None]]
# A batch's log line names at most this many ingest request ids (and says how many there were).
REQUEST_IDS_LOGGED = 100


@dataclass
class WorkerStats:
    """Counters the worker keeps (exported as metrics)."""

    batches: int = 0
    consumed: int = 0
    applied: int = 0
    repeated: int = 0
    unreadable: int = 0
    stale_batches: int = 0
    errors: int = 0
    last_batch_at: float = 0.0
    first_batch_started: float = 0.0  # perf_counter, for throughput measurements
    last_batch_done: float = 0.0  # perf_counter
    positions: dict[int, int] = field(default_factory=dict)


class ScoringWorker:
    """Consumes the event log in a consumer group and keeps the facts current."""

    def __init__(
        self,
        *,
        db: Database,
        eventlog: EventLog,
        clock: Clock,
        group_id: str,
        batch_max: int = 1000,
        poll_timeout_s: float = 0.2,
        load_tenant: TenantLoader | None = None,
        after_commit: Sequence[AfterCommit] = (),
        jobs_every_s: float = 2.0,
    ) -> None:
        self.db = db
        self.eventlog = eventlog
        self.clock = clock
        self.group_id = group_id
        self.batch_max = batch_max
        self.poll_timeout_s = poll_timeout_s
        self.load_tenant: TenantLoader = load_tenant or TenantCache()
        self.after_commit = list(after_commit)
        self.jobs_every_s = jobs_every_s
        self.stats = WorkerStats()
        self._consumer: LogConsumer | None = None
        self._stopping = asyncio.Event()
        self._stale: dict[tuple[int, int], int] = {}
        self._flagged = FlagMemo()
        # Set while no batch is being applied: work that shares this process's event loop
        # and can wait (the alert follower) waits for it, so that it does not stretch a
        # batch and with it the freshness of the facts (docs/PERFORMANCE.md).
        self._idle = asyncio.Event()
        self._idle.set()

    async def _stored_positions(self, partitions: frozenset[int]) -> Mapping[int, int]:
        async with self.db.transaction(write=False) as session:
            stored = await repo.read_positions(
                session, group_id=self.group_id, topic=self.eventlog.topic
            )
        return {p: o for p, o in stored.items() if p in partitions}

    async def run(self) -> None:
        """Consume until :meth:`stop`; survive database and log outages by retrying."""
        self._consumer = self.eventlog.consumer(self.group_id)
        delay = 0.5
        while not self._stopping.is_set():
            try:
                await self._consumer.start(self._stored_positions)
                break
            except Exception:  # the log or the database is not up yet: retry with backoff
                log.warning("scoring: cannot start the consumer yet; retrying", exc_info=True)
                await self._sleep(delay)
                delay = min(delay * 2, 5.0)
        next_jobs = 0.0
        next_lag = 0.0
        try:
            while not self._stopping.is_set():
                if time.monotonic() >= next_jobs:
                    await self._run_jobs()
                    next_jobs = time.monotonic() + self.jobs_every_s
                if time.monotonic() >= next_lag:
                    await self._report_lag()
                    next_lag = time.monotonic() + 5.0
                try:
                    batch = await self._consumer.getmany(
                        max_records=self.batch_max, timeout_s=self.poll_timeout_s
                    )
                    if batch:
                        await self.process(batch)
                        delay = 0.5
                except asyncio.CancelledError:
                    raise
                except Exception:  # never skip a batch: rewind to the stored positions
                    self.stats.errors += 1
                    metrics.SCORING_ERRORS.inc()
                    log.exception("scoring: batch failed; rewinding to stored positions")
                    await self._sleep(delay)
                    delay = min(delay * 2, 10.0)
                    with contextlib.suppress(Exception):
                        await self._rewind()
        finally:
            with contextlib.suppress(Exception):
                await self._consumer.close()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _rewind(self) -> None:
        assert self._consumer is not None
        owned = self._consumer.assignment()
        stored = await self._stored_positions(owned)
        await self._consumer.seek({p: stored.get(p, 0) for p in owned})

    def assignment(self) -> frozenset[int] | None:
        """The partitions this worker's consumer is assigned now (None before it joined):
        what this process's alert follower follows."""
        return self._consumer.assignment() if self._consumer is not None else None

    def stop(self) -> None:
        """Ask the loop to finish after the current batch."""
        self._stopping.set()

    async def wait_idle(self, max_wait_s: float = 0.5) -> None:
        """Return when no batch is being applied, or after ``max_wait_s`` at most (so that
        work which yields to the worker still progresses under continuous load)."""
        if self._idle.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), max_wait_s)

    async def process(self, batch: Sequence[ConsumedRecord]) -> BatchOutcome | None:
        """Apply one batch exactly once (see the module docstring for the order)."""
        assert self._consumer is not None
        started = time.perf_counter()
        if not self.stats.first_batch_started:
            self.stats.first_batch_started = started
        partitions = {r.partition for r in batch}
        now = self.clock.now()
        self._idle.clear()
        try:
            return await self._process(batch, partitions, now, started)
        finally:
            self._idle.set()

    async def _process(
        self,
        batch: Sequence[ConsumedRecord],
        partitions: set[int],
        now: datetime,
        started: float,
    ) -> BatchOutcome | None:
        assert self._consumer is not None
        try:
            async with self.db.transaction() as session:
                stored = await repo.lock_positions(
                    session,
                    group_id=self.group_id,
                    topic=self.eventlog.topic,
                    partitions=partitions,
                    now=now,
                )
                fresh: list[ConsumedRecord] = []
                stale: dict[int, int] = {}
                started_partitions: set[int] = set()
                for rec in batch:
                    expected = stored.get(rec.partition, 0)
                    if rec.offset < expected:
                        continue  # applied before
                    first_of_partition = rec.partition not in started_partitions
                    if (
                        first_of_partition
                        and rec.offset > expected
                        and not self._accept_gap(rec.partition, expected)
                    ):
                        stale[rec.partition] = expected
                        continue
                    if rec.partition in stale:
                        continue
                    started_partitions.add(rec.partition)
                    fresh.append(rec)
                outcome = await apply_batch(
                    session,
                    records=fresh,
                    topic=self.eventlog.topic,
                    load_tenant=self.load_tenant,
                    now=now,
                    flagged=self._flagged,
                )
                positions: dict[int, int] = {}
                for rec in fresh:
                    positions[rec.partition] = max(positions.get(rec.partition, 0), rec.offset + 1)
                await repo.save_positions(
                    session,
                    group_id=self.group_id,
                    topic=self.eventlog.topic,
                    positions=positions,
                    now=now,
                )
        except BaseException:
            self._flagged.rolled_back()  # its flags were not stored: raise them again
            raise
        self._flagged.committed()
        # Committed: the facts and their positions are durable together.
        elapsed = time.perf_counter() - started
        metrics.SCORING_BATCH_SECONDS.observe(elapsed)
        if outcome.new_events or outcome.unreadable:
            log.info(
                "scoring: applied %d new events (%d repeated, %d unreadable) from %d requests",
                outcome.new_events,
                outcome.repeated,
                outcome.unreadable,
                len(outcome.request_ids),
                extra={
                    "applied": outcome.new_events,
                    "repeated": outcome.repeated,
                    "unreadable": outcome.unreadable,
                    "records_changed": outcome.records_changed,
                    "tenants": sorted(outcome.touched_tenants),
                    # Bounded: a batch holds at most batch_max events.
                    "request_ids": outcome.request_ids[:REQUEST_IDS_LOGGED],
                    "request_ids_total": len(outcome.request_ids),
                    "positions": {str(p): o for p, o in sorted(positions.items())},
                    "duration_ms": round(elapsed * 1000, 1),
                },
            )
        metrics.SCORING_EVENTS.labels(outcome="applied").inc(outcome.new_events)
        metrics.SCORING_EVENTS.labels(outcome="repeated").inc(outcome.repeated)
        metrics.SCORING_EVENTS.labels(outcome="unreadable").inc(outcome.unreadable)
        committed_at = self.clock.now()
        for received in outcome.received_at:
            metrics.SCORING_FRESHNESS_SECONDS.observe(
                max(0.0, (committed_at - received).total_seconds())
            )
        if stale:
            self.stats.stale_batches += 1
            log.warning("scoring: stale read positions %s; seeking back", stale)
            await self._consumer.seek(stale)
        self.stats.batches += 1
        self.stats.consumed += len(batch)
        self.stats.applied += outcome.new_events
        self.stats.repeated += outcome.repeated
        self.stats.unreadable += outcome.unreadable
        self.stats.last_batch_at = time.time()
        self.stats.last_batch_done = time.perf_counter()
        self.stats.positions.update(positions)
        if positions:
            try:
                await self._consumer.commit(positions)
            except Exception:  # the group's copy is only for lag reports
                log.debug("scoring: could not commit positions to the log", exc_info=True)
        for hook in self.after_commit:
            try:
                await hook(outcome)
            except Exception:
                log.exception("scoring: after-commit hook failed")
        return outcome

    async def _report_lag(self) -> None:
        """Update the consumer-lag gauge: log end minus applied position, per partition."""
        assert self._consumer is not None
        try:
            ends = await self.eventlog.end_offsets()
            owned = self._consumer.assignment()
            stored = await self._stored_positions(owned)
        except Exception:  # lag is a report; an outage is reported elsewhere
            log.debug("scoring: could not measure lag", exc_info=True)
            return
        for p in owned:
            metrics.CONSUMER_LAG.labels(partition=str(p)).set(
                max(0, ends.get(p, 0) - stored.get(p, 0))
            )

    def _accept_gap(self, partition: int, expected: int) -> bool:
        """A gap that persists (records removed by log retention) is accepted after 3 tries."""
        key = (partition, expected)
        self._stale[key] = self._stale.get(key, 0) + 1
        if self._stale[key] > 3:
            log.error(
                "scoring: partition %s has no records from offset %s (log retention?); "
                "continuing after the gap",
                partition,
                expected,
            )
            del self._stale[key]
            return True
        return False

    async def _run_jobs(self) -> None:
        """Run pending maintenance jobs (fact rebuilds after settings or KPI changes)."""
        try:
            while True:
                async with self.db.transaction() as session:
                    job = await claim_job(session, kinds=("rebuild_facts",), now=self.clock.now())
                    if job is None:
                        return
                    tenant = await repo.tenants_by_id(session, ids=[job.tenant_id])
                    done = 0
                    if job.tenant_id in tenant:
                        done = await rebuild_tenant(
                            session,
                            tenant=tenant[job.tenant_id],
                            now=self.clock.now(),
                            load_tenant=self.load_tenant,
                        )
                    await finish_job(
                        session, job=job, now=self.clock.now(), result={"records": done}
                    )
                log.info("scoring: rebuilt facts of %s (%d records)", job.tenant_id, done)
        except Exception:
            log.exception("scoring: maintenance job failed; will retry")
