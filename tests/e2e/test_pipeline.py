"""The whole pipeline on real components: HTTP in, facts out, equal to a recomputation."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from paceline.shared.events import CanonicalEvent, Envelope
from paceline.shared.kpi.records import TenantContext
from tests.e2e.workload import workload
from tests.infra import KafkaBroker
from tests.support import Stack, diff_rows, reference_facts, stored_facts

RECEIVED = datetime(2026, 11, 26, tzinfo=UTC)


def _envelopes(events: list[dict[str, object]]) -> list[Envelope]:
    return [
        Envelope(
            tenant_id="default",
            source="api",
            received_at=RECEIVED,
            event=CanonicalEvent.model_validate(e),
        )
        for e in events
    ]


async def _assert_facts_match(stack: Stack, sent: list[dict[str, object]]) -> None:
    expected_facts, expected_members = reference_facts(
        _envelopes(sent),
        {"default": TenantContext("default", ZoneInfo("Asia/Shanghai"), "CNY")},
    )
    facts, members = await stored_facts(stack.db, tenant_ids=["default"])
    assert facts == expected_facts, diff_rows(expected_facts, facts)
    assert members == expected_members, diff_rows(expected_members, members)


async def test_workload_facts_equal_recomputation(stack: Stack) -> None:
    events = workload(1000)
    for i in range(0, len(events), 50):
        resp = await stack.post_events(events[i : i + 50])
        assert resp.status_code == 202, resp.text
        assert resp.json()["rejected"] == 0
    await stack.wait_scored()
    await _assert_facts_match(stack, events)

    # The scripted deal was deleted at the end: it adds nothing for anyone.
    async def revenue(scope: str) -> str:
        resp = await stack.client.get(
            "/v1/progress",
            params={
                "kpi": "revenue",
                "period": "2026-11",
                "scope": scope,
                "as_of": "2026-12-01T00:00:00+08:00",
                "knowledge": "latest",  # November's days, everything received since
            },
            headers=stack.auth(),
        )
        assert resp.status_code == 200, resp.text
        return str(resp.json()["actual"])

    facts, _ = await stored_facts(stack.db, tenant_ids=["default"])
    total = sum(
        v
        for (_t, k, _m, _r, d), (v, _n) in facts.items()
        if k == "revenue" and d < date(2026, 12, 1)
    )
    assert await revenue("company") == f"{total / 10_000:.4f}"
    # deal-kept counts once, for r3 (its latest version), on the closed_at day.
    kept_rows = [
        (r, d) for (t, k, m, r, d), (v, n) in facts.items() if k == "deals_won" and r == "r3"
    ]
    assert kept_rows, "r3's won deal is missing"


@pytest.mark.kafka
async def test_broker_down_answers_503_and_loses_nothing(
    distributed_stack: Stack, kafka_broker: KafkaBroker
) -> None:
    stack = distributed_stack
    events = workload(200, seed=5)
    first, during, after = events[:80], events[80:120], events[120:]
    resp = await stack.post_events(first)
    assert resp.status_code == 202, resp.text
    await stack.wait_scored()  # the consumer is in its group and has applied the first part

    kafka_broker.stop()
    try:
        started = time.monotonic()
        resp = await stack.post_events(during)
        waited = time.monotonic() - started
        assert resp.status_code == 503, resp.text
        assert resp.headers["Retry-After"].isdigit()
        body = resp.json()
        assert body["error"]["code"] == "event_log_unavailable"
        ready = await stack.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["event_log"].startswith("error")
    finally:
        kafka_broker.start()
    print(f"503 answered after {waited:.1f}s")  # reported, not asserted

    # The sender retries what was refused; once the broker is back it is accepted.
    deadline = time.monotonic() + 90
    while True:
        resp = await stack.post_events(during)
        if resp.status_code == 202:
            break
        assert resp.status_code == 503, resp.text
        assert time.monotonic() < deadline, "ingest did not recover after the broker restart"
        await asyncio.sleep(1)
    resp = await stack.post_events(after)
    assert resp.status_code == 202, resp.text
    await stack.wait_scored()
    await _assert_facts_match(stack, events)
