"""Following the stored events: the alert checks that run after scoring commits a batch.

:meth:`EventFollower.read_new` reads the events stored since its cursor, per log
partition and by offset (a partition's events become visible in offset order, so no
event is skipped even with several scoring workers committing at once), and per tenant:

* runs the per-event data-quality checks (:func:`.quality.check_events`);
* resolves the silence flags of reps who log again (:func:`.anomaly.resolve_silent`);
* notes the reps whose events it saw (*changed*: their lag is judged again);
* marks the earliest tenant-local day of history events (imports, backfills) for the
  scheduler, which judges the recent past again from there (:mod:`.scheduler`).

The cursor is kept **per log partition** (state ``events_cursor:<p>`` of no tenant; a
database from before takes its start from the old single ``events_cursor`` row), and
each partition is checked in its own transaction that locks only its own row. With
several scoring processes, each follows only the partitions its consumer is assigned
(``owned``), so they never wait on one another's cursor; after a rebalance the new owner
starts from the row, and a partition briefly followed by both is serialized by the row
lock and checked at most twice (the checks are idempotent). A partition's cursor moves in
the same transaction as the flags: a crash re-checks events, never skips them.

:meth:`EventFollower.judge_changed` then judges the lag of the changed reps' targets (and
of team and company targets), at most once per ``lag_debounce_s`` per tenant on the
clock's monotonic time; a tenant held back stays changed, and the next tick judges all
its targets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
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

CURSOR_KEY = "events_cursor"  # before per-partition cursors: {partition: next offset}
# Events checked per transaction. Small enough that a page does not hold up a batch of
# the scoring worker that shares the event loop for long (see ``before_page``).
PAGE = 500


def cursor_key(partition: int) -> str:
    """The state key of one partition's cursor."""
    return f"{CURSOR_KEY}:{partition}"


async def checked_up_to(session: AsyncSession) -> dict[int, int]:
    """The next offset to check per partition (what the alert checks have covered)."""
    old = await repo.get_state(session, tenant_id=repo.GLOBAL, key=CURSOR_KEY)
    out = {int(p): int(o) for p, o in old.items()}
    rows = await repo.states(session, tenant_id=repo.GLOBAL, prefix=f"{CURSOR_KEY}:")
    for key, state in rows.items():
        out[int(key.rsplit(":", 1)[1])] = int(state.get("next", 0))
    return out


async def stored_up_to(session: AsyncSession) -> dict[int, int]:
    """The next offset after the last stored event, per partition (what there is to
    check: compare with :func:`checked_up_to`)."""
    return await repo.stored_up_to(session)


class EventFollower:
    """Checks newly stored events and keeps the reps they changed (see the module docstring)."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        partitions: int,
        lag_debounce_s: float,
        owned: Callable[[], frozenset[int] | None] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.partitions = partitions
        # The partitions this process follows: its consumer's assignment (None before the
        # consumer joined: nothing yet); without a provider, every partition.
        self.owned = owned
        # Awaited before each page: the scoring process passes its worker's wait_idle, so
        # the checks run between batches and the facts' freshness does not wait for them.
        self.before_page: Callable[[], Awaitable[None]] | None = None
        self._changed: dict[str, set[str]] = defaultdict(set)
        self._lag = Throttle(clock=clock, every_s=lag_debounce_s)

    def changed_tenants(self) -> frozenset[str]:
        """Tenants with changed reps whose lag was not judged again yet."""
        return frozenset(self._changed)

    def forget_changed(self) -> None:
        """Forget the changed reps (a tick judged every target of their tenants)."""
        self._changed.clear()

    def following(self) -> list[int]:
        """The partitions to follow now."""
        if self.owned is None:
            return list(range(self.partitions))
        owned = self.owned()
        return sorted(owned) if owned is not None else []

    async def read_new(self, partitions: Iterable[int] | None = None) -> int:
        """Check the events stored since the cursors of ``partitions`` (default: those
        followed now); how many."""
        done = 0
        for p in self.following() if partitions is None else sorted(partitions):
            done += await self._read_partition(p)
        return done

    async def _read_partition(self, p: int) -> int:
        done = 0
        while True:
            if self.before_page is not None:
                await self.before_page()
            async with self.db.transaction() as session:
                key = cursor_key(p)
                cursor = await repo.get_state(session, tenant_id=repo.GLOBAL, key=key, lock=True)
                if "next" not in cursor:
                    # First use of this partition's row: start where the single cursor of
                    # earlier versions stood (0 on a new database).
                    old = await repo.get_state(session, tenant_id=repo.GLOBAL, key=CURSOR_KEY)
                    cursor = {"next": int(old.get(str(p), 0))}
                events: list[Event] = await repo.events_from(
                    session, partition=p, offset=int(cursor["next"]), limit=PAGE
                )
                if not events:
                    return done
                cursor["next"] = events[-1].log_offset + 1
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
                await repo.put_state(session, tenant_id=repo.GLOBAL, key=key, state=cursor, now=now)
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
