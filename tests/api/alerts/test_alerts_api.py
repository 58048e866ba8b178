"""``/v1/alerts`` (filters, pagination, lifecycle, settings) and subscription validation."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from paceline.shared.db import lifecycle
from paceline.shared.db.models import Alert
from paceline.shared.i18n import L10n, Money, Pct, from_json, msg, render, to_json
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
    assert dated[0]["scope_name"] == "公司"
    assert dated[0]["title_code"] == "alerts.quality.backdated"
    assert dated[0]["title"].startswith("2026年")
    assert "的事件时间比到达时间早 7 天以上（补录？）" in dated[0]["title"]
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


async def test_alert_words_follow_the_tenant_and_accept_language(embedded_stack: Stack) -> None:
    """Titles in the tenant's zh-CN, English on Accept-Language: en; the code and its
    parameters for machines either way; errors likewise."""
    s = embedded_stack
    await _unknown(s, "u1")
    (zh,) = (await _alerts(s, type="unknown_rep"))["items"]
    assert zh["title"] == "收到了销售 u1 的事件，但组织架构中没有此人"
    assert (zh["title_code"], zh["title_params"]) == ("alerts.quality.unknown_rep", {"rep": "u1"})
    assert zh["scope_name"] == "u1"  # not in the org chart: its id is all there is
    resp = await s.client.get(
        "/v1/alerts",
        params={"type": "unknown_rep"},
        headers={**s.auth(), "Accept-Language": "en-US,en;q=0.9"},
    )
    (en,) = resp.json()["items"]
    assert en["title"] == "Events for rep 'u1', who is not in the org chart"
    assert (en["title_code"], en["title_params"]) == (zh["title_code"], zh["title_params"])
    # The org chart names the rep now: the alert resolves itself (a note of the system).
    resp = await s.client.put(
        "/v1/org",
        json={
            "teams": [{"id": "north", "name": "华北一组"}],
            "reps": [{"id": "u1", "name": "张伟", "team_id": "north"}],
        },
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    one = (await s.client.get(f"/v1/alerts/{zh['id']}", headers=s.auth())).json()
    assert one["scope_name"] == "张伟"
    assert one["team"] == "north"
    # Errors: in the caller's language, with the code and parameters.
    bad = await s.client.get("/v1/alerts", params={"status": "closed"}, headers=s.auth())
    error = bad.json()["error"]
    assert error["message"] == "筛选条件 status 的值“closed”无效"
    assert (error["message_code"], error["message_params"]) == (
        "alerts.errors.unknown_value",
        {"field": "status", "value": "closed"},
    )
    assert error["fields"][0]["reason_code"] == "alerts.errors.use_any_of"
    assert error["fields"][0]["reason"].startswith("可选值：“open”、“acknowledged”")
    missing = await s.client.get("/v1/alerts/12345", headers={**s.auth(), "Accept-Language": "en"})
    assert missing.json()["error"]["message"] == "no alert 12345"
    missing = await s.client.get("/v1/alerts/12345", headers=s.auth())
    assert missing.json()["error"]["message"] == "没有编号为 12345 的预警"
    settings = await s.client.put("/v1/alerts/settings", json={"burst_count": 1}, headers=s.auth())
    error = settings.json()["error"]
    assert error["message"] == "预警设置无效"
    assert error["fields"][0]["reason_code"].startswith("errors.validation.")


async def test_a_stored_title_message_round_trips(embedded_stack: Stack) -> None:
    """raise_alert keeps the title as {"code", "params"} (alerts.message) and its zh-CN
    rendering, cut to 400 characters, in alerts.title; a resolve note likewise."""
    s = embedded_stack
    title = msg(
        "alerts.lag.at_risk",
        scope="张伟",
        kpi=L10n(zh="销售额", en="Revenue"),
        period=msg("alerts.period.month", year="2026", month=L10n(zh="11", en="Nov")),
        actual=Money(Decimal("180000"), "CNY"),
        expected=Money(Decimal("452380.9524"), "CNY"),
        pace=Pct(Decimal("0.3979")),
    )
    now = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)
    async with s.db.transaction() as session:
        change = await lifecycle.raise_alert(
            session,
            tenant_id=s.settings.default_tenant,
            kind="lag",
            type="lag",
            dedup_key="lag:test",
            scope="company",
            severity="critical",
            title=title,
            detail={},
            now=now,
        )
        await lifecycle.resolve_alerts(
            session,
            tenant_id=s.settings.default_tenant,
            dedup_keys=["lag:test"],
            now=now,
            note=msg("alerts.note.period_ended"),
        )
    async with s.db.transaction(write=False) as session:
        row = await session.get(Alert, change.alert_id)
        assert row is not None
        assert row.message is not None
        assert from_json(row.message) == from_json(to_json(title))
        assert (
            render(from_json(row.message), "zh-CN")
            == row.title
            == (
                "张伟的销售额（2026年11月）有完不成的风险："
                "已完成 ¥18万，按进度应完成 ¥45.24万，仅为预期进度的 40%"
            )
        )
    answer = (
        await s.client.get(
            f"/v1/alerts/{change.alert_id}", headers={**s.auth(), "Accept-Language": "en"}
        )
    ).json()
    assert answer["title"] == (
        "张伟 is at risk on Revenue for Nov 2026: CN¥180,000.00 of CN¥452,380.95 expected "
        "(40% of the expected pace)"
    )
    assert answer["scope_name"] == "Company"
    assert [(h["action"], h["note"], h["note_code"]) for h in answer["history"]] == [
        ("opened", "", None),
        ("resolved", "period ended", "alerts.note.period_ended"),
    ]


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
