"""The alert follower's cursors per log partition (issue 19, item 3): each process follows
the partitions its consumer owns, with one cursor row per partition, so two processes
never wait on one cursor; a database with the old single cursor carries on from it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select

from paceline.scoring.alerts import repository as alert_repo
from paceline.scoring.alerts.engine import AlertEngine
from paceline.scoring.alerts.follower import (
    CURSOR_KEY,
    EventFollower,
    checked_up_to,
    cursor_key,
    stored_up_to,
)
from paceline.shared.db.models import Event
from paceline.shared.db.models_alerts import EvalState
from tests.support import embedded_settings, running_stack


def visit(n: int) -> dict[str, Any]:
    """A visit by one of 24 reps (spread over the partitions by rep)."""
    return {
        "event_id": f"v-{n}",
        "type": "visit",
        "occurred_at": "2026-11-10T09:00:00+08:00",
        "rep_id": f"rep-{n % 24}",
        "customer_id": f"c-{n}",
        "channel": "onsite",
    }


async def _stop_own_follower(s: Any) -> None:
    """Stop the stack's own alert loops, so they cannot check pages behind the test's back.

    ``wait_scored`` returns once every stored event is checked, but the stack's follower
    may still be sweeping (its first ownership poll, up to a second after start, checks
    every partition it gained): a cursor the test sets back would be moved on by it.
    """
    alerting = s.app.state.paceline.extras["alerts"]
    alerting.engine.stop()
    loops = [t for t in alerting.tasks if t.get_name() in {"alert-follower", "alert-engine"}]
    await asyncio.wait_for(asyncio.gather(*loops), 15)


@asynccontextmanager
async def _unchecked_stack(tmp_path: Path) -> AsyncIterator[tuple[Any, dict[int, int]]]:
    """A stack (3 partitions) with 120 visits stored and, as a process killed after its
    commits and before its checks leaves them, every partition's cursor back at 0; and
    where each partition's stored events end."""
    settings = embedded_settings(tmp_path / "data")
    async with running_stack("embedded", settings) as s:
        resp = await s.post_events([visit(n) for n in range(120)])
        assert resp.status_code == 202, resp.text
        await s.wait_scored()
        await _stop_own_follower(s)
        async with s.db.transaction() as session:
            ends = await stored_up_to(session)
            for p in range(3):
                await alert_repo.put_state(
                    session,
                    tenant_id=alert_repo.GLOBAL,
                    key=cursor_key(p),
                    state={"next": 0},
                    now=s.now(),
                )
        yield s, ends


async def test_each_follower_checks_only_its_partitions(tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path / "data")  # 3 partitions
    async with running_stack("embedded", settings) as s:
        resp = await s.post_events([visit(n) for n in range(120)])
        assert resp.status_code == 202, resp.text
        await s.wait_scored()
        async with s.db.transaction(write=False) as session:
            per_partition = Counter(
                dict(
                    (
                        await session.execute(
                            select(Event.log_partition, func.count()).group_by(Event.log_partition)
                        )
                    ).all()
                )
            )
            # The stack's own follower (every partition in embedded mode) is done.
            assert await checked_up_to(session) == await stored_up_to(session)
        assert sorted(per_partition) == [0, 1, 2], per_partition  # the reps spread
        await _stop_own_follower(s)

        # An upgraded database: only the old single cursor, at the start of every partition.
        async with s.db.transaction() as session:
            await session.execute(
                delete(EvalState).where(
                    EvalState.tenant_id == alert_repo.GLOBAL,
                    EvalState.key.like(f"{CURSOR_KEY}%"),
                )
            )
            await alert_repo.put_state(
                session,
                tenant_id=alert_repo.GLOBAL,
                key=CURSOR_KEY,
                state={str(p): 0 for p in range(3)},
                now=s.now(),
            )
        first = EventFollower(
            db=s.db,
            clock=s.app.state.paceline.clock,
            partitions=3,
            lag_debounce_s=0,
            owned=lambda: frozenset({0, 1}),
        )
        second = EventFollower(
            db=s.db,
            clock=s.app.state.paceline.clock,
            partitions=3,
            lag_debounce_s=0,
            owned=lambda: frozenset({2}),
        )
        joining = EventFollower(
            db=s.db,
            clock=s.app.state.paceline.clock,
            partitions=3,
            lag_debounce_s=0,
            owned=lambda: None,  # its consumer has not joined the group yet
        )
        assert await joining.read_new() == 0
        assert await first.read_new() == per_partition[0] + per_partition[1]
        async with s.db.transaction(write=False) as session:
            halfway = await checked_up_to(session)
            rows = await alert_repo.states(
                session, tenant_id=alert_repo.GLOBAL, prefix=f"{CURSOR_KEY}:"
            )
        assert sorted(rows) == [cursor_key(0), cursor_key(1)]
        assert halfway[2] == 0  # the other process's partition waits for it
        assert await second.read_new() == per_partition[2]
        assert await first.read_new() == 0
        assert await second.read_new() == 0
        # Each process re-judges the lag of the reps it saw.
        assert first.changed_tenants() == {"default"}
        assert second.changed_tenants() == {"default"}
        async with s.db.transaction(write=False) as session:
            assert await checked_up_to(session) == await stored_up_to(session)
        # A rebalance: partition 1 moves to the second process, which starts at its row.
        moved = EventFollower(
            db=s.db,
            clock=s.app.state.paceline.clock,
            partitions=3,
            lag_debounce_s=0,
            owned=lambda: frozenset({1, 2}),
        )
        assert await moved.read_new() == 0


async def test_gained_partitions_are_checked_without_a_new_batch(tmp_path: Path) -> None:
    """After a rebalance or a restart, a process checks the partitions it was given at
    once: their last batches may be unchecked (the former owner died first), and with no
    new events there no batch would wake the checks until the next tick."""
    async with _unchecked_stack(tmp_path) as (s, ends):
        assert sorted(ends) == [0, 1, 2]
        owned: dict[str, frozenset[int] | None] = {"now": None}
        engine = AlertEngine(
            db=s.db,
            clock=s.app.state.paceline.clock,
            partitions=3,
            lag_debounce_s=0,
            owned=lambda: owned["now"],
            ownership_poll_s=0.02,
        )

        async def cursors() -> dict[int, int]:
            async with s.db.transaction(write=False) as session:
                return await checked_up_to(session)

        async def until(want: dict[int, int]) -> None:
            for _ in range(500):
                if await cursors() == want:
                    return
                await asyncio.sleep(0.02)
            raise AssertionError(f"cursors {await cursors()}, wanted {want}")

        task = asyncio.create_task(engine.follow())
        try:
            await asyncio.sleep(0.2)  # not in the group yet: nothing to follow
            assert await cursors() == {0: 0, 1: 0, 2: 0}
            owned["now"] = frozenset({0})
            await until({0: ends[0], 1: 0, 2: 0})
            owned["now"] = frozenset({0, 1, 2})  # no batch committed meanwhile
            await until(ends)
        finally:
            engine.stop()
            await asyncio.wait_for(task, 10)


async def test_a_check_reads_every_partition_it_counts_as_followed(tmp_path: Path) -> None:
    """The consumer's assignment can change between the poll that decides to check and
    the check itself (a rebalance in flight). The check reads the partitions the poll
    counted as followed; had it asked the consumer again and got fewer, the rest would
    have waited for the next tick, since the next poll sees nothing gained."""
    async with _unchecked_stack(tmp_path) as (s, ends):
        # Every answer is all three partitions, but for the second: one, mid-rebalance.
        answers = iter([frozenset({0, 1, 2}), frozenset({0})])
        engine = AlertEngine(
            db=s.db,
            clock=s.app.state.paceline.clock,
            partitions=3,
            lag_debounce_s=0,
            owned=lambda: next(answers, frozenset({0, 1, 2})),
            ownership_poll_s=0.02,
        )
        task = asyncio.create_task(engine.follow())
        try:
            for _ in range(500):
                async with s.db.transaction(write=False) as session:
                    if await checked_up_to(session) == ends:
                        break
                await asyncio.sleep(0.02)
            async with s.db.transaction(write=False) as session:
                assert await checked_up_to(session) == ends
        finally:
            engine.stop()
            await asyncio.wait_for(task, 10)
