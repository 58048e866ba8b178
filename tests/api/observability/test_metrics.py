"""Prometheus metrics move with the traffic they describe."""

from __future__ import annotations

import re

from tests.support import Stack


def _value(page: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name) + (re.escape("{" + labels + "}") if labels else "") + r" ([0-9.e+-]+)"
    match = re.search(pattern, page)
    return float(match.group(1)) if match else 0.0


async def test_metrics_count_ingest_and_scoring(embedded_stack: Stack) -> None:
    before = (await embedded_stack.client.get("/metrics")).text
    events = [
        {
            "event_id": f"m-{i}",
            "type": "visit",
            "occurred_at": "2026-11-20T10:00:00+08:00",
            "rep_id": "r1",
        }
        for i in range(3)
    ]
    events.append({"event_id": "m-bad", "type": "visit", "rep_id": "r1"})
    resp = await embedded_stack.post_events(events, source="metrics-test")
    assert resp.status_code == 202
    await embedded_stack.wait_scored()
    page = await embedded_stack.client.get("/metrics")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    after = page.text
    accepted = 'result="accepted",source="metrics-test"'
    rejected = 'result="rejected",source="metrics-test"'
    assert (
        _value(after, "paceline_ingest_events_total", accepted)
        - _value(before, "paceline_ingest_events_total", accepted)
        == 3
    )
    assert (
        _value(after, "paceline_ingest_events_total", rejected)
        - _value(before, "paceline_ingest_events_total", rejected)
        == 1
    )
    applied = 'outcome="applied"'
    assert (
        _value(after, "paceline_scoring_events_total", applied)
        - _value(before, "paceline_scoring_events_total", applied)
        == 3
    )
    assert (
        _value(after, "paceline_scoring_freshness_seconds_count")
        - _value(before, "paceline_scoring_freshness_seconds_count")
        == 3
    )


async def test_no_created_series(embedded_stack: Stack) -> None:
    """Counters and histograms come without their ``_created`` twins (issue 18)."""
    await embedded_stack.client.get("/healthz")
    page = (await embedded_stack.client.get("/metrics")).text
    assert "paceline_http_requests_total{" in page
    assert "_created" not in page
