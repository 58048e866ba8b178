"""The injected clocks' monotonic time: it measures intervals and never goes back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from paceline.shared.clock import Clock, FixedClock, StartedClock, SystemClock

START = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)


def test_every_clock_has_a_monotonic_time() -> None:
    clocks: list[Clock] = [SystemClock(), FixedClock(START), StartedClock(START)]
    for clock in clocks:
        assert isinstance(clock.monotonic(), float)


def test_a_fixed_clock_measures_the_moves_forward() -> None:
    clock = FixedClock(START)
    assert clock.monotonic() == 0.0
    clock.advance(timedelta(minutes=10))
    assert clock.monotonic() == 600.0
    clock.set(START + timedelta(hours=1))  # 50 minutes on
    assert clock.monotonic() == 3600.0
    # Back in time: the instant moves, the monotonic time stays.
    clock.set(START)
    assert clock.now() == START
    assert clock.monotonic() == 3600.0
    clock.advance(timedelta(seconds=-5))
    assert clock.monotonic() == 3600.0
    clock.advance(timedelta(seconds=1.5))
    assert clock.monotonic() == 3601.5


def test_a_started_clock_runs_on_its_monotonic_time() -> None:
    ticks = [1000.0]
    clock = StartedClock(START, monotonic=lambda: ticks[0])
    ticks[0] += 90
    assert clock.monotonic() == 1090.0
    assert clock.now() == START + timedelta(seconds=90)
