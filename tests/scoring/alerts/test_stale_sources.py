"""Stale sources: a live feed that stops is flagged after ``stale_source_hours`` working
hours and resolved when it sends again; a history import is a one-off load, never stale.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from paceline.scoring.alerting import Alerting
from paceline.shared.clock import FixedClock
from tests.support import Stack, embedded_settings, running_stack

TZ = ZoneInfo("Asia/Shanghai")
# Tuesday 1 December 2026, 09:30 in Shanghai (a working day).
START = datetime(2026, 12, 1, 9, 30, tzinfo=TZ)


@pytest.fixture
async def clocked(tmp_path: Path) -> AsyncIterator[tuple[Stack, FixedClock]]:
    clock = FixedClock(START)
    settings = embedded_settings(tmp_path / "data", alerts_tick_s=0, delivery_poll_s=0)
    async with running_stack("embedded", settings, clock=clock) as stack:
        yield stack, clock


def visit(n: int, at: datetime) -> dict[str, Any]:
    return {
        "event_id": f"v-{n}",
        "type": "visit",
        "occurred_at": at.isoformat(),
        "rep_id": "r1",
        "customer_id": f"c-{n}",
    }


async def stale(s: Stack) -> dict[str, str]:
    alerting: Alerting = s.app.state.paceline.extras["alerts"]
    await s.wait_scored()
    await alerting.engine.tick()
    answer = await s.client.get(
        "/v1/alerts",
        params={"status": "open,acknowledged,resolved", "limit": 200},
        headers=s.auth(),
    )
    assert answer.status_code == 200, answer.text
    return {
        a["detail"]["source"]: a["status"]
        for a in answer.json()["items"]
        if a["type"] == "stale_source"
    }


async def test_a_silent_feed_is_stale_and_an_import_never_is(
    clocked: tuple[Stack, FixedClock],
) -> None:
    s, clock = clocked
    assert (await s.post_events([visit(1, START)], source="crm")).status_code == 202
    imported = await s.client.post(
        "/v1/imports?name=history",
        content=orjson.dumps(visit(2, START)),
        headers={**s.auth(), "Content-Type": "application/x-ndjson"},
    )
    assert imported.status_code == 201, imported.text
    assert await stale(s) == {}
    # 09:30 -> 13:00 is 3.5 working hours: not yet (the limit is 4).
    clock.set(START.replace(hour=13, minute=0))
    assert await stale(s) == {}
    # 15:00: 5.5 working hours without the CRM; the import is one-off and stays unflagged.
    clock.set(START.replace(hour=15, minute=0))
    assert await stale(s) == {"crm": "open"}
    # The CRM sends again: resolved.
    later = START.replace(hour=15, minute=5)
    clock.set(later)
    assert (await s.post_events([visit(3, later)], source="crm")).status_code == 202
    assert await stale(s) == {"crm": "resolved"}
    # 15:05 to 18:00 and 09:00 to 10:00 the next day: 3.9 working hours, not yet.
    clock.set(later + timedelta(hours=18, minutes=55))
    assert await stale(s) == {"crm": "resolved"}
