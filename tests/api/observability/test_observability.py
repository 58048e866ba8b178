"""Observability: a request id travels from ingest to scoring's log, request logs hold no
secrets, and /metrics names what operators need (in both run modes where it matters)."""

from __future__ import annotations

import json
import logging
import re

import pytest

from paceline.shared.logs import JsonFormatter, RepeatedMessages
from paceline.shared.web.middleware import redact_query
from tests.support import Stack


def _event(eid: str, rep: str = "r1") -> dict[str, str]:
    return {
        "event_id": eid,
        "type": "visit",
        "occurred_at": "2026-11-10T10:00:00+08:00",
        "rep_id": rep,
        "customer_id": f"c-{eid}",
    }


async def test_a_request_id_travels_from_ingest_to_the_scoring_log(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    rid = f"trace-{stack.mode}-0001"
    resp = await stack.client.post(
        "/v1/events?source=api",
        json=[_event("e1"), _event("e2")],
        headers=stack.auth() | {"X-Request-ID": rid},
    )
    assert resp.status_code == 202, resp.text
    assert resp.headers["x-request-id"] == rid
    other = await stack.client.post(
        "/v1/events?source=api",
        json=[_event("e3")],
        headers=stack.auth() | {"X-Request-ID": "trace-other"},
    )
    assert other.status_code == 202
    await stack.wait_scored()

    access = [
        r
        for r in caplog.records
        if r.name == "paceline.access" and getattr(r, "request_id", None) == rid
    ]
    assert len(access) == 1
    assert access[0].__dict__["path"] == "/v1/events"
    assert access[0].__dict__["status"] == 202
    assert access[0].__dict__["route"] == "/v1/events"

    scoring = [
        r
        for r in caplog.records
        if r.name == "paceline.scoring.worker" and rid in r.__dict__.get("request_ids", [])
    ]
    assert scoring, [
        r.getMessage() for r in caplog.records if r.name.startswith("paceline.scoring")
    ]
    applied = sum(r.__dict__["applied"] for r in scoring)
    assert applied >= 2
    assert all(r.__dict__["tenants"] == ["default"] for r in scoring)
    ids = {
        i
        for r in caplog.records
        if r.name == "paceline.scoring.worker"
        for i in r.__dict__.get("request_ids", [])
    }
    assert {rid, "trace-other"} <= ids

    # The same lines as JSON (PACELINE_LOG_FORMAT=json): the id is a field of both.
    formatter = JsonFormatter()
    line = json.loads(formatter.format(scoring[0]))
    assert rid in line["request_ids"]
    assert line["logger"] == "paceline.scoring.worker"
    assert line["level"] == "info"
    assert json.loads(formatter.format(access[0]))["request_id"] == rid


async def test_request_logs_hold_no_keys(
    embedded_stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    secret = embedded_stack.admin_key
    # A key pasted into a query string (as a careless link would) is redacted.
    await embedded_stack.client.get(f"/dashboard/?key={secret}&lang=en")
    await embedded_stack.client.get(f"/v1/kpis?api_key={secret}", headers=embedded_stack.auth())
    await embedded_stack.client.get("/v1/kpis", headers=embedded_stack.auth())
    lines = [r for r in caplog.records if r.name == "paceline.access"]
    assert len(lines) == 3
    assert lines[0].__dict__["query"] == "key=REDACTED&lang=en"
    assert lines[1].__dict__["query"] == "api_key=REDACTED"
    formatter = JsonFormatter()
    # The server's lines (the test's own HTTP client, httpx, logs its URLs client-side).
    for record in [r for r in caplog.records if not r.name.startswith("httpx")]:
        assert secret not in formatter.format(record)
        assert secret not in record.getMessage()
    assert redact_query("Token=abc&x=1&signature=zz") == "Token=REDACTED&x=1&signature=REDACTED"
    assert redact_query("") == ""


async def test_webhook_endpoint_ids_never_reach_the_access_log(
    embedded_stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 17, hole 5: for a CRM that cannot sign (Salesforce), the endpoint id is the
    credential; it was written to the access log with ``?endpoint=``."""
    s = embedded_stack
    resp = await s.client.put(
        "/v1/connectors/pipedrive",
        json={"settings": {"username": "pd"}},
        headers=s.auth(),
    )
    assert resp.status_code == 201, resp.text
    endpoint = resp.json()["endpoint_id"]
    caplog.set_level(logging.INFO)
    await s.client.post(f"/v1/webhooks/pipedrive?endpoint={endpoint}&x=1", content=b"{}")
    await s.client.post(f"/v1/webhooks/pipedrive/{endpoint}", content=b"{}")
    lines = [r for r in caplog.records if r.name == "paceline.access"]
    assert [(r.__dict__["path"], r.__dict__["query"]) for r in lines] == [
        ("/v1/webhooks/pipedrive", "endpoint=REDACTED&x=1"),
        ("/v1/webhooks/pipedrive/REDACTED", ""),
    ]
    server = [r for r in caplog.records if not r.name.startswith("httpx")]  # the test client
    assert all(endpoint not in r.getMessage() for r in server)


async def test_metrics_name_what_operators_need(embedded_stack: Stack) -> None:
    await embedded_stack.post_events([_event("m1")])
    await embedded_stack.wait_scored()
    await embedded_stack.client.get(
        "/v1/progress",
        params={"kpi": "visits", "period": "2026-11"},
        headers=embedded_stack.auth(),
    )
    text = (await embedded_stack.client.get("/metrics")).text
    for name in (
        "paceline_ingest_events_total",  # ingest rate and result by source
        "paceline_ingest_events_by_type_total",  # events by type
        "paceline_consumer_lag_records",  # consumer lag
        "paceline_scoring_batch_seconds_bucket",  # processing latency histogram
        "paceline_scoring_freshness_seconds_bucket",  # ingest ack to facts commit
        "paceline_alert_deliveries_total",  # alert deliveries by outcome
        "paceline_http_request_seconds_bucket",  # request latency by route
    ):
        assert f"# TYPE {name.removesuffix('_bucket').removesuffix('_total')}" in text, name
    assert re.search(r'paceline_ingest_events_total\{result="accepted",source="api"\} [1-9]', text)
    assert re.search(
        r'paceline_http_requests_total\{method="GET",route="/v1/progress",status="200"\} [1-9]',
        text,
    )
    # Unmatched paths share one label value (no label per random URL).
    await embedded_stack.client.get("/no/such/path/12345")
    text = (await embedded_stack.client.get("/metrics")).text
    assert "/no/such/path" not in text
    assert 'route="unmatched"' in text


def test_repeated_library_messages_are_held_back() -> None:
    """A broker outage's flood of identical aiokafka errors becomes one line per interval."""
    now = [0.0]
    flt = RepeatedMessages(interval_s=30, clock=lambda: now[0])

    def rec(name: str, msg: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord(name, logging.ERROR, "f", 1, msg, args, None)

    passed = [
        flt.filter(rec("aiokafka", "Unable connect to node with id %s", i)) for i in range(500)
    ]
    assert passed == [True] + [False] * 499
    # Another message, and other loggers, are not held back.
    assert flt.filter(rec("aiokafka.conn", "Unable connect to node with id %s", 1))
    assert all(flt.filter(rec("paceline.ingest", "same %s", 1)) for _ in range(3))
    now[0] = 31.0
    later = rec("aiokafka", "Unable connect to node with id %s", 7)
    assert flt.filter(later)
    assert later.getMessage() == (
        "Unable connect to node with id 7 (499 more like it held back in the last 30 s)"
    )
    assert not flt.filter(rec("aiokafka", "Unable connect to node with id %s", 8))
