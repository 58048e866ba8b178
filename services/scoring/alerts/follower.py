"""Following the stored events: the alert checks that run after scoring commits a batch.

:meth:`EventFollower.read_new` reads the events stored since its cursor, per log
partition and by offset (a partition's events become visible in offset order, so no
event is skipped even with several scoring workers committing at once), and per tenant:

* runs the per-event data-quality checks (:func:`.quality.check_events`);
* resolves the silence flags of reps who log again (:func:`.anomaly.resolve_silent`);
* notes the reps whose events it saw (*changed*: their lag is judged again);
* marks the earliest tenant-local day of history events (imports, backfills) for the
  scheduler, which judges the recent past again from there (:mod:`.scheduler`).

The cursor (state ``events_cursor`` of no tenant) moves in the same transaction as the
flags: a crash re-checks events, never skips them (the checks are idempotent).

:meth:`EventFollower.judge_changed` then judges the lag of the changed reps' targets (and
of team and company targets), at most once per ``lag_debounce_s`` per tenant on the
clock's monotonic time; a tenant held back stays changed, and the next tick judges all
its targets.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.scoring.alerts import anomaly, lag, quality
from paceline.scoring.alerts import repository as repo
from paceline.scoring.alerts.scheduler import HISTORY_KEY, Throttle
from paceline.shared.alert_options import alert_options
from paceline.shared.clock import Clock
from paceline.shared.db.context import tenant_calendar
from paceline.shared.db.models import Event, Tenant
from paceline.shared.db.session import Database

CURSOR_KEY = "events_cursor"
PAGE = 2000


class EventFollower:
    """Checks newly stored events and keeps the reps they changed (see the module docstring)."""

    def __init__(
        self, *, db: Database, clock: Clock, partitions: int, lag_debounce_s: float
    ) -> None:
        self.db = db
        self.clock = clock
        self.partitions = partitions
        self._changed: dict[str, set[str]] = defaultdict(set)
        self._lag = Throttle(clock=clock, every_s=lag_debounce_s)

    def changed_tenants(self) -> frozenset[str]:
        """Tenants with changed reps whose lag was not judged again yet."""
        return frozenset(self._changed)

    def forget_changed(self) -> None:
        """Forget the changed reps (a tick judged every target of their tenants)."""
        self._changed.clear()

    async def read_new(self) -> int:
        """Check the events stored since the cursor; how many."""
        done = 0
        while True:
            async with self.db.transaction() as session:
                cursor = await repo.get_state(
                    session, tenant_id=repo.GLOBAL, key=CURSOR_KEY, lock=True
                )
                events: list[Event] = []
                for p in range(self.partitions):
                    page = await repo.events_from(
                        session, partition=p, offset=int(cursor.get(str(p), 0)), limit=PAGE
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
                    self._changed[tid] |= reps
                    await _note_history(session, tenant=tenant, events=evs, now=now)
                await repo.put_state(
                    session, tenant_id=repo.GLOBAL, key=CURSOR_KEY, state=cursor, now=now
                )
            done += len(events)

    async def judge_changed(self) -> None:
        """Judge the lag of the changed reps' targets, of tenants not judged too recently."""
        for tid in sorted(self._changed):
            if not self._lag.ready(tid):
                continue
            reps = self._changed.pop(tid)
            async with self.db.transaction() as session:
                tenant = await repo.tenant(session, tenant_id=tid)
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
            self._lag.done(tid)


async def _note_history(
    session: AsyncSession, *, tenant: Tenant, events: list[Event], now: datetime
) -> None:
    """Remember the earliest tenant-local day of history events (imports, backfills).

    The next tick judges the recent past again from there when that day was judged
    already (:func:`.scheduler.days_to_judge`). Written last in the transaction, after
    the flags.
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
