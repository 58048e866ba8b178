"""Bot messages per vendor, pure: the native rich format, zh-CN words from the catalogs,
names instead of ids, the colour, the dashboard button and the @-mention."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from paceline.scoring.delivery.formats import render
from paceline.scoring.delivery.grouping import Change, group_key, group_payload, mention_for
from paceline.scoring.delivery.messages import compose, dashboard_link, layout
from paceline.shared.delivery_options import DeliveryOptions, delivery_options
from paceline.shared.i18n import params_json
from tests.scoring.delivery.vendor_shapes import button_url, check, text_of

T0 = datetime(2026, 8, 3, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
BASE = "https://paceline.example.com/dashboard/"
VENDORS = ("wecom", "dingtalk", "feishu", "slack")
NAMES = {"team:north": "华北区", "rep:rep-03": "王芳", "rep:rep-07": "李娜"}
OPTIONS = DeliveryOptions(
    dashboard_url=BASE,
    mentions={"north": {"mobiles": ["13800000003"], "user_ids": ["ou_wangjun"]}},  # type: ignore[dict-item]
)


def plain(text: str) -> str:
    """Text without colour tags."""
    return re.sub(r"<font[^>]*>|</font>", "", text)


def lag(scope: str, *, severity: str = "critical", team: str = "north") -> dict[str, Any]:
    return {
        "dedup_key": f"lag:{scope}",
        "kind": "lag",
        "type": "lag",
        "scope": scope,
        "team": team,
        "severity": severity,
        "status": "open",
        "title": f"{NAMES.get(scope, scope)} 的回款进度落后",
        "detail": {"kpi": "revenue", "period": "2026-08"},
    }


def change(i: int, alert: dict[str, Any], action: str = "opened") -> Change:
    return Change(
        id=i,
        alert_key=str(alert["dedup_key"]),
        group_key=group_key(alert, action=action, labels=["team", "kind"]),
        action=action,
        created_at=T0,
        alert=alert,
    )


def payload(changes: list[Change], *, locale: str = "zh-CN") -> dict[str, Any]:
    body = group_payload(
        tenant_id="default",
        locale=locale,
        key=changes[0].group_key,
        members=changes,
        covered={},
        payloads={
            c.id: {"data": {"alert": dict(c.alert), "event": {"action": c.action}}} for c in changes
        },
        now=T0,
    )
    group = body["data"]["group"]
    group["names"] = NAMES
    who = mention_for(changes, OPTIONS, {"north": None})
    if who:
        group["mention"] = who
    return body


def sent(vendor: str, body: dict[str, Any], options: DeliveryOptions = OPTIONS) -> dict[str, Any]:
    req = render(
        fmt=vendor,
        url="https://bot.example.com/hook",
        secret=None,
        message_id="msg_1",
        payload=body,
        at=T0,
        options=options,
    )
    out: dict[str, Any] = orjson.loads(req.body)
    return out


@pytest.mark.parametrize("vendor", VENDORS)
def test_one_critical_lag_alert_in_each_vendor_format(vendor: str) -> None:
    body = sent(vendor, payload([change(1, lag("rep:rep-03"))]))
    assert check(vendor, body) == []
    raw = text_of(vendor, body)
    text = plain(raw)
    # zh-CN words, the rep's and the team's names, never their ids.
    assert "华北区 · 进度落后" in text
    assert "王芳" in text
    assert "rep:rep-03" not in text
    assert "【新增】" in text
    assert "严重" in text
    # The button opens the exact view: the rep, the KPI, the period.
    url = button_url(vendor, body)
    assert url is not None
    parts = urlsplit(url)
    assert url.startswith(BASE)
    assert parse_qs(parts.query) == {"tenant": ["default"]}
    view, _, query = parts.fragment.partition("?")
    assert view == "/rep"
    assert parse_qs(query) == {"rep": ["rep-03"], "kpi": ["revenue"], "period": ["2026-08"]}
    # The responsible manager is @-mentioned where the vendor can.
    if vendor == "wecom":
        assert '<font color="warning">新增</font>' in raw
        assert "<@ou_wangjun>" in text
    elif vendor == "dingtalk":
        assert body["msgtype"] == "markdown"  # mentions need markdown, not an actionCard
        assert body["at"]["atMobiles"] == ["13800000003"]
        assert body["at"]["atUserIds"] == ["ou_wangjun"]
        assert "@13800000003" in body["markdown"]["text"]
    elif vendor == "feishu":
        assert body["card"]["header"]["template"] == "red"
        assert "<at id=ou_wangjun></at>" in text
    else:
        assert "<@ou_wangjun>" in text


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_resolved_warning_calls_nobody_and_is_green(vendor: str) -> None:
    alert = {**lag("rep:rep-07", severity="warning"), "status": "resolved"}
    body = sent(vendor, payload([change(1, alert, action="resolved")]))
    assert check(vendor, body) == []
    raw = text_of(vendor, body)
    text = plain(raw)
    assert "【已恢复】" in text
    assert "李娜" in text
    assert "ou_wangjun" not in text
    assert "13800000003" not in text
    if vendor == "dingtalk":
        assert body["msgtype"] == "actionCard"
        assert body["actionCard"]["singleTitle"] == "打开看板查看"
    if vendor == "wecom":
        assert '<font color="info">已恢复</font>' in raw
    if vendor == "feishu":
        assert body["card"]["header"]["template"] == "green"


@pytest.mark.parametrize("vendor", VENDORS)
def test_without_a_dashboard_address_there_is_no_button(vendor: str) -> None:
    plain = delivery_options(vendor, None)
    body = sent(vendor, payload([change(1, lag("rep:rep-03", severity="warning"))]), plain)
    assert check(vendor, body) == []
    assert button_url(vendor, body) is None
    if vendor == "dingtalk":
        assert body["msgtype"] == "markdown"


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_burst_fits_the_vendor_and_names_every_alert(vendor: str) -> None:
    changes = [change(i, lag(f"rep:r{i:03d}", severity="warning")) for i in range(1, 400)]
    body = sent(vendor, payload(changes))
    assert check(vendor, body) == []
    text = text_of(vendor, body)
    assert "399 条告警变化" in text
    named = sum(1 for i in range(1, 400) if f"rep:r{i:03d}" in text)
    # Every alert named, or the count of the rest said (the delivery log keeps them all).
    assert named == 399 or "以及另外" in text


def test_titles_come_from_their_code_in_the_message_locale() -> None:
    alert = {
        **lag("rep:rep-03"),
        "title_code": "delivery.tail.more",
        "title_params": params_json({"count": 3, "names": ["张伟", "李娜", "王芳"]}),
        "scope_name": "王芳（华北）",
    }
    zh = compose(payload([change(1, alert)]))
    assert zh.items[0].title == "另有 3 条：张伟、李娜和王芳"
    assert zh.items[0].short == "王芳（华北）"
    en = compose(payload([change(1, alert)], locale="en"))
    assert en.items[0].title == "3 more: 张伟, 李娜, and 王芳"
    title, body = layout(en, "slack", "en")
    assert title.startswith("华北区 · Lag: ")
    assert "[opened]" in body
    assert "Lag · critical" in body


def test_links_of_team_and_company_alerts_open_the_overview() -> None:
    team = dashboard_link(BASE, tenant="acme", alert=lag("team:north"))
    assert team == (f"{BASE}?tenant=acme#/overview?scope=team%3Anorth&kpi=revenue&period=2026-08")
    listing = dashboard_link(BASE.rstrip("/"), tenant="acme", kind="lag")
    assert listing == f"{BASE}?tenant=acme#/alerts?status=open&kind=lag"
    assert dashboard_link(None, tenant="acme") is None


def test_mentions_walk_up_to_the_parent_team_and_skip_what_calls_nobody() -> None:
    opts = DeliveryOptions(
        mentions={"east": {"user_ids": ["U_EAST"]}, "company": {"user_ids": ["U_CEO"]}}  # type: ignore[dict-item]
    )
    parents: dict[str, str | None] = {"east": None, "east-1": "east", "west": None}
    sub_team = change(1, lag("rep:a", team="east-1", severity="warning"))
    assert mention_for([sub_team], opts, parents) == {"user_ids": ["U_EAST"]}
    west = change(2, lag("team:west"))
    assert mention_for([west], opts, parents) == {"user_ids": ["U_CEO"]}
    anomaly = {**lag("rep:b", team="east", severity="warning"), "kind": "anomaly"}
    assert mention_for([change(3, anomaly)], opts, parents) == {}
    ack = change(4, lag("rep:c", team="east"), action="acknowledged")
    assert mention_for([ack], opts, parents) == {}


def test_a_ping_is_in_the_tenant_language() -> None:
    body = sent(
        "wecom",
        {"type": "ping", "tenant": "t", "data": {"digest": {"title": "Paceline test"}}},
    )
    assert "Paceline 测试消息" in body["markdown"]["content"]
    assert "连接正常" in body["markdown"]["content"]
