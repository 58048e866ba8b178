"""The alert engine: event-driven and time-driven evaluation in the scoring process.

It composes the parts and runs their loops; the parts hold the logic:

* :mod:`.follower` — after each committed batch, the checks of the newly stored events
  and the lag of the reps they changed;
* :mod:`.scheduler` — on the schedule, what is due per tenant at the clock's instant
  (lag per slot, anomaly days, stale sources, pipeline lag, digests), and running it;
* the jobs: :mod:`.lag` (with the pure hysteresis :mod:`.lag_machine`), :mod:`.anomaly`,
  :mod:`.quality`, :mod:`.digest`, :mod:`.pipeline_lag`; all SQL in :mod:`.repository`.

**After each committed batch** (``ScoringWorker.after_commit``), :meth:`AlertEngine.after_commit`
wakes :meth:`AlertEngine.follow` (a task of its own, so the worker never waits for the
checks: freshness of the facts does not depend on them); it also checks at once when
the process is given partitions it did not follow (every ``ownership_poll_s``): their
last batches may be unchecked (their owner died, or lost them in a rebalance, before its
checks ran), and a partition with no new events would otherwise wait for the next tick.
**On the schedule**
(:meth:`AlertEngine.tick`, every ``tick_s``, and explicitly in tests) the follower first
catches up, then the scheduler runs what is due. One lock keeps the two apart.

Every alert change writes an outbox row (``alert_events``); ``on_change`` (the
dispatcher's wake-up) is called after each pass, once its transactions committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from paceline.scoring.alerts.follower import EventFollower
from paceline.scoring.alerts.pipeline_lag import PipelineLagProbe
from paceline.scoring.alerts.scheduler import Scheduler
from paceline.shared import metrics
from paceline.shared.clock import Clock
from paceline.shared.db.session import Database
from paceline.shared.eventlog import EventLog

log = logging.getLogger(__name__)


class AlertEngine:
    """Evaluates alerts after batches and on a schedule (see the module docstring)."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        eventlog: EventLog | None = None,
        group_id: str | None = None,
        partitions: int | None = None,
        tick_s: float = 60.0,
        lag_debounce_s: float = 30.0,
        on_change: Callable[[], None] | None = None,
        owned: Callable[[], frozenset[int] | None] | None = None,
        ownership_poll_s: float = 1.0,
    ) -> None:
        self.clock = clock
        self.ownership_poll_s = ownership_poll_s
        self.tick_s = tick_s
        self.on_change = on_change or (lambda: None)
        self.follower = EventFollower(
            db=db,
            clock=clock,
            partitions=partitions or (eventlog.partitions if eventlog is not None else 1),
            lag_debounce_s=lag_debounce_s,
            owned=owned,
        )
        probe = (
            PipelineLagProbe(db=db, eventlog=eventlog, group_id=group_id)
            if eventlog is not None and group_id is not None
            else None
        )
        self.scheduler = Scheduler(db=db, clock=clock, probe=probe)
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._committed = asyncio.Event()  # a batch with new events was committed
        self._following = False

    # -- event-driven ---------------------------------------------------------------

    async def after_commit(self, outcome: Any) -> None:
        """The worker's after-commit hook: check what the batch stored.

        With :meth:`follow` running (the scoring process) this only wakes it, so the
        worker goes on to its next batch at once: the checks and the lag re-judging do not
        delay the facts (freshness). Without it, the checks run here.
        """
        if getattr(outcome, "new_events", 1) == 0:
            return
        if self._following:
            self._committed.set()
            return
        await self._check_new_events()

    async def follow(self) -> None:
        """Check newly stored events whenever a batch was committed or partitions were
        gained, until stopped."""
        self._following = True
        followed: frozenset[int] = frozenset()
        try:
            while not self._stopping.is_set():
                waiter = asyncio.ensure_future(self._committed.wait())
                stopper = asyncio.ensure_future(self._stopping.wait())
                try:
                    await asyncio.wait(
                        {waiter, stopper},
                        timeout=self.ownership_poll_s,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:
                    waiter.cancel()
                    stopper.cancel()
                if self._stopping.is_set():
                    break
                following = frozenset(self.follower.following())
                gained, followed = following - followed, following
                if not self._committed.is_set() and not gained:
                    continue
                self._committed.clear()
                try:
                    # Exactly the partitions now counted as followed: asking the consumer
                    # again inside could get another answer mid-rebalance, and a partition
                    # counted as followed but not read would wait for the next tick.
                    await self._check_new_events(following)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("alerts: checking new events failed; will retry")
                    self._committed.set()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), 1.0)
        finally:
            self._following = False

    async def _check_new_events(self, partitions: frozenset[int] | None = None) -> None:
        try:
            async with self._lock:
                await self.follower.read_new(partitions)
                await self.follower.judge_changed()
            metrics.ALERT_EVALUATIONS.labels(kind="events", result="ok").inc()
        except Exception:
            metrics.ALERT_EVALUATIONS.labels(kind="events", result="error").inc()
            raise
        finally:
            self.on_change()

    # -- time-driven ----------------------------------------------------------------

    async def tick(self) -> None:
        """Run everything that is due now (and the pending event-driven work)."""
        async with self._lock:
            try:
                await self.follower.read_new()
                await self.scheduler.tick(changed=self.follower.changed_tenants())
                self.follower.forget_changed()
                metrics.ALERT_EVALUATIONS.labels(kind="schedule", result="ok").inc()
            except Exception:
                metrics.ALERT_EVALUATIONS.labels(kind="schedule", result="error").inc()
                raise
            finally:
                self.on_change()

    async def run(self) -> None:
        """Tick every ``tick_s`` until stopped (0: never)."""
        if self.tick_s <= 0:
            return
        while not self._stopping.is_set():
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("alerts: scheduled evaluation failed; will retry")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.tick_s)

    def stop(self) -> None:
        """Finish after the current tick."""
        self._stopping.set()
