"""A month in the life of a team, simulated day by day on a fixed clock.

July 2026 is history; in August (21 working days, no holidays) alice stops logging for a
week (10-14 Aug), bob logs a dozen visits within five minutes on 19 Aug, carol sells far
below her revenue target, and dave is the control. Every working day the clock is set to
09:30 and the time-driven evaluation runs, then to 17:00: the day's events are posted and
scored, and the evaluation runs again. Exactly the expected alerts are raised, and each
message reaches the subscriber (a real HTTP server on 127.0.0.1) once, signed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from paceline.scoring.alerting import Alerting
from paceline.shared.clock import FixedClock
from paceline.shared.kpi.calendar import builtin_calendar
from tests.scoring.alerts.subscriber import subscriber
from tests.support import Stack, embedded_settings, running_stack

pytestmark = pytest.mark.dates

TZ = ZoneInfo("Asia/Shanghai")
REPS = ("alice", "bob", "carol", "dave")
NAMES = {"alice": "王芳", "bob": "李娜", "carol": "张伟", "dave": "刘洋"}  # zh-CN titles name them
CAL = builtin_calendar("cn")


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A Shanghai wall-clock instant."""
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=TZ)


def day_events(day: date) -> list[dict[str, Any]]:
    """What the team logs on a working day."""
    out: list[dict[str, Any]] = []
    for rep in REPS:
        if rep == "alice" and date(2026, 8, 10) <= day <= date(2026, 8, 14):
            continue  # alice logs nothing for a week
        for i, hour in enumerate((10, 14)):
            out.append(
                {
                    "event_id": f"v-{rep}-{day}-{i}",
                    "type": "visit",
                    "occurred_at": at(day, hour).isoformat(),
                    "rep_id": rep,
                    "customer_id": f"c-{rep}-{day}-{i}",
                }
            )
        out.append(
            {
                "event_id": f"d-{rep}-{day}",
                "type": "deal",
                "entity_id": f"deal-{rep}-{day}",
                "occurred_at": at(day, 15).isoformat(),
                "rep_id": rep,
                "stage": "won",
                "amount": "2000" if rep == "carol" else "10000",
            }
        )
    if day == date(2026, 8, 19):
        for i in range(12):  # a dozen visits within four minutes: padding
            out.append(
                {
                    "event_id": f"pad-bob-{i}",
                    "type": "visit",
                    "occurred_at": at(day, 11, i // 3, (i % 3) * 20).isoformat(),
                    "rep_id": "bob",
                    "customer_id": f"c-pad-{i}",
                }
            )
    return out


@pytest.fixture
async def month(tmp_path: Path) -> AsyncIterator[tuple[Stack, FixedClock]]:
    """An embedded stack, evaluation and delivery driven by the test."""
    clock = FixedClock(at(date(2026, 7, 1), 8))
    settings = embedded_settings(tmp_path / "data", alerts_tick_s=0, delivery_poll_s=0)
    async with running_stack("embedded", settings, clock=clock) as s:
        org = {
            "teams": [{"id": "north", "name": "华北一组"}],
            "reps": [{"id": r, "name": NAMES[r], "team_id": "north"} for r in REPS],
        }
        resp = await s.client.put("/v1/org", json=org, headers=s.auth())
        assert resp.status_code == 200, resp.text
        yield s, clock


async def test_a_month_raises_exactly_the_expected_alerts_each_delivered_once(
    month: tuple[Stack, FixedClock],
) -> None:
    s, clock = month
    alerting: Alerting = s.app.state.paceline.extras["alerts"]

    async def evaluate() -> None:
        await alerting.engine.tick()
        await alerting.dispatcher.step()

    with subscriber() as sub:
        resp = await s.client.post(
            "/v1/subscriptions",
            json={"name": "north", "url": sub.url, "digests": ["weekly", "month_end"]},
            headers=s.auth(),
        )
        assert resp.status_code == 201, resp.text
        sub.secret = resp.json()["secret"]
        targets: dict[str, int] = {}
        day = date(2026, 7, 1)
        while day <= date(2026, 8, 31):
            if day == date(2026, 8, 1):  # August revenue targets, set the day before
                clock.set(at(date(2026, 7, 31), 18))
                for rep in REPS:
                    r = await s.client.post(
                        "/v1/targets",
                        json={
                            "kpi": "revenue",
                            "scope": f"rep:{rep}",
                            "period": "2026-08",
                            "target": "210000",
                        },
                        headers=s.auth(),
                    )
                    assert r.status_code == 201, r.text
                    targets[rep] = r.json()["id"]
            if CAL.is_working_day(day):
                clock.set(at(day, 9, 30))
                await evaluate()
                clock.set(at(day, 17))
                r = await s.post_events(day_events(day))
                assert r.status_code == 202, r.text
                await s.wait_scored()
                await evaluate()
            else:
                clock.set(at(day, 12))
                await evaluate()
            day += timedelta(days=1)

        alerts = (await s.client.get("/v1/alerts", params={"limit": 100}, headers=s.auth())).json()[
            "items"
        ]
        got = sorted((a["dedup_key"], a["status"], a["severity"]) for a in alerts)
        assert got == sorted(
            [
                (f"lag:{targets['alice']}", "open", "critical"),
                (f"lag:{targets['carol']}", "open", "critical"),
                ("rep_silent:alice", "resolved", "warning"),
                ("burst:bob:visit:2026-08-19", "open", "warning"),
            ]
        ), got
        by_key = {a["dedup_key"]: a for a in alerts}
        silent = by_key["rep_silent:alice"]
        assert silent["detail"]["since"] == "2026-08-10"
        assert silent["first_seen_at"].startswith("2026-08-13")  # after 3 idle working days
        assert silent["resolved_at"].startswith("2026-08-17")  # the day she logs again
        burst = by_key["burst:bob:visit:2026-08-19"]
        assert burst["detail"]["count"] == 12
        assert burst["scope"] == "rep:bob"
        carol = by_key[f"lag:{targets['carol']}"]
        assert carol["first_seen_at"].startswith("2026-08-07")  # 20% of the month elapsed
        assert carol["detail"]["status"] == "at_risk"
        assert carol["team"] == "north"

        # What the subscriber received: every message once, signed.
        assert all(r.verified for r in sub.all())
        ids = [r.headers["webhook-id"] for r in sub.delivered()]
        assert len(ids) == len(set(ids)) == len(sub.all())
        alert_msgs = sorted(
            (r.json["type"], r.json["data"]["alert"]["dedup_key"])
            for r in sub.delivered()
            if r.json["type"].startswith("alert.")
        )
        assert alert_msgs == sorted(
            [
                ("alert.opened", f"lag:{targets['carol']}"),
                ("alert.opened", f"lag:{targets['alice']}"),
                ("alert.escalated", f"lag:{targets['alice']}"),
                ("alert.opened", "rep_silent:alice"),
                ("alert.resolved", "rep_silent:alice"),
                ("alert.opened", "burst:bob:visit:2026-08-19"),
            ]
        )
        digests = Counter(
            r.json["type"] for r in sub.delivered() if r.json["type"].startswith("digest.")
        )
        # Mondays 6 Jul .. 31 Aug, and the last working days of July and August.
        assert digests == {"digest.weekly": 9, "digest.month_end": 2}
        final = next(
            r.json["data"]["digest"]
            for r in sub.delivered()
            if r.json["type"] == "digest.month_end"
            and r.json["data"]["digest"]["period"] == "2026-08"
        )
        behind = sorted(t["scope"] for t in final["behind"])
        assert behind == ["rep:alice", "rep:carol"]
        assert {t["scope"]: t["status"] for t in final["targets"]}["rep:dave"] == "on_track"
        assert len(final["open_alerts"]) == 3

        # Words: the tenant's zh-CN with names, not ids; ¥ with 万; percentages; dates. The
        # silence's title counts the idle days of its last evaluation (the 14th: five).
        assert carol["title_code"] == "alerts.lag.at_risk"
        assert carol["scope_name"] == "张伟"
        assert carol["title"].startswith("张伟的销售额（2026年8月）有完不成的风险：已完成 ¥")
        assert "万，按进度应完成 ¥" in carol["title"]
        assert carol["title"].endswith("%")
        assert carol["title_params"]["expected"]["currency"] == "CNY"
        assert silent["title"] == "王芳已连续 5 个工作日没有任何记录（自2026年8月10日起）"
        assert burst["title"] == "李娜于2026年8月19日在 5 分钟内录入了 12 条拜访记录（是否凑数？）"
        english = (
            await s.client.get(
                f"/v1/alerts/{carol['id']}", headers={**s.auth(), "Accept-Language": "en"}
            )
        ).json()
        assert english["title"].startswith("张伟 is at risk on Revenue for Aug 2026: CN¥")
        assert english["title_params"] == carol["title_params"]
        history = (await s.client.get(f"/v1/alerts/{silent['id']}", headers=s.auth())).json()
        resolved = history["history"][-1]
        assert (resolved["note"], resolved["note_code"]) == (
            "该销售已重新开始录入",
            "alerts.note.rep_logs_again",
        )
        # Subscribers get the title in the tenant's locale, its code and parameters to
        # render it in another, and the scope's name.
        opened = next(
            r.json["data"]["alert"]
            for r in sub.delivered()
            if r.json["type"] == "alert.opened"
            and r.json["data"]["alert"]["dedup_key"] == f"lag:{targets['carol']}"
        )
        assert opened["scope_name"] == "张伟"
        assert opened["title_code"] == "alerts.lag.at_risk"
        assert opened["title"].startswith("张伟的销售额（2026年8月）")
        assert set(opened["title_params"]) == {
            "scope",
            "kpi",
            "period",
            "actual",
            "expected",
            "pace",
        }
        assert final["title"] == "华北一组月末进度简报（2026年8月）"
        assert final["title_code"] == "digest.title.month_end"
        assert final["summary"][0] == "共 4 个目标：超前 0 个，正常 2 个，落后 0 个，有风险 2 个"
        assert final["summary"][1].startswith("进度落后：王芳的销售额（进度 ")
        assert "和张伟的销售额（进度 " in final["summary"][1]
        assert [m["code"] for m in final["summary_messages"]][:3] == [
            "digest.summary.targets",
            "digest.summary.behind",
            "digest.summary.open_alerts",
        ]
        stored = (
            await s.client.get(
                "/v1/alerts/digests",
                params={"kind": "month_end"},
                headers={**s.auth(), "Accept-Language": "en"},
            )
        ).json()[0]
        assert stored["body"]["title"] == "Month-end digest Aug 2026 — 华北一组"
        assert stored["body"]["summary"][0] == "4 targets: 0 ahead, 2 on track, 0 behind, 2 at risk"
