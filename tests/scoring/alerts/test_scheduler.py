"""The alert scheduler runs on the injected clock: advancing a FixedClock makes jobs due.

No wall clock and no sleeps: what is due follows the clock's instant (``jobs_due``), the
event-driven lag throttle its monotonic time (``Throttle``), and the engine's tick on a
running stack judges, and makes digests, as the clock moves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from paceline.scoring.alerting import Alerting
from paceline.scoring.alerts import repository as alert_repo
from paceline.scoring.alerts.lag import slot_of
from paceline.scoring.alerts.scheduler import SCHEDULE_KEY, Due, Throttle, jobs_due
from paceline.shared.alert_options import AlertOptions
from paceline.shared.clock import FixedClock, StartedClock
from paceline.shared.kpi.calendar import builtin_calendar
from tests.support import Stack, embedded_settings, running_stack

pytestmark = pytest.mark.dates

TZ = ZoneInfo("Asia/Shanghai")
CAL = builtin_calendar("cn")
OPTIONS = AlertOptions()  # hourly lag slots, anomalies from 06:00, digests Monday 09:00


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A Shanghai wall-clock instant."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def due(clock: FixedClock, schedule: dict[str, Any], *, changed: bool = False) -> Due:
    """What is due at the clock's instant."""
    return jobs_due(
        schedule, now=clock.now(), tz=TZ, calendar=CAL, options=OPTIONS, changed=changed
    )


def test_lag_is_due_once_per_slot_as_the_clock_advances() -> None:
    clock = FixedClock(local(date(2026, 7, 7), 10, 5))
    first = due(clock, {})
    assert first.lag
    assert first.lag_slot == "2026-07-07#10"
    schedule = {"lag_slot": first.lag_slot}  # what the tick records
    clock.advance(timedelta(minutes=50))  # 10:55, the same hourly slot
    assert not due(clock, schedule).lag
    assert due(clock, schedule, changed=True).lag  # events of the tenant since the last tick
    clock.advance(timedelta(minutes=5))  # 11:00, the next slot
    assert due(clock, schedule).lag
    assert due(clock, schedule).lag_slot == "2026-07-07#11"


def test_the_previous_day_is_due_from_the_anomaly_hour() -> None:
    clock = FixedClock(local(date(2026, 7, 7), 5, 30))  # Tuesday, before 06:00
    schedule = {"anomaly_day": "2026-07-05"}
    assert due(clock, schedule).anomaly_days == []
    clock.advance(timedelta(minutes=30))  # 06:00: Monday is closed
    now_due = due(clock, schedule)
    assert now_due.anomaly_days == [date(2026, 7, 6)]
    assert now_due.announced == date(2026, 7, 6)
    clock.advance(timedelta(days=3))  # Friday 06:00 after an idle process: the days missed
    assert due(clock, schedule).anomaly_days == [date(2026, 7, d) for d in (6, 7, 8, 9)]


def test_digests_become_due_on_the_clock() -> None:
    clock = FixedClock(local(date(2026, 7, 6), 8, 59))  # Monday
    assert due(clock, {}).digests == []
    clock.advance(timedelta(minutes=1))
    assert due(clock, {}).digests == [("weekly", "2026-W28")]
    clock.set(local(date(2026, 7, 31), 16, 59))  # Friday, the month's last working day
    assert due(clock, {}).digests == []
    clock.advance(timedelta(minutes=1))
    assert due(clock, {}).digests == [("month_end", "2026-07")]


def test_the_event_driven_lag_throttle_runs_on_the_clocks_monotonic_time() -> None:
    clock = FixedClock(local(date(2026, 7, 7), 10))
    throttle = Throttle(clock=clock, every_s=30)
    assert throttle.ready("t1")
    throttle.done("t1")
    assert not throttle.ready("t1")
    assert throttle.ready("t2")
    clock.advance(timedelta(seconds=29))
    assert not throttle.ready("t1")
    clock.advance(timedelta(seconds=1))
    assert throttle.ready("t1")
    # A jump back does not reopen it early, nor hold it forever.
    throttle.done("t1")
    clock.set(local(date(2026, 7, 1), 10))
    assert not throttle.ready("t1")
    clock.advance(timedelta(seconds=30))
    assert throttle.ready("t1")


def test_the_throttle_follows_a_started_clock() -> None:
    ticks = [100.0]
    clock = StartedClock(local(date(2026, 7, 7), 10), monotonic=lambda: ticks[0])
    throttle = Throttle(clock=clock, every_s=30)
    throttle.done("t1")
    ticks[0] += 29.5
    assert not throttle.ready("t1")
    ticks[0] += 0.5
    assert throttle.ready("t1")


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[tuple[Stack, FixedClock]]:
    """An embedded stack whose alert schedule only the test drives."""
    clock = FixedClock(local(date(2026, 7, 6), 8, 30))  # Monday
    settings = embedded_settings(tmp_path / "data", alerts_tick_s=0, delivery_poll_s=0)
    async with running_stack("embedded", settings, clock=clock) as s:
        org = {
            "teams": [{"id": "north", "name": "North"}],
            "reps": [{"id": "alice", "name": "Alice", "team_id": "north"}],
        }
        resp = await s.client.put("/v1/org", json=org, headers=s.auth())
        assert resp.status_code == 200, resp.text
        yield s, clock


async def test_the_engines_tick_runs_what_the_fixed_clock_makes_due(
    stack: tuple[Stack, FixedClock],
) -> None:
    s, clock = stack
    alerting: Alerting = s.app.state.paceline.extras["alerts"]

    async def tick() -> tuple[dict[str, Any], list[tuple[str, str]]]:
        await alerting.engine.tick()
        async with s.db.transaction(write=False) as session:
            schedule = await alert_repo.get_state(session, tenant_id="default", key=SCHEDULE_KEY)
        resp = await s.client.get("/v1/alerts/digests", headers=s.auth())
        assert resp.status_code == 200, resp.text
        return schedule, sorted((d["kind"], d["period"]) for d in resp.json())

    schedule, digests = await tick()  # Monday 08:30: the first run
    assert schedule["lag_slot"] == slot_of(clock.now(), TZ, OPTIONS.lag_every_minutes)
    assert schedule["anomaly_day"] == "2026-07-05"  # the last closed day
    assert digests == []

    clock.advance(timedelta(minutes=29))  # 08:59: same slot, same day, no digest yet
    assert await tick() == (schedule, [])

    clock.advance(timedelta(minutes=1))  # 09:00: a new slot, and the weekly digest
    schedule, digests = await tick()
    assert schedule["lag_slot"] == "2026-07-06#9"
    assert schedule["anomaly_day"] == "2026-07-05"
    assert digests == [("weekly", "2026-W28")]

    clock.set(local(date(2026, 7, 7), 6))  # Tuesday 06:00: Monday is judged
    schedule, digests = await tick()
    assert schedule == {"lag_slot": "2026-07-07#6", "anomaly_day": "2026-07-06"}
    assert digests == [("weekly", "2026-W28")]  # made once
