"""The alert engine: event-driven and time-driven evaluation in the scoring process.

**After each committed batch** (``ScoringWorker.after_commit``), :meth:`AlertEngine.after_commit`
wakes :meth:`AlertEngine.follow` (a task of its own, so the worker never waits for the
checks: freshness of the facts does not depend on them), which
reads the events stored since its cursor (per log partition, by offset: a partition's
events become visible in offset order, so no event is skipped even with several scoring
workers committing at once), runs the data-quality checks on them, resolves silence
flags of reps who log again, and re-judges the lag of the touched reps' targets (and of
team and company targets), at most once per ``lag_debounce_s`` per tenant. The cursor
moves in the same transaction as the flags, so a crash re-checks, never skips (the
checks are idempotent).

**On the schedule** (:meth:`AlertEngine.tick`, every ``alerts_tick_s``, and explicitly in
tests), per tenant, in its time zone and work calendar:

* lag of every current target, once per schedule slot (``lag_every_minutes``), and
  resolution of warnings whose period ended;
* anomalies, silent reps, complaint spikes and month-end surges for each closed working
  day not judged yet (from ``anomaly_hour`` on the next day): see :meth:`_days_to_judge`
  for which days (a first run and history arriving reach back ``anomaly_lookback_days``
  working days) and :func:`.anomaly.evaluate_day` for how several days are judged at once;
* stale sources (working hours only) and pipeline lag;
* digests that are due.

Every alert change writes an outbox row (``alert_events``); the dispatcher is woken
after each commit and sends them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.scoring.alerts import anomaly, digest, lag, quality
from paceline.scoring.alerts import repository as repo
from paceline.shared import metrics
from paceline.shared.alert_options import alert_options
from paceline.shared.clock import Clock
from paceline.shared.db.context import tenant_calendar
from paceline.shared.db.models import ConsumerOffset, Event, Tenant
from paceline.shared.db.session import Database
from paceline.shared.eventlog import EventLog
from paceline.shared.kpi.calendar import WorkCalendar

log = logging.getLogger(__name__)

CURSOR_KEY = "events_cursor"
SCHEDULE_KEY = "schedule"
HISTORY_KEY = "history"  # per tenant: {"from": day} of history events stored since a tick
PAGE = 2000
MAX_CATCH_UP_DAYS = 7
STUCK_AFTER = timedelta(minutes=5)


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
    ) -> None:
        self.db = db
        self.clock = clock
        self.eventlog = eventlog
        self.group_id = group_id
        self.partitions = partitions or (eventlog.partitions if eventlog is not None else 1)
        self.tick_s = tick_s
        self.lag_debounce_s = lag_debounce_s
        self.on_change = on_change or (lambda: None)
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._dirty: dict[str, set[str]] = defaultdict(set)
        self._lag_done: dict[str, float] = {}
        self._positions: tuple[dict[int, int], datetime] | None = None
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
        """Check newly stored events whenever a batch was committed, until stopped."""
        self._following = True
        try:
            while not self._stopping.is_set():
                waiter = asyncio.ensure_future(self._committed.wait())
                stopper = asyncio.ensure_future(self._stopping.wait())
                try:
                    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                    stopper.cancel()
                if self._stopping.is_set():
                    break
                self._committed.clear()
                try:
                    await self._check_new_events()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("alerts: checking new events failed; will retry")
                    self._committed.set()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), 1.0)
        finally:
            self._following = False

    async def _check_new_events(self) -> None:
        try:
            async with self._lock:
                await self._process_events()
                await self._lag_for_dirty(force=False)
            metrics.ALERT_EVALUATIONS.labels(kind="events", result="ok").inc()
        except Exception:
            metrics.ALERT_EVALUATIONS.labels(kind="events", result="error").inc()
            raise
        finally:
            self.on_change()

    async def _process_events(self) -> int:
        done = 0
        while True:
            async with self.db.transaction() as session:
                cursor = await repo.get_state(
                    session, tenant_id=repo.GLOBAL, key=CURSOR_KEY, lock=True
                )
                events: list[Event] = []
                for p in range(self.partitions):
                    start = int(cursor.get(str(p), 0))
                    page = list(
                        (
                            await session.scalars(
                                select(Event)
                                .where(Event.log_partition == p, Event.log_offset >= start)
                                .order_by(Event.log_offset)
                                .limit(PAGE)
                            )
                        ).all()
                    )
                    if page:
                        cursor[str(p)] = page[-1].log_offset + 1
                        events.extend(page)
                if not events:
                    return done
                by_tenant: dict[str, list[Event]] = defaultdict(list)
                for e in events:
                    by_tenant[e.tenant_id].append(e)
                found = await repo.tenants_by_ids(session, ids=list(by_tenant))
                now = self.clock.now()
                for tid, evs in sorted(by_tenant.items()):
                    tenant = found.get(tid)
                    if tenant is None:
                        continue
                    await quality.check_events(
                        session, tenant=tenant, events=evs, options=alert_options(tenant), now=now
                    )
                    reps = {e.rep_id for e in evs}
                    await anomaly.resolve_silent(session, tenant_id=tid, reps=reps, now=now)
                    self._dirty[tid] |= reps
                    await self._note_history(session, tenant=tenant, events=evs, now=now)
                await repo.put_state(
                    session, tenant_id=repo.GLOBAL, key=CURSOR_KEY, state=cursor, now=now
                )
            done += len(events)

    @staticmethod
    async def _note_history(
        session: AsyncSession, *, tenant: Tenant, events: list[Event], now: datetime
    ) -> None:
        """Remember the earliest tenant-local day of history events (imports, backfills).

        The next tick judges the recent past again from there when that day was judged
        already (:meth:`_days_to_judge`). Written last in the transaction, after the flags.
        """
        history = [e.occurred_at for e in events if quality.is_history(e)]
        if not history:
            return
        day = min(history).astimezone(ZoneInfo(tenant.timezone)).date().isoformat()
        state = await repo.get_state(session, tenant_id=tenant.id, key=HISTORY_KEY, lock=True)
        if state.get("from") is None or day < str(state["from"]):
            await repo.put_state(
                session, tenant_id=tenant.id, key=HISTORY_KEY, state={"from": day}, now=now
            )

    async def _lag_for_dirty(self, *, force: bool) -> None:
        for tid in sorted(self._dirty):
            if not force and time.monotonic() - self._lag_done.get(tid, -1e9) < self.lag_debounce_s:
                continue
            reps = self._dirty.pop(tid)
            async with self.db.transaction() as session:
                tenant = await session.get(Tenant, tid)
                if tenant is None:
                    continue
                await lag.evaluate_lag(
                    session,
                    tenant=tenant,
                    now=self.clock.now(),
                    calendar=await tenant_calendar(session, tenant=tenant),
                    options=alert_options(tenant),
                    reps=reps,
                )
            self._lag_done[tid] = time.monotonic()

    # -- time-driven ----------------------------------------------------------------

    async def tick(self) -> None:
        """Run everything that is due now (and the pending event-driven work)."""
        async with self._lock:
            try:
                await self._process_events()
                now = self.clock.now()
                lag_records, stuck = await self._pipeline_lag(now)
                async with self.db.transaction(write=False) as session:
                    tenants = await repo.tenants(session)
                for tenant in tenants:
                    await self._tick_tenant(
                        tenant.id, now=now, lag_records=lag_records, stuck=stuck
                    )
                self._dirty.clear()
                metrics.ALERT_EVALUATIONS.labels(kind="schedule", result="ok").inc()
            except Exception:
                metrics.ALERT_EVALUATIONS.labels(kind="schedule", result="error").inc()
                raise
            finally:
                self.on_change()

    async def _tick_tenant(
        self, tenant_id: str, *, now: datetime, lag_records: int | None, stuck: bool
    ) -> None:
        async with self.db.transaction() as session:
            tenant = await session.get(Tenant, tenant_id)
            if tenant is None:
                return
            options = alert_options(tenant)
            calendar = await tenant_calendar(session, tenant=tenant)
            tz = ZoneInfo(tenant.timezone)
            sched = await repo.get_state(session, tenant_id=tenant.id, key=SCHEDULE_KEY, lock=True)
            slot = lag.slot_of(now, tz, options.lag_every_minutes)
            if sched.get("lag_slot") != slot or tenant.id in self._dirty:
                await lag.evaluate_lag(
                    session, tenant=tenant, now=now, calendar=calendar, options=options
                )
                sched["lag_slot"] = slot
            await lag.close_ended(session, tenant=tenant, now=now)
            await quality.check_stale_sources(
                session, tenant=tenant, calendar=calendar, options=options, now=now
            )
            if lag_records is not None:
                await quality.check_pipeline_lag(
                    session,
                    tenant=tenant,
                    lag_records=lag_records,
                    stuck=stuck,
                    options=options,
                    now=now,
                )
            await repo.put_state(
                session, tenant_id=tenant.id, key=SCHEDULE_KEY, state=sched, now=now
            )
            history = await repo.get_state(session, tenant_id=tenant.id, key=HISTORY_KEY)
        days = self._days_to_judge(
            sched,
            now=now,
            tz=tz,
            hour=options.anomaly_hour,
            calendar=calendar,
            lookback=options.anomaly_lookback_days,
            history_from=history.get("from"),
        )
        # Judged at once, the days before the last working one only advance the states.
        announced = max((d for d in days if calendar.is_working_day(d)), default=None)
        for day in days:
            async with self.db.transaction() as session:
                tenant = await session.get(Tenant, tenant_id)
                assert tenant is not None
                await anomaly.evaluate_day(
                    session,
                    tenant=tenant,
                    day=day,
                    calendar=calendar,
                    options=options,
                    now=now,
                    announce=day == announced,
                )
                sched = await repo.get_state(
                    session, tenant_id=tenant.id, key=SCHEDULE_KEY, lock=True
                )
                sched["anomaly_day"] = day.isoformat()
                await repo.put_state(
                    session, tenant_id=tenant.id, key=SCHEDULE_KEY, state=sched, now=now
                )
        if history:
            async with self.db.transaction() as session:
                # Consumed, unless more history arrived meanwhile (then the next tick).
                current = await repo.get_state(
                    session, tenant_id=tenant_id, key=HISTORY_KEY, lock=True
                )
                if current == history:
                    await repo.put_state(
                        session, tenant_id=tenant_id, key=HISTORY_KEY, state={}, now=now
                    )
        async with self.db.transaction() as session:
            tenant = await session.get(Tenant, tenant_id)
            assert tenant is not None
            await digest.make_due(
                session, tenant=tenant, now=now, calendar=calendar, options=options
            )

    @staticmethod
    def _days_to_judge(
        sched: dict[str, Any],
        *,
        now: datetime,
        tz: ZoneInfo,
        hour: int,
        calendar: WorkCalendar,
        lookback: int,
        history_from: str | None = None,
    ) -> list[date]:
        """The closed days to judge now, oldest first.

        * the days after the last one judged, at most ``MAX_CATCH_UP_DAYS`` (a restart
          after an outage);
        * on a first run (no day judged yet): the last ``lookback`` working days, so a drop
          or a silence already in the data is flagged at once;
        * after history arrived for days judged already (``history_from``, the earliest
          day of imported or backfill events): again from that day, at most ``lookback``
          working days back.
        """
        local = now.astimezone(tz)
        last_closed = (
            local.date() - timedelta(days=1)
            if local.hour >= hour
            else local.date() - timedelta(days=2)
        )
        recent = calendar.working_day_list(
            last_closed - timedelta(days=2 * lookback + 30), last_closed + timedelta(days=1)
        )[-lookback:]
        reach = recent[0] if recent else last_closed
        done = sched.get("anomaly_day")
        if done is None:
            first = reach
        else:
            first = max(
                date.fromisoformat(done) + timedelta(days=1),
                last_closed - timedelta(days=MAX_CATCH_UP_DAYS - 1),
            )
            if history_from is not None and history_from <= done:
                first = min(first, max(date.fromisoformat(history_from), reach))
        out = []
        d = first
        while d <= last_closed:
            out.append(d)
            d += timedelta(days=1)
        return out

    async def _pipeline_lag(self, now: datetime) -> tuple[int | None, bool]:
        if self.eventlog is None or self.group_id is None:
            return None, False
        try:
            ends = await self.eventlog.end_offsets()
        except Exception:  # the log is down: its own alerts and readiness say so
            return None, False
        async with self.db.transaction(write=False) as session:
            rows = (
                await session.execute(
                    select(ConsumerOffset.partition, ConsumerOffset.next_offset).where(
                        ConsumerOffset.group_id == self.group_id,
                        ConsumerOffset.topic == self.eventlog.topic,
                    )
                )
            ).all()
        stored = {int(p): int(o) for p, o in rows}
        lag_records = sum(max(0, end - stored.get(p, 0)) for p, end in ends.items())
        stuck = False
        if self._positions is not None:
            before, since = self._positions
            if before == stored and lag_records > 0:
                stuck = now - since >= STUCK_AFTER
            else:
                self._positions = (stored, now)
        else:
            self._positions = (stored, now)
        return lag_records, stuck

    # -- the loop -------------------------------------------------------------------

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
