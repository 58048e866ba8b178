"""Subscription delivery options: defaults per format, partial updates, 422 naming the field."""

from __future__ import annotations

from tests.support import Stack


async def test_defaults_updates_and_validation(embedded_stack: Stack) -> None:
    s = embedded_stack
    bot = await s.client.post(
        "/v1/subscriptions",
        json={"name": "bot", "url": "https://qyapi.example/send?key=k", "format": "wecom"},
        headers=s.auth(),
    )
    assert bot.status_code == 201, bot.text
    out = bot.json()
    assert (out["grouping"], out["group_by"], out["group_wait_s"]) == (True, ["team", "kind"], 30)
    assert (out["group_interval_s"], out["repeat_interval_s"]) == (300, 14400)
    assert (out["quiet_hours"], out["inhibit"]) == (True, True)
    std = await s.client.post(
        "/v1/subscriptions", json={"name": "m", "url": "https://x.example/h"}, headers=s.auth()
    )
    assert (std.json()["grouping"], std.json()["quiet_hours"]) == (False, False)
    path = f"/v1/subscriptions/{out['id']}"
    changed = await s.client.patch(
        path, json={"group_by": ["kind"], "group_wait_s": 0}, headers=s.auth()
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["group_by"], changed.json()["group_wait_s"]) == (["kind"], 0)
    assert changed.json()["group_interval_s"] == 300
    for body, field in [
        ({"group_wait_s": -1}, "group_wait_s"),
        ({"group_interval_s": 1}, "group_interval_s"),
        ({"repeat_interval_s": 10}, "repeat_interval_s"),
        ({"group_by": ["region"]}, "group_by"),
        ({"grouping": False}, "grouping"),
    ]:
        resp = await s.client.patch(path, json=body, headers=s.auth())
        assert resp.status_code == 422, (body, resp.text)
        assert field in resp.text, (body, resp.text)


async def test_dashboard_address_and_mentions_are_kept_and_checked(embedded_stack: Stack) -> None:
    s = embedded_stack
    mentions = {"north": {"mobiles": ["13800000003"], "user_ids": ["ou_wangjun"]}}
    made = await s.client.post(
        "/v1/subscriptions",
        json={
            "name": "north bot",
            "url": "https://oapi.dingtalk.example/robot/send?access_token=t",
            "format": "dingtalk",
            "dashboard_url": "https://paceline.example.com/dashboard/",
            "mentions": mentions,
        },
        headers=s.auth(),
    )
    assert made.status_code == 201, made.text
    out = made.json()
    assert out["dashboard_url"] == "https://paceline.example.com/dashboard/"
    assert out["mentions"] == mentions
    path = f"/v1/subscriptions/{out['id']}"
    kept = await s.client.patch(path, json={"group_wait_s": 10}, headers=s.auth())
    assert kept.json()["mentions"] == mentions
    for body, field in [
        ({"dashboard_url": "ftp://x.example/"}, "dashboard_url"),
        ({"dashboard_url": "https://x.example/#/rep"}, "dashboard_url"),
        ({"mentions": {"north": {"emails": ["a@b.c"]}}}, "mentions"),
    ]:
        resp = await s.client.patch(
            path, json=body, headers={**s.auth(), "Accept-Language": "zh-CN"}
        )
        assert resp.status_code == 422, (body, resp.text)
        assert field in resp.text, (body, resp.text)
    bad = await s.client.patch(
        path,
        json={"dashboard_url": "ftp://x.example/"},
        headers={**s.auth(), "Accept-Language": "zh-CN"},
    )
    assert "须为 http(s) 网址" in bad.text, bad.text
