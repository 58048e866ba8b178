"""Burst and duplicate-visit flags read what is stored around each batch, in both modes.

The checks read only the stored events near the batch's events (PostgreSQL: one
statement for all windows). These tests split bursts and duplicates across batches, so a
flag can only be right if the stored part is found, and put events just outside the
windows, so it can only be right if nothing beyond them is counted.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from paceline.shared.clock import Clock, FixedClock
from tests.support import Stack

pytestmark = pytest.mark.dates

CST = timezone(timedelta(hours=8))
DAY = datetime(2026, 8, 19, tzinfo=CST)
NOW = datetime(2026, 8, 21, 10, 0, tzinfo=CST)  # the app's clock: two days after DAY


@pytest.fixture
def stack_clock() -> Clock:
    """The stacks of these tests run on a fixed clock (tests/conftest.py)."""
    return FixedClock(NOW)


def _visit(event_id: str, rep: str, at: datetime, customer: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "visit",
        "occurred_at": at.isoformat(),
        "rep_id": rep,
        "customer_id": customer,
        **extra,
    }


async def _post(s: Stack, events: list[dict[str, Any]]) -> None:
    resp = await s.post_events(events)
    assert resp.status_code == 202, resp.text
    await s.wait_scored()


async def _flags(s: Stack, type_: str) -> dict[str, dict[str, Any]]:
    resp = await s.client.get("/v1/alerts", params={"type": type_, "limit": 100}, headers=s.auth())
    assert resp.status_code == 200, resp.text
    return {a["dedup_key"]: a for a in resp.json()["items"]}


async def test_bursts_and_duplicates_across_batches(stack: Stack) -> None:
    s = stack
    ten = DAY.replace(hour=10)
    # Five quick visits (below the default threshold of 8 within 5 minutes), one the same
    # afternoon, and a first visit of "dup" to c1.
    await _post(
        s,
        [_visit(f"a{i}", "pad", ten + timedelta(seconds=30 * i), f"k{i}") for i in range(5)]
        + [
            _visit("a-late", "pad", DAY.replace(hour=16), "k9"),
            _visit("d1", "dup", DAY.replace(hour=9), "c1"),
        ],
    )
    assert await _flags(s, "burst") == {}
    assert await _flags(s, "duplicate_visit") == {}

    # Three more inside the window: eight within five minutes, five of them stored before.
    # A second visit to c1 that day, one to c1 the next day, and a visit to c2 whose only
    # other visit that day is deleted in the same batch.
    await _post(
        s,
        [
            _visit(f"b{i}", "pad", ten + timedelta(minutes=3, seconds=20 * i), f"kb{i}")
            for i in range(3)
        ]
        + [
            _visit("d2", "dup", DAY.replace(hour=17), "c1"),
            _visit("d3", "dup", DAY.replace(hour=9) + timedelta(days=1), "c1"),
            _visit("e1", "dup", DAY.replace(hour=11), "c2"),
            _visit("e2", "dup", DAY.replace(hour=12), "c2", entity_id="v-2", version=1),
            _visit(
                "e3", "dup", DAY.replace(hour=12), "c2", entity_id="v-2", version=2, deleted=True
            ),
        ],
    )
    bursts = await _flags(s, "burst")
    assert list(bursts) == ["burst:pad:visit:2026-08-19"]
    detail = bursts["burst:pad:visit:2026-08-19"]["detail"]
    assert detail["count"] == 8
    assert sorted(detail["events"]) == sorted([f"a{i}" for i in range(5)] + ["b0", "b1", "b2"])
    assert datetime.fromisoformat(detail["first"]) == ten
    dups = await _flags(s, "duplicate_visit")
    assert list(dups) == ["duplicate_visit:dup:c1:2026-08-19"]
    assert dups["duplicate_visit:dup:c1:2026-08-19"]["detail"]["count"] == 2
    assert sorted(dups["duplicate_visit:dup:c1:2026-08-19"]["detail"]["events"]) == ["d1", "d2"]

    # A visit six minutes after the last one (outside every window of the burst) changes
    # nothing; one inside it grows the burst.
    await _post(s, [_visit("c-far", "pad", ten + timedelta(minutes=10), "kf")])
    assert (await _flags(s, "burst"))["burst:pad:visit:2026-08-19"]["detail"]["count"] == 8
    await _post(s, [_visit("c-in", "pad", ten + timedelta(minutes=4), "ki")])
    grown = (await _flags(s, "burst"))["burst:pad:visit:2026-08-19"]["detail"]
    assert grown["count"] == 9
    assert "c-in" in grown["events"]

    # The titles, in the tenant's zh-CN: the reps are not in the org chart, so their ids
    # stand for their names; the day as a date, the count as it grew.
    burst = (await _flags(s, "burst"))["burst:pad:visit:2026-08-19"]
    assert burst["title"] == "pad于2026年8月19日在 5 分钟内录入了 9 条拜访记录（是否凑数？）"
    assert burst["title_params"]["day"] == {"$date": "2026-08-19"}
    dup = dups["duplicate_visit:dup:c1:2026-08-19"]
    assert dup["title"] == "dup于2026年8月19日拜访客户 c1 共 2 次（重复录入？）"
