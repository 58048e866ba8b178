"""Each anomaly type end to end: weeks of history posted as events, one tick, ``/v1/alerts``.

Four reps of one team log three visits every working day (2026 China calendar) from
2 March 2026 (or about 1.2, for sparse counts); each test plants one pattern in that
history, pins the clock, runs the
alert engine's first tick, and requires ``GET /v1/alerts?kind=anomaly`` to hold exactly the
planted alert. The first tick of a fresh engine judges the last ``anomaly_lookback_days``
working days in order (docs/ALERTS.md), so a drop or silence that is already in the data
is flagged at once, without waiting for days of persistence.

Then history that arrives after the engine has judged its days: imported
(``POST /v1/imports``) or marked ``backfill``, it makes the next tick judge the recent
past again; posted as live events it does not (and it is flagged as back-dated).
"""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from paceline.scoring.alerting import Alerting
from paceline.shared.clock import FixedClock
from paceline.shared.kpi.calendar import builtin_calendar
from paceline.shared.settings import Settings
from tests.support import Stack, distributed_settings, embedded_settings, running_stack

TZ = ZoneInfo("Asia/Shanghai")
CAL = builtin_calendar("cn")
REPS = ("r1", "r2", "r3", "r4")
NAMES = {"r1": "张伟", "r2": "李娜", "r3": "王芳", "r4": "刘洋"}  # titles name them (zh-CN)
HISTORY_FROM = date(2026, 3, 2)
# Tuesday 7 July 2026, 09:00 in Shanghai: Monday 6 July is the last closed day.
NOW = datetime(2026, 7, 7, 9, 0, tzinfo=TZ)
LAST_CLOSED = date(2026, 7, 6)
USUAL_VISITS = 3

Event = dict[str, Any]
Clocked = tuple[Stack, FixedClock]


def at(day: date, hour: int, minute: int = 0) -> str:
    """A Shanghai wall-clock instant, as ISO 8601."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ).isoformat()


def working_days(first: date, last: date) -> list[date]:
    """The working days of [first, last]."""
    return CAL.working_day_list(first, last + timedelta(days=1))


def visits(rep: str, day: date, n: int) -> list[Event]:
    """``n`` visits by a rep on a day, 50 minutes apart, each to another customer."""
    return [
        {
            "event_id": f"v-{rep}-{day}-{i}",
            "type": "visit",
            "occurred_at": at(day, 9 + (50 * i) // 60, (50 * i) % 60),
            "rep_id": rep,
            "customer_id": f"c-{rep}-{day}-{i}",
        }
        for i in range(n)
    ]


def history(
    last: date = LAST_CLOSED, *, usual: dict[str, int] | None = None, **plan: dict[date, int]
) -> list[Event]:
    """Visits from HISTORY_FROM to ``last``: USUAL_VISITS a working day per rep, except
    where ``plan[rep]`` says otherwise for a day."""
    out: list[Event] = []
    for day in working_days(HISTORY_FROM, last):
        for rep in REPS:
            n = plan.get(rep, {}).get(day, (usual or {}).get(rep, USUAL_VISITS))
            out.extend(visits(rep, day, n))
    return out


def last_working_days(n: int, last: date = LAST_CLOSED) -> list[date]:
    """The last ``n`` working days up to ``last``."""
    return working_days(last - timedelta(days=3 * n + 30), last)[-n:]


def steady(rep: str, rate: Callable[[date], float], last: date = LAST_CLOSED) -> dict[date, int]:
    """A rep's visits per working day at a fractional rate, as the demo logs them: the
    cumulative rate rounded down from a phase seeded by the rep (1.2 a day gives 1, 1, 2,
    1, 1, 1, 2...; 0.4 gives 0, 1, 0, 1, 0...). No Poisson noise: test_stats.py measures
    the detector on Poisson series."""
    total = random.Random(f"sparse:{rep}").random()
    out = {}
    for day in working_days(HISTORY_FROM, last):
        before = math.floor(total)
        total += rate(day)
        out[day] = math.floor(total) - before
    return out


def _settings(mode: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    extra: dict[str, Any] = {"alerts_tick_s": 0, "delivery_poll_s": 0}
    if mode == "embedded":
        return embedded_settings(tmp_path / "data", **extra)
    url: str = request.getfixturevalue("migrated_database_url")
    kafka: str = request.getfixturevalue("kafka_bootstrap")
    return distributed_settings(url, kafka, data_dir=tmp_path / "data", **extra)


@asynccontextmanager
async def _started(
    mode: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Clocked]:
    clock = FixedClock(NOW)
    async with running_stack(mode, _settings(mode, tmp_path, request), clock=clock) as s:
        org = {
            "teams": [{"id": "north", "name": "华北一组"}],
            "reps": [{"id": r, "name": NAMES[r], "team_id": "north"} for r in REPS],
            "effective_from": HISTORY_FROM.isoformat(),
        }
        resp = await s.client.put("/v1/org", json=org, headers=s.auth())
        assert resp.status_code == 200, resp.text
        yield s, clock


@pytest.fixture(params=["embedded", "distributed"])
async def clocked_both(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Clocked]:
    """A stack in either run mode on a clock pinned at NOW, the org chart loaded, alert
    evaluation driven by the test."""
    async with _started(str(request.param), tmp_path, request) as pair:
        yield pair


@pytest.fixture
async def clocked(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Clocked]:
    """The same, embedded only."""
    async with _started("embedded", tmp_path, request) as pair:
        yield pair


async def post_all(s: Stack, events: list[Event], **extra: Any) -> None:
    """POST /v1/events in chunks (every event accepted); wait until scored and checked."""
    for i in range(0, len(events), 500):
        chunk = [{**e, **extra} for e in events[i : i + 500]]
        resp = await s.post_events(chunk)
        assert resp.status_code == 202, resp.text
        assert resp.json()["accepted"] == len(chunk), resp.text
    await s.wait_scored()


async def tick(s: Stack) -> None:
    """One scheduled evaluation, as the engine's loop runs it."""
    alerting: Alerting = s.app.state.paceline.extras["alerts"]
    await alerting.engine.tick()


async def alerts(s: Stack, *, language: str | None = None, **params: Any) -> list[dict[str, Any]]:
    """GET /v1/alerts (one page is enough here); the tenant's locale (zh-CN) unless
    ``language`` is sent as Accept-Language."""
    headers = s.auth() | ({"Accept-Language": language} if language else {})
    resp = await s.client.get("/v1/alerts", params={"limit": 200, **params}, headers=headers)
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def summary(items: list[dict[str, Any]]) -> list[tuple[str, str, str | None, str]]:
    """(type, scope, KPI, status) of each alert, sorted."""
    return sorted((a["type"], a["scope"], a["detail"].get("kpi"), a["status"]) for a in items)


# -- each anomaly type, flagged on the first tick ------------------------------------------


async def test_a_six_week_drop_is_flagged_on_the_first_tick(clocked_both: Clocked) -> None:
    """r3 logs a third of his usual visits for six weeks (the demo's laggard)."""
    s, _clock = clocked_both
    drop = last_working_days(30)
    await post_all(s, history(r3=dict.fromkeys(drop, 1)))
    await tick(s)
    found = await alerts(s, kind="anomaly")
    assert summary(found) == [("anomaly_low", "rep:r3", "visits", "open")]
    alert = found[0]
    assert alert["dedup_key"] == "anomaly:visits:r3:low"
    assert datetime.fromisoformat(alert["first_seen_at"]) == NOW
    detail = alert["detail"]
    assert detail["day"] == LAST_CLOSED.isoformat()
    # One visit a day in the tested window, at least twice as many expected.
    assert detail["observed"] == detail["window_days"]
    assert detail["expected"] >= 2 * detail["observed"]
    assert detail["p_value"] < 0.001
    assert alert["team"] == "north"


async def test_a_sustained_drop_in_sparse_counts_is_flagged_on_the_first_tick(
    clocked_both: Clocked,
) -> None:
    """Every rep logs about 1.2 visits a working day; r3 about 0.4 for the last six weeks
    (30 working days). A day's 0 or 1 against 1.2 expected is no evidence at any alpha,
    and by now the short windows' 40-day baseline holds most of the drop: the sustained
    test (30 working days against the 60 before them) flags it. The peers, at a steady
    1.2, raise nothing."""
    s, _clock = clocked_both
    drop = set(last_working_days(30))
    plan = {
        rep: steady(rep, lambda d, r=rep: 0.4 if r == "r3" and d in drop else 1.2) for rep in REPS
    }
    await post_all(s, history(**plan))
    await tick(s)
    found = await alerts(s, kind="anomaly")
    assert summary(found) == [("anomaly_low", "rep:r3", "visits", "open")]
    peers = await alerts(s, type="anomaly_low,anomaly_high", scope="rep:r1,rep:r2,rep:r4")
    assert peers == []
    detail = found[0]["detail"]
    assert detail["day"] == LAST_CLOSED.isoformat()
    assert (detail["test"], detail["direction"], detail["window_days"]) == ("sustained", "low", 30)
    assert detail["observed"] == sum(plan["r3"][d] for d in drop) == 12
    assert 30 < detail["expected"] < 40  # 1.2 x 30 working days, give or take the weekdays
    assert detail["baseline_days"] == 57  # 2 March to the window: fewer than 60
    assert detail["p_value"] < 0.001
    # The title names the rep and the KPI (not r3, visits), in the tenant's zh-CN; the
    # caller's Accept-Language: en gets it in English; the code and its parameters stay.
    assert found[0]["title_code"] == "alerts.anomaly.low"
    assert found[0]["title"].startswith("王芳的拜访次数异常偏低：近 30 个工作日为 12，预期约 3")
    assert found[0]["scope_name"] == "王芳"
    params = found[0]["title_params"]
    assert (params["rep"], params["observed"], params["window"]) == ("王芳", 12, 30)
    assert params["kpi"] == {"$l10n": {"zh-CN": "拜访次数", "en": "Visits"}}
    (english,) = await alerts(s, kind="anomaly", language="en")
    assert english["title"].startswith("王芳: Visits unusually low — 12 in the last 30 working")
    assert english["title_params"] == params


async def test_a_spike_is_flagged_as_anomaly_high(clocked_both: Clocked) -> None:
    """r2 logs ten visits a day (50 minutes apart: no burst) on the last four working days."""
    s, _clock = clocked_both
    spike = last_working_days(4)
    await post_all(s, history(r2=dict.fromkeys(spike, 10)))
    await tick(s)
    found = await alerts(s, kind="anomaly")
    assert summary(found) == [("anomaly_high", "rep:r2", "visits", "open")]
    detail = found[0]["detail"]
    assert detail["direction"] == "high"
    assert detail["day"] == LAST_CLOSED.isoformat()
    window = detail["window_days"]
    assert detail["observed"] == (10 * window if window <= 4 else 10 * 4 + 3 * (window - 4))
    assert detail["observed"] >= 2 * detail["expected"]
    assert found[0]["title"].startswith(f"李娜的拜访次数异常偏高：近 {window} 个工作日为 ")
    # Nothing else explains it: no burst or duplicate visits were flagged.
    assert await alerts(s, type="burst,duplicate_visit") == []


async def test_a_complaint_spike_is_flagged_for_the_company(clocked_both: Clocked) -> None:
    """One complaint a week (Wednesdays, r1), then nine in the last three working days."""
    s, _clock = clocked_both
    complaints: list[Event] = []
    for day in working_days(HISTORY_FROM, LAST_CLOSED):
        if day.isoweekday() == 3:
            complaints.append(_complaint(f"w-{day}", "r1", day, 11))
    for day in last_working_days(3):
        complaints.extend(_complaint(f"s-{day}-{i}", "r2", day, 10 + i) for i in range(3))
    await post_all(s, history() + complaints)
    await tick(s)
    found = await alerts(s, kind="anomaly")
    assert summary(found) == [("complaint_spike", "company", "complaint_rate", "open")]
    detail = found[0]["detail"]
    assert (detail["observed"], detail["window_days"]) == (9, 3)
    assert detail["expected"] < 1.5
    assert detail["day"] == LAST_CLOSED.isoformat()
    assert found[0]["severity"] == "critical"
    assert found[0]["title"].startswith("投诉激增：近 3 个工作日共 9 起投诉，预期约 ")
    assert found[0]["scope_name"] == "公司"
    (english,) = await alerts(s, kind="anomaly", language="en")
    assert english["title"].startswith("Complaint spike: 9 complaints in the last 3 working days")
    assert english["scope_name"] == "Company"


def _complaint(event_id: str, rep: str, day: date, hour: int) -> Event:
    return {
        "event_id": event_id,
        "type": "complaint",
        "occurred_at": at(day, hour),
        "rep_id": rep,
        "customer_id": f"cust-{event_id}",
        "severity": "high",
    }


async def test_a_month_end_surge_of_won_deals_is_flagged(clocked_both: Clocked) -> None:
    """Every rep wins a deal every fifth working day; r4 wins two a day in June's last three
    working days (冲单). The clock is on 1 July: 30 June, a Tuesday, is the last closed day
    and June's last working day."""
    s, clock = clocked_both
    clock.set(datetime(2026, 7, 1, 9, 0, tzinfo=TZ))
    june_end = date(2026, 6, 30)
    deals: list[Event] = []
    for n, day in enumerate(working_days(HISTORY_FROM, june_end)):
        for k, rep in enumerate(REPS):
            if n % 5 == k:
                deals.append(_deal(f"d-{rep}-{day}", rep, day, 15))
    rush = last_working_days(3, june_end)
    assert rush == [date(2026, 6, 26), date(2026, 6, 29), date(2026, 6, 30)]
    for day in rush:
        deals.extend(_deal(f"rush-{day}-{i}", "r4", day, 10 + i) for i in range(2))
    await post_all(s, history(june_end) + deals)
    await tick(s)
    found = await alerts(s, kind="anomaly")
    assert summary(found) == [("period_end_surge", "rep:r4", "deals_won", "open")]
    alert = found[0]
    assert alert["dedup_key"] == "period_end_surge:r4:2026-06"
    usual = sum(  # r4's own deal every fifth working day, when it falls in the rush
        1
        for n, day in enumerate(working_days(HISTORY_FROM, june_end))
        if n % 5 == 3 and day in rush
    )
    assert alert["detail"]["observed"] == 6 + usual
    assert alert["detail"]["expected"] < 1.0
    assert alert["detail"]["month"] == "2026-06"
    observed = alert["detail"]["observed"]
    assert alert["title"].startswith(f"刘洋在2026年6月的最后 3 个工作日赢单 {observed} 笔，平时约 ")
    assert alert["title"].endswith(" 笔（冲单？）")


def _deal(deal_id: str, rep: str, day: date, hour: int) -> Event:
    return {
        "event_id": deal_id,
        "type": "deal",
        "entity_id": deal_id,
        "occurred_at": at(day, hour),
        "rep_id": rep,
        "stage": "won",
        "amount": "10000",
    }


async def test_a_silent_rep_is_flagged_at_once(clocked_both: Clocked) -> None:
    """r2 has logged nothing on the last five working days: a silence, not also a drop."""
    s, _clock = clocked_both
    idle = last_working_days(5)
    await post_all(s, history(r2=dict.fromkeys(idle, 0)))
    await tick(s)
    found = await alerts(s, kind="anomaly")
    assert summary(found) == [("rep_silent", "rep:r2", None, "open")]
    detail = found[0]["detail"]
    assert (detail["since"], detail["idle_working_days"]) == (idle[0].isoformat(), 5)
    assert detail["usual_active_share"] > 0.95
    since = idle[0]
    assert found[0]["title"] == (
        f"李娜已连续 5 个工作日没有任何记录（自{since.year}年{since.month}月{since.day}日起）"
    )


async def test_normal_history_flags_nothing_and_a_second_tick_changes_nothing(
    clocked: Clocked,
) -> None:
    """The control: the same four reps with nothing planted."""
    s, clock = clocked
    await post_all(s, history())
    await tick(s)
    assert await alerts(s, kind="anomaly") == []
    clock.set(NOW + timedelta(hours=5))
    await tick(s)
    assert await alerts(s, kind="anomaly") == []


async def test_an_episode_over_before_the_first_tick_raises_nothing(clocked: Clocked) -> None:
    """r2 was silent for a week three weeks ago and is back: the first tick judges those
    days too, but only what holds on the last one is raised (no opened-and-resolved
    silence or drop from the past)."""
    s, _clock = clocked
    idle = last_working_days(15)[:5]
    await post_all(s, history(r2=dict.fromkeys(idle, 0)))
    await tick(s)
    assert await alerts(s, kind="anomaly") == []
    assert await alerts(s, status="resolved") == []


# -- history that arrives after the days were judged ----------------------------------------


@pytest.mark.parametrize("delivery", ["import", "backfill", "live"])
async def test_history_arriving_later_is_judged_again_unless_posted_live(
    clocked: Clocked, delivery: str
) -> None:
    """The engine ticks once with no data (a fresh install), then the history with r3's
    six-week drop arrives; the next tick, the same morning, judges the recent past again
    for imported or backfill history: r3 is flagged. History posted as plain live events
    is back-dated activity (flagged as such) and judged as the days come."""
    s, clock = clocked
    await tick(s)
    assert await alerts(s) == []
    drop = last_working_days(30)
    events = history(r3=dict.fromkeys(drop, 1))
    if delivery == "import":
        body = b"\n".join(orjson.dumps(e) for e in events)
        resp = await s.client.post(
            "/v1/imports?name=crm-history",
            content=body,
            headers={**s.auth(), "Content-Type": "application/x-ndjson"},
        )
        assert resp.status_code == 201, resp.text
        assert resp.json()["rows_accepted"] == len(events)
        await s.wait_scored()
    else:
        await post_all(s, events, **({"backfill": True} if delivery == "backfill" else {}))
    clock.set(NOW + timedelta(minutes=30))
    await tick(s)
    anomalies = summary(await alerts(s, kind="anomaly"))
    backdated = await alerts(s, type="backdated")
    if delivery == "live":
        assert anomalies == []
        assert [(a["detail"]["source"], a["detail"]["day"]) for a in backdated] == [
            ("api", NOW.date().isoformat())
        ]
        assert backdated[0]["detail"]["count"] >= 50
        # Day by day from here: the drop goes on, and after two flagged days (persistence)
        # r3 is flagged.
        for day, flagged in ((date(2026, 7, 7), False), (date(2026, 7, 8), True)):
            clock.set(datetime.combine(day, time(18), tzinfo=TZ))
            await post_all(
                s,
                [
                    *visits("r3", day, 1),
                    *(v for r in ("r1", "r2", "r4") for v in visits(r, day, 3)),
                ],
            )
            clock.set(datetime.combine(day + timedelta(days=1), time(9), tzinfo=TZ))
            await tick(s)
            expected = [("anomaly_low", "rep:r3", "visits", "open")] if flagged else []
            assert summary(await alerts(s, kind="anomaly")) == expected, day
    else:
        assert anomalies == [("anomaly_low", "rep:r3", "visits", "open")]
        assert backdated == []


@pytest.mark.parametrize("delivery", ["import", "backfill"])
async def test_history_is_not_back_dated_but_future_dated_history_is_flagged(
    clocked_both: Clocked, delivery: str
) -> None:
    """Three visits from March and one dated two hours after its arrival, as history."""
    s, _clock = clocked_both
    future: Event = {
        "event_id": "v-future",
        "type": "visit",
        "occurred_at": (NOW + timedelta(hours=2)).isoformat(),
        "rep_id": "r2",
    }
    events = [*visits("r1", date(2026, 3, 10), 3), future]
    if delivery == "import":
        resp = await s.client.post(
            "/v1/imports?name=old-crm",
            content=b"\n".join(orjson.dumps(e) for e in events),
            headers={**s.auth(), "Content-Type": "application/x-ndjson"},
        )
        assert resp.status_code == 201, resp.text
        await s.wait_scored()
        source = "import:old-crm"
    else:
        await post_all(s, events, backfill=True)
        source = "api"
    assert await alerts(s, type="backdated") == []
    flagged = await alerts(s, type="future_dated")
    assert [(a["detail"]["source"], a["detail"]["count"]) for a in flagged] == [(source, 1)]
    # The same March visits posted live (another source) are back-dated.
    resp = await s.post_events(visits("r1", date(2026, 3, 10), 3), source="crm")
    assert resp.status_code == 202, resp.text
    await s.wait_scored()
    dated = await alerts(s, type="backdated")
    assert [(a["detail"]["source"], a["detail"]["count"]) for a in dated] == [("crm", 3)]
