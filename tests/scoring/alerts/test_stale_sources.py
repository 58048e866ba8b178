"""Stale sources: a live feed that stops is flagged after ``stale_source_hours`` working
hours and resolved when it sends again; a history import is a one-off load, never stale.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
import pytest
from sqlalchemy.engine import make_url

from paceline.scoring.alerting import Alerting
from paceline.scoring.alerts import repository as alert_repo
from paceline.shared.clock import FixedClock
from paceline.shared.db.session import Database
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
    flagged = await s.client.get("/v1/alerts", params={"type": "stale_source"}, headers=s.auth())
    (alert,) = flagged.json()["items"]
    assert (
        alert["title"] == "“crm”已有 5.5 个工作小时没有发来事件（最后一次：2026年12月1日 09:30:00）"
    )
    assert alert["title_params"]["hours"] == {"$num": "5.5"}
    # The CRM sends again: resolved.
    later = START.replace(hour=15, minute=5)
    clock.set(later)
    assert (await s.post_events([visit(3, later)], source="crm")).status_code == 202
    assert await stale(s) == {"crm": "resolved"}
    # 15:05 to 18:00 and 09:00 to 10:00 the next day: 3.9 working hours, not yet.
    clock.set(later + timedelta(hours=18, minutes=55))
    assert await stale(s) == {"crm": "resolved"}


# -- cost: flat in the number of stored events (issue 19, item 6) -------------------------


async def test_last_arrival_per_source_does_not_scan_the_events(migrated_database_url: str) -> None:
    """On real PostgreSQL with 60,000 events of 3 sources, the query's plan probes the
    index once per source (and once more to find the next one) and reads no event row:
    its cost grows with the sources, not with the table."""
    u = make_url(migrated_database_url)
    conn = await asyncpg.connect(host=u.host, port=u.port, database=u.database, user=u.username)
    try:
        await conn.execute(
            "INSERT INTO tenants (id, name, timezone, currency, fiscal_year_start_month, locale,"
            " closes, options, created_at, updated_at) VALUES ('bulk', 'Bulk', 'Asia/Shanghai',"
            " 'CNY', 1, 'zh-CN', '[]', '{}', now(), now()) ON CONFLICT DO NOTHING"
        )
        await conn.execute(
            "INSERT INTO events (tenant_id, source, event_id, type, record_id, version_rank,"
            " rep_id, occurred_at, received_at, payload, log_partition, log_offset)"
            " SELECT 'bulk', (ARRAY['api','hubspot','import'])[1 + g % 3], 'e' || g, 'visit',"
            " 'r' || g, '0', 'rep' || (g % 50),"
            " timestamptz '2026-11-01' + g * interval '1 minute',"
            " timestamptz '2026-11-01' + g * interval '1 minute', '{}', g % 6, g"
            " FROM generate_series(1, 60000) g"
        )
        await conn.execute("ANALYZE events")
        db = Database(migrated_database_url)
        try:
            async with db.transaction(write=False) as session:
                last = await alert_repo.last_received_by_source(
                    session,
                    tenant_id="bulk",
                    since=datetime(2026, 11, 1, tzinfo=UTC),
                )
        finally:
            await db.dispose()
        assert set(last) == {"api", "hubspot", "import"}
        assert last["api"] == datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=60000)
        plan = await conn.fetchval(
            "EXPLAIN (ANALYZE, FORMAT JSON) WITH RECURSIVE src(source) AS ("
            " SELECT (SELECT min(source) FROM events WHERE tenant_id = 'bulk')"
            " UNION ALL SELECT (SELECT min(e.source) FROM events e"
            " WHERE e.tenant_id = 'bulk' AND e.source > src.source)"
            " FROM src WHERE src.source IS NOT NULL)"
            " SELECT src.source, (SELECT max(e.received_at) FROM events e"
            " WHERE e.tenant_id = 'bulk' AND e.source = src.source) FROM src"
            " WHERE src.source IS NOT NULL"
        )
    finally:
        await conn.close()
    nodes: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        nodes.append(node)
        for child in node.get("Plans", []):
            walk(child)

    walk(json.loads(plan)[0]["Plan"])
    on_events = [n for n in nodes if n.get("Relation Name") == "events"]
    assert on_events
    assert not [n for n in on_events if n["Node Type"] == "Seq Scan"]
    # Every probe reads at most one index entry per loop: nothing like the table's 60,000.
    assert all(n.get("Actual Rows", 0) <= 1 for n in on_events), on_events
    assert sum(n.get("Actual Rows", 0) * n.get("Actual Loops", 1) for n in on_events) < 20
