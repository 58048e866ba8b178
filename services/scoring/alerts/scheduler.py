"""When each alert job is due, on the injected clock, and the tick that runs what is due.

Per tenant, in its time zone and work calendar (:func:`jobs_due`; the tenant's
``schedule`` state remembers ``lag_slot`` and ``anomaly_day``):

* lag of every current target (:mod:`.lag`): once per schedule slot
  (``lag_every_minutes``), and on the first tick after events of the tenant were checked;
* lag warnings of ended periods, stale sources (:mod:`.quality`), pipeline lag
  (:mod:`.pipeline_lag`): every tick;
* anomalies, silent reps, complaint spikes, month-end surges (:mod:`.anomaly`): each
  closed working day not judged yet, from ``anomaly_hour`` on the next day
  (:func:`days_to_judge`);
* digests (:mod:`.digest`): when :func:`.digest.due_kinds` says so; each made once per
  team, kind and period;
* the BI progress snapshot (:mod:`paceline.scoring.bi.snapshot`) with the lag pass, for
  tenants with a BI login.

Time comes only from the clock the scheduler is given: ``clock.now()`` once per tick
(every tenant and job of a tick sees the same instant), and ``clock.monotonic()`` for
intervals within the process (:class:`Throttle`). A ``FixedClock`` drives it in tests,
a ``StartedClock`` in ``paceline serve --today``. How often the process ticks
(``alerts_tick_s``, a wait in the engine's loop) only bounds how late a due job runs.

**A tenant's tick**, one transaction each, in this order: (1) the schedule state
(locked) and the history mark read, the lag pass if due, ended lag warnings, stale
sources, pipeline lag, the schedule saved; (1b) the BI snapshot with the lag pass;
(2) one per anomaly day, each moving
``anomaly_day`` on with its verdicts; (3) the history mark consumed (unless more
history arrived meanwhile); (4) the digests due. A crash redoes what was not committed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from paceline.scoring.alerts import anomaly, digest, lag, quality
from paceline.scoring.alerts import repository as repo
from paceline.scoring.alerts.pipeline_lag import PipelineLag, PipelineLagProbe
from paceline.scoring.bi import snapshot as bi_snapshot
from paceline.shared.alert_options import AlertOptions, alert_options
from paceline.shared.clock import Clock
from paceline.shared.db.context import tenant_calendar
from paceline.shared.db.session import Database
from paceline.shared.kpi.calendar import WorkCalendar

SCHEDULE_KEY = "schedule"  # per tenant: {"lag_slot": slot, "anomaly_day": day}
HISTORY_KEY = "history"  # per tenant: {"from": day} of history events stored since a tick
MAX_CATCH_UP_DAYS = 7


@dataclass(frozen=True, slots=True)
class Due:
    """What is due for one tenant at one instant."""

    lag: bool  # judge the lag of every current target
    lag_slot: str  # the schedule slot of the instant
    anomaly_days: list[date] = field(default_factory=list)  # oldest first
    announced: date | None = None  # the last working day of them: raises and resolves
    digests: list[tuple[str, str]] = field(default_factory=list)  # (kind, period)


def jobs_due(
    schedule: dict[str, Any],
    *,
    now: datetime,
    tz: ZoneInfo,
    calendar: WorkCalendar,
    options: AlertOptions,
    changed: bool = False,
    history_from: str | None = None,
) -> Due:
    """What is due at ``now``, given the tenant's schedule state (``changed``: events of
    the tenant were checked since the last tick; ``history_from``: the earliest day of
    history stored since)."""
    slot = lag.slot_of(now, tz, options.lag_every_minutes)
    days = days_to_judge(
        schedule,
        now=now,
        tz=tz,
        hour=options.anomaly_hour,
        calendar=calendar,
        lookback=options.anomaly_lookback_days,
        history_from=history_from,
    )
    return Due(
        lag=schedule.get("lag_slot") != slot or changed,
        lag_slot=slot,
        anomaly_days=days,
        # Judged at once, the days before the last working one only advance the states.
        announced=max((d for d in days if calendar.is_working_day(d)), default=None),
        digests=digest.due_kinds(now, tz=tz, calendar=calendar, options=options),
    )


def days_to_judge(
    schedule: dict[str, Any],
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
        local.date() - timedelta(days=1) if local.hour >= hour else local.date() - timedelta(days=2)
    )
    recent = calendar.working_day_list(
        last_closed - timedelta(days=2 * lookback + 30), last_closed + timedelta(days=1)
    )[-lookback:]
    reach = recent[0] if recent else last_closed
    done = schedule.get("anomaly_day")
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


class Throttle:
    """Lets a keyed job run at most once per ``every_s`` seconds of the clock's monotonic
    time (a key never run is ready)."""

    def __init__(self, *, clock: Clock, every_s: float) -> None:
        self.clock = clock
        self.every_s = every_s
        self._done: dict[str, float] = {}

    def ready(self, key: str) -> bool:
        """Whether the job of ``key`` may run now."""
        last = self._done.get(key)
        return last is None or self.clock.monotonic() - last >= self.every_s

    def done(self, key: str) -> None:
        """Record that the job of ``key`` ran now."""
        self._done[key] = self.clock.monotonic()


class Scheduler:
    """Runs the time-driven jobs of every tenant that are due at the clock's instant."""

    def __init__(self, *, db: Database, clock: Clock, probe: PipelineLagProbe | None) -> None:
        self.db = db
        self.clock = clock
        self.probe = probe

    async def tick(self, *, changed: Collection[str] = ()) -> None:
        """Run what is due now, per tenant (``changed``: tenants whose events were checked
        since the last tick: their lag is judged again whatever the slot)."""
        now = self.clock.now()
        pipeline = await self.probe.measure(now) if self.probe is not None else None
        async with self.db.transaction(write=False) as session:
            tenants = await repo.tenants(session)
        for tenant in tenants:
            await self._tick_tenant(
                tenant.id, now=now, pipeline_lag=pipeline, changed=tenant.id in changed
            )

    async def _tick_tenant(
        self, tenant_id: str, *, now: datetime, pipeline_lag: PipelineLag | None, changed: bool
    ) -> None:
        async with self.db.transaction() as session:
            tenant = await repo.tenant(session, tenant_id=tenant_id)
            if tenant is None:
                return
            options = alert_options(tenant)
            calendar = await tenant_calendar(session, tenant=tenant)
            sched = await repo.get_state(session, tenant_id=tenant_id, key=SCHEDULE_KEY, lock=True)
            history = await repo.get_state(session, tenant_id=tenant_id, key=HISTORY_KEY)
            due = jobs_due(
                sched,
                now=now,
                tz=ZoneInfo(tenant.timezone),
                calendar=calendar,
                options=options,
                changed=changed,
                history_from=history.get("from"),
            )
            if due.lag:
                await lag.evaluate_lag(
                    session, tenant=tenant, now=now, calendar=calendar, options=options
                )
                sched["lag_slot"] = due.lag_slot
            await lag.close_ended(session, tenant=tenant, now=now)
            await quality.check_stale_sources(
                session, tenant=tenant, calendar=calendar, options=options, now=now
            )
            if pipeline_lag is not None:
                await quality.check_pipeline_lag(
                    session,
                    tenant=tenant,
                    lag_records=pipeline_lag.records,
                    stuck=pipeline_lag.stuck,
                    options=options,
                    now=now,
                )
            await repo.put_state(
                session, tenant_id=tenant_id, key=SCHEDULE_KEY, state=sched, now=now
            )
        if due.lag and bi_snapshot.wanted(tenant):
            async with self.db.transaction() as session:
                tenant = await repo.tenant(session, tenant_id=tenant_id)
                assert tenant is not None
                await bi_snapshot.refresh(session, tenant=tenant, now=now, calendar=calendar)
        for day in due.anomaly_days:
            async with self.db.transaction() as session:
                tenant = await repo.tenant(session, tenant_id=tenant_id)
                assert tenant is not None
                await anomaly.evaluate_day(
                    session,
                    tenant=tenant,
                    day=day,
                    calendar=calendar,
                    options=options,
                    now=now,
                    announce=day == due.announced,
                )
                sched = await repo.get_state(
                    session, tenant_id=tenant_id, key=SCHEDULE_KEY, lock=True
                )
                sched["anomaly_day"] = day.isoformat()
                await repo.put_state(
                    session, tenant_id=tenant_id, key=SCHEDULE_KEY, state=sched, now=now
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
        if due.digests:
            async with self.db.transaction() as session:
                tenant = await repo.tenant(session, tenant_id=tenant_id)
                assert tenant is not None
                await digest.make(
                    session, tenant=tenant, kinds=due.digests, now=now, calendar=calendar
                )
