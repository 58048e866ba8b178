"""The alert follower yields to the scoring worker (issue 19, item 2): in the scoring
process its checks wait for the worker to be between batches, so they do not stretch a
batch (the facts' freshness); they still catch up, and a busy worker cannot hold them
back for ever."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from paceline.scoring.alerts.follower import checked_up_to
from paceline.scoring.worker import ScoringWorker
from paceline.shared.db.models import Event
from tests.scoring.alerts.test_follower_partitions import visit
from tests.support import embedded_settings, running_stack


async def _checked_and_stored(s: Any) -> tuple[int, int]:
    async with s.db.transaction(write=False) as session:
        stored = int(await session.scalar(select(func.count()).select_from(Event)) or 0)
        checked = sum((await checked_up_to(session)).values())
    return checked, stored


async def test_checks_wait_for_the_worker_to_be_idle(tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path / "data")
    async with running_stack("embedded", settings) as s:
        extras = s.app.state.paceline.extras
        worker: ScoringWorker = extras["worker"]
        follower = extras["alerts"].engine.follower
        # The scoring process wires the follower to its worker (PACELINE_ALERTS_YIELD_S).
        assert follower.before_page.func == worker.wait_idle
        assert follower.before_page.args == (settings.alerts_yield_s,)

        # Hold the follower at its gate (as a batch in progress would) and score events.
        gate = asyncio.Event()
        waits = 0

        async def held() -> None:
            nonlocal waits
            waits += 1
            await gate.wait()

        follower.before_page = held
        resp = await s.post_events([visit(n) for n in range(30)])
        assert resp.status_code == 202, resp.text
        for _ in range(400):  # the facts go on while the checks wait
            checked, stored = await _checked_and_stored(s)
            if stored == 30 and waits:
                break
            await asyncio.sleep(0.01)
        assert (stored, checked) == (30, 0)

        gate.set()  # between batches again: the checks catch up
        await s.wait_scored()
        assert await _checked_and_stored(s) == (30, 30)


async def test_no_yield_when_set_to_zero(tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path / "data", alerts_yield_s=0)
    async with running_stack("embedded", settings) as s:
        assert s.app.state.paceline.extras["alerts"].engine.follower.before_page is None


async def test_wait_idle_waits_for_a_batch_and_no_longer_than_its_bound(tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path / "data")
    async with running_stack("embedded", settings) as s:
        worker: ScoringWorker = s.app.state.paceline.extras["worker"]
        await worker.wait_idle()  # idle: returns at once

        worker._idle.clear()  # a batch is being applied
        waiting = asyncio.create_task(worker.wait_idle(max_wait_s=30))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        worker._idle.set()  # the batch is done
        await asyncio.wait_for(waiting, 5)

        worker._idle.clear()  # a worker that is never idle cannot starve the checks
        await asyncio.wait_for(worker.wait_idle(max_wait_s=0.05), 5)
        worker._idle.set()
