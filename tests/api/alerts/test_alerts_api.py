"""``/v1/alerts`` (filters, pagination, lifecycle, settings) and subscription validation."""

from __future__ import annotations

from typing import Any

from tests.support import Stack


async def _unknown(stack: Stack, *reps: str) -> None:
    events = [
        {
            "event_id": f"e-{r}",
            "type": "visit",
            "occurred_at": "2026-08-03T09:30:00+08:00",
            "rep_id": r,
        }
        for r in reps
    ]
    assert (await stack.post_events(events)).status_code == 202
    await stack.wait_scored()


async def _alerts(stack: Stack, **params: Any) -> dict[str, Any]:
    resp = await stack.client.get("/v1/alerts", params=params, headers=stack.auth())
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


async def test_list_filter_paginate_acknowledge_resolve(embedded_stack: Stack) -> None:
    s = embedded_stack
    await _unknown(s, "u1", "u2", "u3")
    page = await _alerts(s, kind="data_quality", type="unknown_rep", limit=2)
    assert [a["dedup_key"] for a in page["items"]] == ["unknown_rep:u3", "unknown_rep:u2"]
    rest = await _alerts(
        s, kind="data_quality", type="unknown_rep", limit=2, cursor=page["next_cursor"]
    )
    assert [a["dedup_key"] for a in rest["items"]] == ["unknown_rep:u1"]
    assert rest["next_cursor"] is None
    assert (await _alerts(s, kind="lag"))["items"] == []
    assert [a["scope"] for a in (await _alerts(s, scope="rep:u2"))["items"]] == ["rep:u2"]
    a1 = rest["items"][0]
    resp = await s.client.post(
        f"/v1/alerts/{a1['id']}/acknowledge", json={"note": "on it"}, headers=s.auth()
    )
    assert resp.status_code == 200
    assert resp.json()["status"] == "acknowledged"
    resp = await s.client.post(f"/v1/alerts/{a1['id']}/resolve", headers=s.auth())
    body = resp.json()
    assert body["status"] == "resolved"
    assert [(h["action"], h["note"]) for h in body["history"]] == [
        ("opened", ""),
        ("acknowledged", "on it"),
        ("resolved", ""),
    ]
    assert [
        a["dedup_key"] for a in (await _alerts(s, status="open", type="unknown_rep"))["items"]
    ] == [
        "unknown_rep:u3",
        "unknown_rep:u2",
    ]
    assert (await _alerts(s, since="2999-01-01T00:00:00+00:00"))["items"] == []
    # Events dated months before they arrived: flagged as back-dated, once per source and day.
    dated = (await _alerts(s, type="backdated"))["items"]
    assert len(dated) == 1
    assert dated[0]["detail"]["count"] == 3
    # Bad filters are named.
    for params, field in (
        ({"kind": "lag,nope"}, "kind"),
        ({"status": "closed"}, "status"),
        ({"cursor": "zzz"}, "cursor"),
        ({"since": "2026-08-01T00:00:00"}, "since"),
        ({"scope": "galaxy"}, "scope"),
    ):
        resp = await s.client.get("/v1/alerts", params=params, headers=s.auth())
        assert resp.status_code == 422, (params, resp.text)
        assert [f["field"] for f in resp.json()["error"]["fields"]] == [field]
    assert (await s.client.get("/v1/alerts/99999", headers=s.auth())).status_code == 404


async def test_alert_settings_are_validated_and_kept(embedded_stack: Stack) -> None:
    s = embedded_stack
    resp = await s.client.get("/v1/alerts/settings", headers=s.auth())
    assert resp.json()["min_elapsed_share"] == 0.2
    assert resp.json()["burst_count"] == 8
    resp = await s.client.put(
        "/v1/alerts/settings", json={"burst_count": 12, "min_elapsed_share": 0.3}, headers=s.auth()
    )
    assert resp.status_code == 200, resp.text
    assert (resp.json()["burst_count"], resp.json()["min_elapsed_share"]) == (12, 0.3)
    resp = await s.client.put("/v1/alerts/settings", json={"burst_count": 1}, headers=s.auth())
    assert resp.status_code == 422
    assert [f["field"] for f in resp.json()["error"]["fields"]] == ["burst_count"]
    again = await s.client.get("/v1/alerts/settings", headers=s.auth())
    assert again.json()["burst_count"] == 12


async def test_subscriptions_validate_and_redact(embedded_stack: Stack) -> None:
    s = embedded_stack
    bad = [
        ({"name": "x", "url": "ftp://example.com/x"}, "url"),
        ({"name": "x", "url": "https://e.com/h", "format": "telex"}, "format"),
        ({"name": "x", "url": "https://e.com/h", "secret": "mine"}, "secret"),
        ({"name": "x", "url": "https://e.com/h", "teams": ["nowhere"]}, "teams"),
        ({"name": "x", "url": "https://e.com/h", "kinds": ["weather"]}, "kinds[0]"),
    ]
    for body, field in bad:
        resp = await s.client.post("/v1/subscriptions", json=body, headers=s.auth())
        assert resp.status_code == 422, (body, resp.text)
        assert [f["field"] for f in resp.json()["error"]["fields"]] == [field], resp.text
    resp = await s.client.post(
        "/v1/subscriptions",
        json={
            "name": "bot",
            "url": "https://oapi.dingtalk.com/robot/send?access_token=SECRETTOKEN",
            "format": "dingtalk",
            "secret": "SECxyz",
            "min_severity": "critical",
        },
        headers=s.auth(),
    )
    assert resp.status_code == 201, resp.text
    sub = resp.json()
    assert sub["url"] == "https://oapi.dingtalk.com/robot/send?access_token=%2A%2A%2A"
    assert sub["secret"] is None
    assert sub["has_secret"] is True
    listed = (await s.client.get("/v1/subscriptions", headers=s.auth())).json()
    assert [x["id"] for x in listed] == [sub["id"]]
    assert "SECRETTOKEN" not in str(listed)
    assert "SECxyz" not in str(listed)
    resp = await s.client.patch(
        f"/v1/subscriptions/{sub['id']}", json={"kinds": ["lag"]}, headers=s.auth()
    )
    assert resp.json()["kinds"] == ["lag"]
    resp = await s.client.delete(f"/v1/subscriptions/{sub['id']}", headers=s.auth())
    assert resp.status_code == 204
    assert (
        await s.client.get(f"/v1/subscriptions/{sub['id']}", headers=s.auth())
    ).status_code == 404
