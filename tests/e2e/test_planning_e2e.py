"""From history to review, in both run modes, against hand-computed values.

1. 2027-01-04: a year of history (2026) is imported as CSV through ``POST /v1/imports``;
   a company revenue goal for fiscal 2027 is decomposed by historical share down to reps
   and evenly into quarters, and saved.
2. 2027-04-01: the first quarter's CRM activity arrives through ``POST /v1/events``;
   progress and the review of the quarter are read and compared with values computed by
   hand below.

History (every month of 2026): r1 wins 2 deals of 10,000 from 8 quotes, r2 1 deal of
10,000 from 4 quotes (team north), r3 1 deal of 20,000 from 4 quotes (team south); both
teams sit under hq. Shares: r1 240,000 / 600,000 = 40%, r2 20%, r3 40%; north 60%.

Goal: 1,200,000.00 (baseline 1,000,000.00, stretch 1,500,000.00) ->
r1 480,000 (Q1 120,000; baseline 100,000; stretch 150,000), r2 240,000 (Q1 60,000;
baseline 50,000; stretch 75,000), r3 480,000 (Q1 120,000; baseline 100,000); north Q1 =
180,000 (its reps' sum), hq Q1 = 300,000.

Q1 2027: r1 9 deals x 10,000 = 90,000 from 30 quotes; r2 7 x 10,000 = 70,000 from 12;
r3 5 x 20,000 = 100,000 from 20.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from paceline.shared.clock import FixedClock
from paceline.shared.i18n.catalogs import catalog
from paceline.shared.settings import Settings
from tests.support import Stack, running_stack

pytestmark = pytest.mark.dates

PLANNING_DAY = datetime.fromisoformat("2027-01-04T10:00:00+08:00")
REVIEW_DAY = datetime.fromisoformat("2027-04-01T09:00:00+08:00")
QUARTER_END = "2027-04-01T00:00:00+08:00"

ORG = {
    "teams": [
        {"id": "hq", "name": "HQ"},
        {"id": "north", "name": "North", "parent_id": "hq"},
        {"id": "south", "name": "South", "parent_id": "hq"},
    ],
    "reps": [
        {"id": "r1", "name": "Ann", "team_id": "north", "role": "account_manager"},
        {"id": "r2", "name": "Bo", "team_id": "north", "role": "account_manager"},
        {"id": "r3", "name": "Cy", "team_id": "south", "role": "account_manager"},
    ],
    "effective_from": "2025-01-01",
}
# rep -> (deals a month, deal amount, quotes a month)
HISTORY = {"r1": (2, 10_000, 8), "r2": (1, 10_000, 4), "r3": (1, 20_000, 4)}
# rep -> deals per month Jan..Mar 2027, amount, quotes per month
QUARTER = {
    "r1": ([3, 3, 3], 10_000, [10, 10, 10]),
    "r2": ([2, 3, 2], 10_000, [4, 4, 4]),
    "r3": ([2, 2, 1], 20_000, [7, 7, 6]),
}
MAPPING = {
    "columns": {
        "Kind": "type",
        "Owner": "rep_id",
        "Date": "occurred_at",
        "Amount": "amount",
        "Record": "entity_id",
        "Stage": "stage",
    },
    "values": {"type": {"Deal": "deal", "Quote": "quote"}, "stage": {"Won": "won"}},
    "date_formats": {"occurred_at": "%Y-%m-%d %H:%M"},
}


def history_csv() -> str:
    """A year of CRM export: one line per won deal or sent quote."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["Kind", "Owner", "Date", "Amount", "Record", "Stage"])
    for month in range(1, 13):
        for rep, (deals, amount, quotes) in HISTORY.items():
            for n in range(quotes):
                w.writerow(
                    [
                        "Quote",
                        rep,
                        f"2026-{month:02d}-{n + 2:02d} 10:00",
                        "",
                        f"Q-{rep}-{month}-{n}",
                        "",
                    ]
                )
            for n in range(deals):
                w.writerow(
                    [
                        "Deal",
                        rep,
                        f"2026-{month:02d}-{n + 12:02d} 15:00",
                        f"{amount:,}",
                        f"D-{rep}-{month}-{n}",
                        "Won",
                    ]
                )
    return out.getvalue()


def quarter_events() -> list[dict[str, Any]]:
    """Q1 2027 as the CRM sends it."""
    events: list[dict[str, Any]] = []
    for rep, (deals, amount, quotes) in QUARTER.items():
        for m in range(3):
            for n in range(quotes[m]):
                events.append(
                    {
                        "event_id": f"q27-{rep}-{m}-{n}",
                        "type": "quote",
                        "occurred_at": f"2027-{m + 1:02d}-{n + 2:02d}T10:00:00+08:00",
                        "rep_id": rep,
                    }
                )
            for n in range(deals[m]):
                events.append(
                    {
                        "event_id": f"d27-{rep}-{m}-{n}",
                        "type": "deal",
                        "stage": "won",
                        "occurred_at": f"2027-{m + 1:02d}-{n + 15:02d}T15:00:00+08:00",
                        "rep_id": rep,
                        "amount": str(amount),
                    }
                )
    return events


@pytest.fixture
async def clocked(mode_settings: tuple[str, Settings]) -> AsyncIterator[tuple[Stack, FixedClock]]:
    mode, settings = mode_settings
    clock = FixedClock(PLANNING_DAY)
    async with running_stack(mode, settings, clock=clock) as s:
        yield s, clock


async def _get(s: Stack, path: str, **params: str) -> dict[str, Any]:
    resp = await s.client.get(path, params=params, headers=s.auth())
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


async def test_import_decompose_progress_review(clocked: tuple[Stack, FixedClock]) -> None:
    s, clock = clocked
    resp = await s.client.put("/v1/org", json=ORG, headers=s.auth())
    assert resp.status_code == 200, resp.text
    await s.client.put("/v1/settings", json={"calendar": "none"}, headers=s.auth())
    # 1. A year of history as CSV.
    content = history_csv()
    resp = await s.client.post(
        "/v1/imports",
        json={"name": "crm-2026", "mapping": MAPPING, "content": content},
        headers=s.auth(),
    )
    assert resp.status_code == 201, resp.text
    report = resp.json()
    assert report["rows_total"] == 12 * (8 + 2 + 4 + 1 + 4 + 1) == 240
    assert (report["rows_accepted"], report["rows_rejected"]) == (240, 0)
    await s.wait_scored()
    year = await _get(
        s,
        "/v1/progress",
        kpi="revenue",
        scope="company",
        period="2026",
        as_of="2027-01-01T00:00:00+08:00",
        knowledge="latest",  # the history was imported after 2026 ended
    )
    assert year["actual"] == "600000.0000"
    # 2. Decompose the 2027 goal, preview first, then save.
    goal = {
        "kpi": "revenue",
        "scope": "company",
        "period": "2027",
        "target": "1200000",
        "baseline": "1000000",
        "stretch": "1500000",
        "org": {"method": "historical_share", "down_to": "rep"},
        "time": {"method": "even", "levels": ["quarter"]},
    }
    preview = await s.client.post("/v1/targets/decompose", json=goal, headers=s.auth())
    assert preview.status_code == 200, preview.text
    plan = {(t["scope"], t["period"]): t for t in preview.json()["targets"]}
    assert len(plan) == 7 * 5  # company, hq, north, south, r1, r2, r3 x year + 4 quarters
    listed = await s.client.get("/v1/targets", headers=s.auth())
    assert listed.json() == []  # the preview saved nothing
    saved = await s.client.post(
        "/v1/targets/decompose",
        json={**goal, "preview": False, "reason": "FY2027 plan"},
        headers=s.auth(),
    )
    assert saved.status_code == 200, saved.text
    targets = {(t["scope"], t["period"]): t for t in saved.json()["targets"]}
    expect = {
        ("team:north", "2027"): ("720000", "600000", "900000"),
        ("team:south", "2027"): ("480000", "400000", "600000"),
        ("rep:r1", "2027"): ("480000", "400000", "600000"),
        ("rep:r2", "2027"): ("240000", "200000", "300000"),
        ("rep:r1", "2027-Q1"): ("120000", "100000", "150000"),
        ("rep:r2", "2027-Q1"): ("60000", "50000", "75000"),
        ("rep:r3", "2027-Q1"): ("120000", "100000", "150000"),
        ("team:north", "2027-Q1"): ("180000", "150000", "225000"),
        ("team:hq", "2027-Q1"): ("300000", "250000", "375000"),
    }
    for key, (t, b, st) in expect.items():
        got = targets[key]
        assert (Decimal(got["target"]), Decimal(got["baseline"]), Decimal(got["stretch"])) == (
            Decimal(t),
            Decimal(b),
            Decimal(st),
        ), key
        assert got["action"] == "created"
    ids = {k: v["id"] for k, v in targets.items()}
    assert targets[("rep:r1", "2027")]["parent_id"] == ids[("team:north", "2027")]
    assert targets[("rep:r1", "2027-Q1")]["parent_id"] == ids[("rep:r1", "2027")]
    assert targets[("team:hq", "2027")]["parent_id"] == ids[("company", "2027")]
    stored = await _get(s, f"/v1/targets/{ids[('rep:r1', '2027-Q1')]}")
    assert stored["parent_id"] == ids[("rep:r1", "2027")]
    assert stored["versions"][0]["reason"] == "FY2027 plan"
    # 3. The quarter happens; review on April 1st.
    clock.set(REVIEW_DAY)
    events = quarter_events()
    resp = await s.post_events(events)
    assert resp.status_code == 202, resp.text
    await s.wait_scored()
    r1 = await _get(
        s,
        "/v1/progress",
        kpi="revenue",
        scope="rep:r1",
        period="2027-Q1",
        as_of=QUARTER_END,
        knowledge="latest",  # the quarter's events arrive on review day
    )
    assert (r1["actual"], r1["target"], r1["pace"], r1["status"]) == (
        "90000.0000",
        "120000.0000",
        "0.7500",
        "at_risk",
    )
    north = await _get(
        s,
        "/v1/progress",
        kpi="revenue",
        scope="team:north",
        period="2027-Q1",
        as_of=QUARTER_END,
        knowledge="latest",  # the quarter's events arrive on review day
    )
    assert (north["actual"], north["target"], north["status"]) == (
        "160000.0000",
        "180000.0000",
        "behind",
    )
    review = await _get(s, "/v1/reviews", team="hq", period="2027-Q1")
    assert review["as_of"] == "2027-04-01T00:00:00+08:00"  # the quarter's end
    assert review["next_period"] == "2027-Q2"
    rows = {(r["scope"], r["kpi"]): r for r in review["rows"]}
    assert [r["scope"] for r in review["rows"]] == ["rep:r1", "rep:r2", "rep:r3", "team:hq"]
    assert (rows[("rep:r1", "revenue")]["attainment"], rows[("rep:r1", "revenue")]["tier"]) == (
        "0.7500",
        "below_baseline",
    )
    assert (rows[("rep:r2", "revenue")]["attainment"], rows[("rep:r2", "revenue")]["tier"]) == (
        "1.1667",
        "target_met",
    )
    assert rows[("rep:r3", "revenue")]["tier"] == "baseline_met"
    assert (rows[("team:hq", "revenue")]["actual"], rows[("team:hq", "revenue")]["target"]) == (
        "260000.0000",
        "300000.0000",
    )
    [dist] = review["distribution"]
    assert (dist["reps"], dist["met"], dist["missed"], dist["share_met"]) == (3, 1, 2, "0.3333")
    assert dist["tiers"] == {
        "stretch_met": 0,
        "target_met": 1,
        "baseline_met": 1,
        "below_baseline": 1,
    }
    assert [(f["kpi"], f["finding"]) for f in review["findings"]] == [("revenue", "missed_by_most")]
    misses = {m["scope"]: m for m in review["misses"]}
    # r1: planned 12 deals (120,000 / 10,000) from 48 quotes (win rate 24/96 = 0.25).
    assert {d["driver"]: d["effect"] for d in misses["rep:r1"]["drivers"]} == {
        "quotes": "-45000.0000",
        "win_rate": "15000.0000",
        "average_deal": "0.0000",
    }
    assert misses["rep:r1"]["gap"] == "-30000.0000"
    assert misses["rep:r1"]["largest"] == "quotes"
    assert {d["driver"]: d["effect"] for d in misses["rep:r3"]["drivers"]} == {
        "quotes": "-20000.0000",
        "win_rate": "0.0000",
        "average_deal": "0.0000",
    }
    # The team's own miss: 260,000 of 300,000 from 21 deals and 62 quotes; planned from its
    # 2026 (48 deals, 192 quotes, 12,500 a deal): 24 deals from 96 quotes.
    assert {d["driver"]: d["effect"] for d in misses["team:hq"]["drivers"]} == {
        "quotes": "-106250.0000",
        "win_rate": "68750.0000",
        "average_deal": "-2500.0000",
    }
    assert misses["team:hq"]["planned_from"] == {  # in the tenant's language (zh-CN)
        "deals_won": "目标 ÷ 团队近 12 个月的平均单笔金额",
        "quotes": "计划签单数 ÷ 团队近 12 个月的赢单率",
    }
    nexts = {(n["scope"], n["kpi"]): n for n in review["suggestions"]}
    # r1's last 12 months: Apr-Dec 2026 9 x 20,000 + Q1 2027 90,000 = 270,000 -> 22,500 a
    # month (15 months of history: no seasonality or trend yet) -> 67,500 for Q2.
    r1_next = nexts[("rep:r1", "revenue")]
    assert (r1_next["period"], r1_next["baseline"], r1_next["stretch"]) == (
        "2027-Q2",
        "67500.00",
        "74250.00",
    )
    assert "团队多数人未达成" in r1_next["note"]  # most of the team missed it
    # The same review as CSV.
    resp = await s.client.get(
        "/v1/reviews",
        params={"team": "hq", "period": "2027-Q1"},
        headers={**s.auth(), "Accept": "text/csv"},
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    # Its columns are titled for people in the tenant's language: read them by their codes.
    titles = {
        v: k.removeprefix("reviews.csv.")
        for k, v in catalog("zh-CN").items()
        if k.startswith("reviews.csv.")
    }
    table = [
        {titles.get(k, k): v for k, v in row.items()}
        for row in csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig")))
    ]
    r1_line = next(r for r in table if r["scope"] == "rep:r1")
    assert (r1_line["actual"], r1_line["target"], r1_line["met"], r1_line["gap"]) == (
        "90000.0000",
        "120000.0000",
        "否",  # not met, in the tenant's words
        "-30000.0000",
    )
    assert (r1_line["driver_quotes"], r1_line["next_baseline"]) == ("-45000.0000", "67500.00")
