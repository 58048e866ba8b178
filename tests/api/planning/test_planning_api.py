"""Decomposition, suggestions and the SMART check through the API (embedded, fixed clock)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from paceline.shared.auth import generate_key
from paceline.shared.clock import FixedClock
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.models import AuditEntry
from tests.support import Stack, embedded_settings, running_stack

pytestmark = pytest.mark.dates

# "Today": Thursday 26 November 2026, 10:00 in Beijing.
TODAY = datetime.fromisoformat("2026-11-26T10:00:00+08:00")
ORG: dict[str, Any] = {
    "teams": [{"id": "north", "name": "North"}, {"id": "south", "name": "South"}],
    "reps": [
        {"id": "r1", "name": "Ann", "team_id": "north", "role": "account_manager"},
        {"id": "r2", "name": "Bo", "team_id": "north", "role": "account_manager"},
        {"id": "r4", "name": "Di", "team_id": "north", "role": "account_manager"},
        {"id": "r3", "name": "Cy", "team_id": "south", "role": "account_manager"},
    ],
    "effective_from": "2024-01-01",
}


@pytest.fixture
async def s(tmp_path: Path) -> AsyncIterator[Stack]:
    """An embedded stack on a fixed clock, the org loaded, Monday-to-Friday calendar."""
    clock = FixedClock(TODAY)
    async with running_stack("embedded", embedded_settings(tmp_path / "data"), clock=clock) as st:
        assert (await st.client.put("/v1/org", json=ORG, headers=st.auth())).status_code == 200
        resp = await st.client.put("/v1/settings", json={"calendar": "none"}, headers=st.auth())
        assert resp.status_code == 200, resp.text
        yield st


def deal(rep: str, day: str, amount: str, n: int = 0) -> dict[str, Any]:
    """A won deal event."""
    return {
        "event_id": f"d-{rep}-{day}-{n}",
        "type": "deal",
        "stage": "won",
        "occurred_at": f"{day}T11:00:00+08:00",
        "rep_id": rep,
        "amount": amount,
        "customer_id": f"c-{rep}",
    }


async def send(s: Stack, events: list[dict[str, Any]]) -> None:
    """POST events and wait until scored."""
    for i in range(0, len(events), 1000):
        resp = await s.post_events(events[i : i + 1000])
        assert resp.status_code == 202, resp.text
    await s.wait_scored()


async def decompose(s: Stack, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    """POST /v1/targets/decompose."""
    resp = await s.client.post("/v1/targets/decompose", json=body, headers=s.auth())
    assert resp.status_code == status, resp.text
    out: dict[str, Any] = resp.json()
    return out


def by_key(out: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Planned targets by (scope, period)."""
    return {(t["scope"], t["period"]): t for t in out["targets"]}


def assert_sums(out: dict[str, Any]) -> None:
    """Every parent equals its org children and its time children, exactly."""
    targets = by_key(out)
    groups: dict[tuple[str, str, str], list[Decimal]] = defaultdict(list)
    for t in out["targets"]:
        if t["parent"] is None:
            continue
        parent = (t["parent"]["scope"], t["parent"]["period"])
        kind = "org" if parent[1] == t["period"] else "time"
        groups[(*parent, kind)].append(Decimal(t["target"]))
    assert groups
    for (scope, period, _kind), values in groups.items():
        assert sum(values, Decimal(0)) == Decimal(targets[(scope, period)]["target"])


def weekdays(start: date, end: date) -> int:
    """Mondays to Fridays in [start, end), counted one by one."""
    n, d = 0, start
    while d < end:
        n += d.weekday() < 5
        d += timedelta(days=1)
    return n


# -- decomposition -----------------------------------------------------------------------


async def test_preview_by_history_then_save_with_parents_and_audit(s: Stack) -> None:
    await send(
        s,
        [
            deal("r1", "2026-03-10", "600"),
            deal("r2", "2026-03-11", "200"),
            deal("r3", "2026-03-12", "200"),
        ],
    )
    goal = {
        "kpi": "revenue",
        "period": "2027",
        "target": "1000",
        "org": {"method": "historical_share"},
        "time": {"method": "even", "levels": ["quarter", "month"]},
    }
    out = await decompose(s, goal)
    assert out["preview"] is True
    assert (out["places"], out["currency"], out["additive"]) == (2, "CNY", True)
    t = by_key(out)
    assert len(t) == 7 * 17  # company, 2 teams, 4 reps x (year, 4 quarters, 12 months)
    assert_sums(out)
    # North had 800 of 1,000 last year. Within it r4 has no history: planned like the
    # average of r1 (600) and r2 (200) -> weights 600:200:400 of 800.
    assert t[("team:north", "2027")]["target"] == "800.00"
    assert t[("team:south", "2027")]["target"] == "200.00"
    assert t[("rep:r1", "2027")]["target"] == "400.00"
    assert t[("rep:r2", "2027")]["target"] == "133.33"
    assert t[("rep:r4", "2027")]["target"] == "266.67"  # the largest remainder gets the cent
    assert t[("rep:r1", "2027-Q1")]["target"] == "100.00"
    assert t[("rep:r1", "2027-02")]["target"] == "33.33"
    assert t[("team:north", "2027-02")]["split"] == "sum"
    assert t[("rep:r1", "2027-02")]["parent"] == {"scope": "rep:r1", "period": "2027-Q1"}
    assert out["weights"]["org"]["company"]["shares"] == {
        "team:north": "0.8000",
        "team:south": "0.2000",
    }
    # Notes in the tenant's language (zh-CN), with names, not ids; codes for machines.
    assert "North：Di没有历史数据，按同级的平均水平规划" in out["notes"]
    note = out["notes_code"].index("planning.note.no_history_for")
    assert out["notes_params"][note]["children"] == ["Di"]
    assert (await s.client.get("/v1/targets", headers=s.auth())).json() == []
    saved = await decompose(s, {**goal, "preview": False, "reason": "plan 2027"})
    st = by_key(saved)
    assert {x["action"] for x in saved["targets"]} == {"created"}
    north = st[("team:north", "2027")]["id"]
    children = await s.client.get(
        "/v1/targets", params={"parent_id": north, "limit": 1000}, headers=s.auth()
    )
    assert sorted((c["scope"], c["period"]) for c in children.json()) == [
        ("rep:r1", "2027"),
        ("rep:r2", "2027"),
        ("rep:r4", "2027"),
        ("team:north", "2027-Q1"),
        ("team:north", "2027-Q2"),
        ("team:north", "2027-Q3"),
        ("team:north", "2027-Q4"),
    ]
    async with s.db.transaction(write=False) as session:
        entries = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "targets.decompose")
            )
        ).all()
    assert len(entries) == 1
    assert entries[0].after is not None
    assert (entries[0].after["created"], entries[0].after["target"]) == (119, "1000")
    # Again: the targets exist.
    conflict = await decompose(s, {**goal, "preview": False}, status=409)
    assert conflict["error"]["message"].startswith(
        "本计划中已有 119 个目标（全公司（2027年）、全公司（2027年1月）"
    )
    assert conflict["error"]["message_code"] == "planning.errors.targets_exist_more"
    assert conflict["error"]["message_params"]["count"] == 119
    revised = await decompose(
        s, {**goal, "target": "1200", "preview": False, "on_existing": "revise"}
    )
    rt = by_key(revised)
    assert rt[("rep:r1", "2027")]["action"] == "revised"
    assert rt[("rep:r1", "2027")]["target"] == "480.00"
    one = await s.client.get(f"/v1/targets/{rt[('rep:r1', '2027')]['id']}", headers=s.auth())
    assert [v["target"] for v in one.json()["versions"]] == ["400", "480"]


async def test_counts_stay_whole_and_given_weights(s: Stack) -> None:
    body = {
        "kpi": "deals_won",
        "scope": "team:north",
        "period": "2027-Q1",
        "target": "100",
        "org": {"method": "weights", "weights": {"rep:r1": 2, "rep:r2": 1, "rep:r4": 1}},
        "time": {"method": "even", "levels": ["month"]},
    }
    out = await decompose(s, body)
    t = by_key(out)
    assert out["places"] == 0
    assert [t[(f"rep:{r}", "2027-Q1")]["target"] for r in ("r1", "r2", "r4")] == ["50", "25", "25"]
    assert [t[("rep:r2", m)]["target"] for m in ("2027-01", "2027-02", "2027-03")] == [
        "9",
        "8",
        "8",
    ]
    assert [t[("team:north", m)]["target"] for m in ("2027-01", "2027-02", "2027-03")] == [
        "35",
        "33",
        "32",
    ]
    assert_sums(out)
    missing = await decompose(
        s, {**body, "org": {"method": "weights", "weights": {"rep:r1": 1}}}, 422
    )
    assert {f["field"] for f in missing["error"]["fields"]} == {
        "org.weights.rep:r2",
        "org.weights.rep:r4",
    }


async def test_working_days_seasonality_headcount_and_ratios(s: Stack) -> None:
    months = [("2027-01", date(2027, 1, 1), date(2027, 2, 1))]
    months += [("2027-02", date(2027, 2, 1), date(2027, 3, 1))]
    months += [("2027-03", date(2027, 3, 1), date(2027, 4, 1))]
    days = [weekdays(a, b) for _k, a, b in months]
    out = await decompose(
        s,
        {
            "kpi": "visits",
            "scope": "rep:r1",
            "period": "2027-Q1",
            "target": str(sum(days) * 10),
            "time": {"method": "working_days", "levels": ["month"]},
        },
    )
    t = by_key(out)
    assert [t[("rep:r1", k)]["target"] for k, _a, _b in months] == [str(d * 10) for d in days]
    # Seasonality from the goal scope's history: Jan 100, Feb 300, Mar 600 last year.
    await send(
        s,
        [
            deal("r1", "2026-01-15", "100"),
            deal("r1", "2026-02-16", "300"),
            deal("r1", "2026-03-16", "600"),
        ],
    )
    season = await decompose(
        s,
        {
            "kpi": "revenue",
            "scope": "rep:r1",
            "period": "2027-Q1",
            "target": "5000",
            "time": {"method": "seasonality", "levels": ["month"], "history_years": 1},
        },
    )
    st = by_key(season)
    assert [st[("rep:r1", k)]["target"] for k, _a, _b in months] == ["500.00", "1500.00", "3000.00"]
    assert season["weights"]["time"]["2027-Q1"]["history"] == ["2026-Q1"]
    # No history for south: working days instead, and a note says so.
    fallback = await decompose(
        s,
        {
            "kpi": "revenue",
            "scope": "team:south",
            "period": "2027-Q1",
            "target": str(sum(days)),
            "time": {"method": "seasonality", "levels": ["month"]},
        },
    )
    ft = by_key(fallback)
    assert [ft[("rep:r3", k)]["target"] for k, _a, _b in months] == [f"{d}.00" for d in days]
    assert fallback["notes"][-1] == "2027年第1季度：South此前 2 年没有历史数据，按工作日拆分"
    assert fallback["notes"][0] == (
        "South：2025年11月26日至2026年11月25日期间下属没有历史数据，改为按人数拆分"
    )
    english = await s.client.post(
        "/v1/targets/decompose",
        json={
            "kpi": "revenue",
            "scope": "team:south",
            "period": "2027-Q1",
            "target": "100",
            "time": {"method": "seasonality", "levels": ["month"]},
        },
        headers={**s.auth(), "Accept-Language": "en-US,en;q=0.9"},
    )
    assert english.json()["notes"] == [
        "South: no history under it from Nov 26, 2025 to Nov 25, 2026: split by headcount",
        "Q1 2027: no history of South in the 2 years before: split by working days",
    ]
    assert english.json()["notes_code"] == [
        "planning.note.no_history_under",
        "planning.note.no_seasonal_history",
    ]
    head = await decompose(
        s,
        {
            "kpi": "visits",
            "period": "2027",
            "target": "800",
            "org": {"method": "headcount", "down_to": "team"},
        },
    )
    ht = by_key(head)
    assert (ht[("team:north", "2027")]["target"], ht[("team:south", "2027")]["target"]) == (
        "600",
        "200",
    )
    assert ("rep:r1", "2027") not in ht
    ratio = await decompose(
        s,
        {"kpi": "win_rate", "period": "2027", "target": "0.35", "time": {"levels": ["quarter"]}},
    )
    assert {x["target"] for x in ratio["targets"]} == {"0.35"}
    assert {x["split"] for x in ratio["targets"][1:]} == {"copy"}
    assert ratio["additive"] is False


async def test_decompose_validation_and_scopes(s: Stack) -> None:
    bad = await decompose(
        s,
        {"kpi": "revenue", "period": "2027-Q1", "target": "1", "time": {"levels": ["quarter"]}},
        422,
    )
    assert bad["error"]["fields"][0]["field"] == "time.levels"
    order = await decompose(
        s, {"kpi": "revenue", "period": "2027", "target": "10", "baseline": "20"}, 422
    )
    assert order["error"]["fields"][0]["field"] == "baseline"
    unknown = await decompose(s, {"kpi": "nope", "period": "2027", "target": "1"}, 422)
    assert unknown["error"]["fields"][0] == {
        "field": "kpi",
        "reason": "未知的 KPI“nope”",
        "reason_code": "targets.errors.unknown_kpi",
        "reason_params": {"kpi": "nope"},
    }
    assert bad["error"]["fields"][0]["reason_code"] == "planning.errors.levels_not_finer"
    assert bad["error"]["fields"][0]["reason"] == "时间层级必须一级比一级更细（例如季度、月度、周）"
    key = generate_key()
    async with s.db.transaction() as session:
        await tenant_repo.add_key(
            session, tenant_id="default", key=key, name="r", scopes=["read"], now=TODAY
        )
    resp = await s.client.post(
        "/v1/targets/decompose",
        json={"kpi": "revenue", "period": "2027", "target": "1"},
        headers=s.auth(key.plaintext),
    )
    assert resp.status_code == 403


# -- suggestions -------------------------------------------------------------------------

SEASON = [0.7, 0.8, 1.0, 1.1, 1.0, 0.9, 0.8, 0.9, 1.1, 1.2, 1.3, 1.2]  # Jan..Dec
GROWTH = 0.2
BASE = 100_000.0
FIRST = date(2024, 11, 1)  # 24 months: 2024-11 .. 2026-10 (November 2026 is not over)


def _truth(i: int) -> float:
    """Month i after FIRST: level x 1.2^(i/12) x season."""
    month = (FIRST.month - 1 + i) % 12
    return BASE * (1 + GROWTH) ** (i / 12) * SEASON[month]


async def test_suggestions_recover_a_synthetic_seasonal_history(s: Stack) -> None:
    """Two years of revenue with a known seasonal pattern and 20% growth a year.

    Tolerance 1% per month: the history is exact (one won deal a month, in cents), so the
    only error is the method's bias on exponential growth (under 0.7% at 20% a year, see
    tests/shared/kpi/test_planning.py) plus rounding to cents.
    """
    events = []
    for i in range(24):
        y, m = divmod(FIRST.month - 1 + i, 12)
        events.append(deal("r1", f"{FIRST.year + y}-{m + 1:02d}-15", f"{_truth(i):.2f}"))
    await send(s, events)
    for i in range(26, 38):  # 2027-01 .. 2027-12
        y, m = divmod(FIRST.month - 1 + i, 12)
        period = f"{FIRST.year + y}-{m + 1:02d}"
        resp = await s.client.get(
            "/v1/targets/suggestions",
            params={"kpi": "revenue", "scope": "rep:r1", "period": period},
            headers=s.auth(),
        )
        assert resp.status_code == 200, resp.text
        out = resp.json()
        assert abs(float(out["baseline"]) / _truth(i) - 1) < 0.01, (period, out["baseline"])
        assert out["reasoning"]["trend"]["growth"] == "0.2000"
        assert out["reasoning"]["history"]["months"] == 24
        assert out["flags"] == []
    # Indices: the seasonal pattern itself, normalised to a mean of 1 (within 1%).
    mean = sum(SEASON) / 12
    for month, index in out["reasoning"]["seasonality"]["indices"].items():
        assert abs(float(index) - SEASON[int(month) - 1] / mean) < 0.01
    # A growth goal far beyond history is flagged; above the cap it is capped too.
    resp = await s.client.get(
        "/v1/targets/suggestions",
        params={"kpi": "revenue", "scope": "rep:r1", "period": "2027-03", "growth": "0.6"},
        headers=s.auth(),
    )
    out = resp.json()
    assert {f["code"] for f in out["flags"]} == {"growth_beyond_history", "growth_above_cap"}
    # The reasoning in the tenant's language (zh-CN): months, ¥ and 万, percentages.
    assert out["steps_code"] == [
        "suggestions.step.history",
        "suggestions.step.seasonality",
        "suggestions.step.trend_up",
        "suggestions.step.baseline",
        "suggestions.step.target_up",
        "suggestions.step.stretch_up",
    ]
    assert re.fullmatch(
        r"历史：2024年11月至2026年10月（24 个月）；近 12 个月合计¥\d+\.\d\d万", out["steps"][0]
    ), out["steps"][0]
    assert out["steps_params"][0]["last12"]["currency"] == "CNY"
    assert out["steps"][1].startswith("季节性：2027年3月约占全年的")
    assert out["steps"][2] == "趋势：每年增长20%"
    assert re.fullmatch(r"目标：去年同期¥\d+\.\d\d万，增长50%，即¥\d+\.\d\d万", out["steps"][4]), (
        out["steps"][4]
    )
    flags = {f["code"]: f for f in out["flags"]}
    assert flags["growth_above_cap"]["message"] == "增长目标60%超过上限50%：目标按50%计算"
    assert flags["growth_above_cap"]["message_code"] == "suggestions.flag.growth_above_cap"
    assert flags["growth_beyond_history"]["message"] == (
        "目标需要增长60%，但历史年增长为20%：超出 40 个百分点（允许 20 个百分点）"
    )
    english = await s.client.get(
        "/v1/targets/suggestions",
        params={"kpi": "revenue", "scope": "rep:r1", "period": "2027-03", "growth": "0.6"},
        headers={**s.auth(), "Accept-Language": "en"},
    )
    assert english.json()["steps"][2] == "trend: +20% a year"
    assert english.json()["steps"][0].startswith("history 11/2024 to 10/2026 (24 months)")
    assert "CN¥" in english.json()["steps"][0]
    assert {f["message"] for f in english.json()["flags"]} >= {
        "the growth goal 60% is above the cap 50%: the target uses 50%"
    }
    last_year = Decimal(f"{_truth(16):.2f}")  # 2026-03
    assert Decimal(out["target"]) == (last_year * Decimal("1.5")).quantize(Decimal("0.01"))
    assert out["reasoning"]["last_year"]["actual"] == str(last_year)
    # The goal is at the cap, so is the stretch: no suggestion beyond the cap.
    assert out["reasoning"]["caps"]["applied"] == ["growth_goal", "stretch"]
    assert out["stretch"] == out["target"]
    assert Decimal(out["baseline"]) <= Decimal(out["target"]) <= Decimal(out["stretch"])
    # A week: the month's estimate x the week's share of the month's working days.
    week = await s.client.get(
        "/v1/targets/suggestions",
        params={"kpi": "revenue", "scope": "team:north", "period": "2027-W10"},
        headers=s.auth(),
    )
    assert week.status_code == 200
    march = date(2027, 3, 1)
    share = Decimal(5) / Decimal(weekdays(march, date(2027, 4, 1)))
    assert week.json()["reasoning"]["seasonality"]["week_share_of_month"] == str(
        share.quantize(Decimal("0.0001"))
    )
    # A ratio: the last 12 months' value.
    ratio = await s.client.get(
        "/v1/targets/suggestions",
        params={"kpi": "win_rate", "scope": "rep:r1", "period": "2027-Q1", "growth": "0.1"},
        headers=s.auth(),
    )
    assert ratio.json()["baseline"] == "1.0000"
    assert ratio.json()["target"] == "1.0000"  # capped at 100%
    none = await s.client.get(
        "/v1/targets/suggestions",
        params={"kpi": "revenue", "scope": "rep:r3", "period": "2027-Q1"},
        headers=s.auth(),
    )
    assert none.json()["baseline"] is None
    assert [f["code"] for f in none.json()["flags"]] == ["no_history"]


# -- SMART check -------------------------------------------------------------------------

GOOD_ITEMS = [
    {"kpi": "revenue", "weight": 40},
    {"kpi": "new_customers", "weight": 20},
    {"kpi": "visits", "weight": 15},
    {"kpi": "win_rate", "weight": 15},
    {"kpi": "crm_active_days", "weight": 10},
]


async def test_each_crafted_plan_gets_exactly_its_finding(s: Stack) -> None:
    # Last year's first quarter: 100,000; recent activity: a deal and a visit in November.
    await send(
        s,
        [
            deal("r1", "2026-02-10", "100000"),
            deal("r1", "2026-11-20", "5000"),
            {
                "event_id": "v-1",
                "type": "visit",
                "occurred_at": "2026-11-20T10:00:00+08:00",
                "rep_id": "r1",
            },
        ],
    )
    parent = await s.client.post(
        "/v1/targets",
        json={"kpi": "revenue", "scope": "team:north", "period": "2027-Q1", "target": "400000"},
        headers=s.auth(),
    )
    assert parent.status_code == 201, parent.text
    pid = parent.json()["id"]
    good_target = {"kpi": "revenue", "target": "110000", "parent_id": pid}
    base: dict[str, Any] = {
        "items": GOOD_ITEMS,
        "scope": "rep:r1",
        "period": "2027-Q1",
        "targets": [good_target],
    }

    async def check(plan: dict[str, Any]) -> list[tuple[str, str]]:
        resp = await s.client.post("/v1/plans/check", json=plan, headers=s.auth())
        assert resp.status_code == 200, resp.text
        return [(f["rule"], f["severity"]) for f in resp.json()["findings"]]

    assert await check(base) == []
    assert await check({**base, "items": None, "template": "account_manager"}) == []
    crafted: dict[str, tuple[dict[str, Any], tuple[str, str]]] = {
        "no formula": (
            {
                **base,
                "targets": [good_target, {"kpi": "happiness", "target": "5", "parent_id": pid}],
            },
            ("not_specific", "error"),
        ),
        "no events": (
            {
                **base,
                "targets": [{"kpi": "payments_collected", "target": "1000", "parent_id": pid}],
            },
            ("not_measurable", "warning"),
        ),
        "far above history": (
            {**base, "targets": [{**good_target, "target": "200000"}]},
            ("not_achievable", "warning"),
        ),
        "no parent goal": (
            {**base, "targets": [{"kpi": "revenue", "target": "110000"}]},
            ("not_relevant", "warning"),
        ),
        "no period": (
            {**base, "period": None},
            ("not_time_bound", "error"),
        ),
        "six core KPIs": (
            {
                **base,
                "items": [
                    {"kpi": "revenue", "weight": 30},
                    {"kpi": "deals_won", "weight": 10},
                    *GOOD_ITEMS[1:],
                ],
            },
            ("too_many_core_kpis", "warning"),
        ),
        "weights 110": (
            {**base, "items": [{"kpi": "revenue", "weight": 50}, *GOOD_ITEMS[1:]]},
            ("weights_not_100", "error"),
        ),
        "results only": (
            {
                **base,
                "items": [{"kpi": "revenue", "weight": 60}, {"kpi": "new_customers", "weight": 40}],
            },
            ("result_only", "warning"),
        ),
        "process only": (
            {
                **base,
                "items": [{"kpi": "visits", "weight": 50}, {"kpi": "win_rate", "weight": 50}],
                "targets": [],
            },
            ("process_only", "warning"),
        ),
        "duplicated KPI": (
            {
                **base,
                "items": [
                    {"kpi": "revenue", "weight": 25},
                    {"kpi": "revenue", "weight": 15},
                    *GOOD_ITEMS[1:],
                ],
            },
            ("duplicated_kpi", "error"),
        ),
    }
    for name, (plan, expected) in crafted.items():
        assert await check(plan) == [expected], name
    # Team scopes read their members' events: north has r1's visit, south none.
    visits = [{"kpi": "visits", "target": "10", "parent_id": pid}]
    assert await check({**base, "scope": "team:north", "targets": visits}) == []
    assert await check({**base, "scope": "team:south", "targets": visits}) == [
        ("not_measurable", "warning")
    ]
    resp = await s.client.post(
        "/v1/plans/check",
        json=crafted["far above history"][0],
        headers=s.auth(),
    )
    finding = resp.json()["findings"][0]
    # zh-CN (the tenant's language): the rep's and the KPI's names, a percentage.
    assert (
        finding["message"] == "Ann的销售额目标需要比去年同期增长100%，而历史数据不足以算出增长趋势"
    )
    assert finding["message_code"] == "planning.finding.not_achievable_no_trend"
    assert finding["message_params"]["needed"] == {"$pct": "1"}
    assert finding["fix"] == (
        "把目标降到增长约20%（可参考目标建议），或说明有哪些变化（人员、区域、产品）能支撑这个目标"
    )
    assert (finding["fix_code"], finding["fix_params"]) == (
        "planning.fix.not_achievable",
        {"growth": {"$pct": "0.2"}},
    )
    assert finding["target_index"] == 0
    assert resp.json()["ok"] is True
    english = await s.client.post(
        "/v1/plans/check",
        json=crafted["far above history"][0],
        headers={**s.auth(), "Accept-Language": "en"},
    )
    finding = english.json()["findings"][0]
    assert finding["message"] == (
        "Revenue for Ann needs 100% over last year; history is too short to show a trend"
    )
    assert "GET /v1/targets/suggestions" in finding["fix"]
    assert (
        await s.client.post("/v1/plans/check", json=crafted["no period"][0], headers=s.auth())
    ).json()["ok"] is False
