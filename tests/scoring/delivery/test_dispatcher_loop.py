"""The dispatcher's loop: a wake-up or a stop that arrives during a step is not lost."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any, cast

from paceline.scoring.delivery.dispatcher import Dispatcher
from paceline.shared.clock import FixedClock

POLL_S = 30.0  # far longer than any wait below: the loop must not need it


class SlowSteps(Dispatcher):
    """A dispatcher whose steps only take time (no database)."""

    def __init__(self) -> None:
        super().__init__(
            db=cast(Any, None),
            clock=FixedClock(datetime(2026, 11, 26, tzinfo=UTC)),
            box=cast(Any, None),
            poll_s=POLL_S,
        )
        self.steps = 0
        self.in_step = asyncio.Event()

    async def step(self) -> int:
        self.steps += 1
        self.in_step.set()
        await asyncio.sleep(0.2)
        self.in_step.clear()
        return 0


async def test_a_wake_during_a_step_runs_another_step_at_once() -> None:
    d = SlowSteps()
    task = asyncio.create_task(d.run())
    try:
        await asyncio.wait_for(d.in_step.wait(), 5)
        d.wake()  # new alerts committed while the first step runs
        started = time.monotonic()
        while d.steps < 2:
            assert time.monotonic() - started < 5, "the wake-up was lost until the next poll"
            await asyncio.sleep(0.01)
    finally:
        d.stop()
        await asyncio.wait_for(task, 5)


async def test_a_stop_during_a_step_ends_the_loop_after_that_step() -> None:
    d = SlowSteps()
    task = asyncio.create_task(d.run())
    await asyncio.wait_for(d.in_step.wait(), 5)
    started = time.monotonic()
    d.stop()
    await asyncio.wait_for(task, 5)
    assert time.monotonic() - started < 2  # not POLL_S
    assert d.steps == 1
