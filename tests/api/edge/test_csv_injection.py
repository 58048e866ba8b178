"""Issue 17, hole 3: an ingest-only key plants formulas through ``rep_id`` and
``event_id``; every CSV the API writes keeps them text (shared/web/csv_out.py)."""

from __future__ import annotations

import csv
import io

from tests.support import Stack

EVIL = '=HYPERLINK("http://evil.example","x")'
AT_EVIL = "@SUM(1+1)*cmd|' /C calc'!A0"


async def _ingest_key(s: Stack) -> str:
    resp = await s.client.post(
        "/v1/keys", json={"name": "crm", "scopes": ["ingest"]}, headers=s.auth()
    )
    assert resp.status_code == 201, resp.text
    key: str = resp.json()["key"]
    return key


async def test_formulas_planted_by_an_ingest_key_stay_text_in_every_csv(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    ingest = await _ingest_key(s)
    deal = {
        "event_id": EVIL,
        "type": "deal",
        "occurred_at": "2025-03-14T10:00:00+08:00",
        "rep_id": EVIL,
        "entity_id": "d1",
        "version": 1,
        "stage": "won",
        "amount": "100",
        "customer_id": "c1",
    }
    resp = await s.post_events([deal], key=ingest)
    assert resp.status_code == 202, resp.text
    await s.wait_scored()

    facts = await s.client.get(
        "/v1/facts",
        params={"kpi": "revenue", "from": "2025-03-01", "to": "2025-03-31", "format": "csv"},
        headers=s.auth(),
    )
    assert facts.status_code == 200, facts.text
    rows = list(csv.DictReader(io.StringIO(facts.text)))
    assert [(r["rep_id"], r["day"], r["value"]) for r in rows] == [
        ("'" + EVIL, "2025-03-14", "100.0000")
    ]
    as_json = await s.client.get(
        "/v1/facts",
        params={"kpi": "revenue", "from": "2025-03-01", "to": "2025-03-31"},
        headers=s.auth(),
    )
    assert [r["rep_id"] for r in as_json.json()["rows"]] == [EVIL]  # JSON is data, as is

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(
        [
            ["event_id", "occurred_at", "rep_id", "customer_id"],
            [EVIL, "not-a-time", "r1", "c1"],
            [AT_EVIL, "2025-03-21T09:00:00+08:00", "-2+3", "c1"],
        ]
    )
    file = buf.getvalue()
    imported = await s.client.post(
        "/v1/imports?name=evil&type=visit",
        content=file.encode(),
        headers={**s.auth(ingest), "Content-Type": "text/csv"},
    )
    assert imported.status_code == 201, imported.text
    run = imported.json()
    assert (run["rows_accepted"], run["rows_rejected"]) == (1, 1)
    issues = await s.client.get(
        f"/v1/imports/{run['id']}/rows", params={"format": "csv"}, headers=s.auth()
    )
    assert issues.status_code == 200, issues.text
    table = list(csv.DictReader(io.StringIO(issues.content.decode("utf-8-sig"))))
    assert [(r["line"], r["status"], r["event_id"], r["field"]) for r in table] == [
        ("2", "rejected", "'" + EVIL, "occurred_at")
    ]
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in table for cell in r.values())
