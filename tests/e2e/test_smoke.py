"""One event from POST to progress, in both run modes."""

from __future__ import annotations

from tests.support import Stack


async def test_one_won_deal_reaches_progress(stack: Stack) -> None:
    event = {
        "event_id": "d1-v1",
        "type": "deal",
        "entity_id": "d1",
        "version": 1,
        "occurred_at": "2026-11-10T10:00:00+08:00",
        "rep_id": "r1",
        "stage": "won",
        "amount": "1200.50",
    }
    resp = await stack.post_events(event)
    assert resp.status_code == 202, resp.text
    assert resp.json()["accepted"] == 1
    await stack.wait_scored()
    resp = await stack.client.get(
        "/v1/progress",
        params={
            "kpi": "revenue",
            "period": "2026-11",
            "scope": "rep:r1",
            "as_of": "2026-12-01T00:00:00+08:00",
            # November's days with everything known now (the deal was received today).
            "knowledge": "latest",
        },
        headers=stack.auth(),
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["actual"] == "1200.5000"
