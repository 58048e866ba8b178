"""``GET /v1/reviews``: the period review (复盘), JSON and CSV, against hand-computed values."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from paceline.shared.clock import FixedClock
from tests.support import Stack, embedded_settings, running_stack

pytestmark = pytest.mark.dates

PLANNED = datetime.fromisoformat("2026-10-20T10:00:00+08:00")
REVIEWED = datetime.fromisoformat("2026-12-02T10:00:00+08:00")
ORG: dict[str, Any] = {
    "teams": [{"id": "north", "name": "North"}, {"id": "south", "name": "South"}],
    "reps": [
        {"id": "r1", "name": "Ann", "team_id": "north", "role": "account_manager"},
        {"id": "r2", "name": "Bo", "team_id": "north", "role": "account_manager"},
        {"id": "r3", "name": "Cy", "team_id": "south", "role": "account_manager"},
    ],
    "effective_from": "2026-01-01",
}
# November 2026: rep -> (deals won, amount each, quotes)
NOVEMBER = {"r1": (12, 5_000, 30), "r2": (11, 5_000, 20)}
TARGETS = [
    ("deals_won", "r1", "10"),
    ("deals_won", "r2", "10"),
    ("revenue", "r1", "100000"),
    ("revenue", "r2", "50000"),
    ("quotes", "r1", "40"),
    ("csat", "r1", "4"),
]


@pytest.fixture
async def s(tmp_path: Path) -> AsyncIterator[Stack]:
    clock = FixedClock(PLANNED)
    async with running_stack("embedded", embedded_settings(tmp_path / "data"), clock=clock) as st:
        assert (await st.client.put("/v1/org", json=ORG, headers=st.auth())).status_code == 200
        for kpi, rep, value in TARGETS:
            resp = await st.client.post(
                "/v1/targets",
                json={"kpi": kpi, "scope": f"rep:{rep}", "period": "2026-11", "target": value},
                headers=st.auth(),
            )
            assert resp.status_code == 201, resp.text
        clock.set(REVIEWED)
        events = []
        for rep, (deals, amount, quotes) in NOVEMBER.items():
            events += [
                {
                    "event_id": f"q-{rep}-{n}",
                    "type": "quote",
                    "occurred_at": f"2026-11-{n % 28 + 1:02d}T10:00:00+08:00",
                    "rep_id": rep,
                }
                for n in range(quotes)
            ]
            events += [
                {
                    "event_id": f"d-{rep}-{n}",
                    "type": "deal",
                    "stage": "won",
                    "occurred_at": f"2026-11-{n + 2:02d}T15:00:00+08:00",
                    "rep_id": rep,
                    "amount": str(amount),
                }
                for n in range(deals)
            ]
        assert (await st.post_events(events)).status_code == 202
        await st.wait_scored()
        yield st


async def test_review_table_findings_drivers(s: Stack) -> None:
    resp = await s.client.get(
        "/v1/reviews", params={"team": "north", "period": "2026-11"}, headers=s.auth()
    )
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["as_of"] == "2026-12-01T00:00:00+08:00"
    assert [k["kpi"] for k in out["kpis"]] == ["csat", "deals_won", "quotes", "revenue"]
    rows = {(r["scope"], r["kpi"]): r for r in out["rows"]}
    assert rows[("rep:r1", "deals_won")]["raw_attainment"] == "1.2000"
    assert rows[("rep:r2", "deals_won")]["raw_attainment"] == "1.1000"
    assert rows[("rep:r1", "revenue")]["attainment"] == "0.6000"
    assert rows[("rep:r1", "revenue")]["met"] is False
    assert rows[("rep:r2", "revenue")]["met"] is True
    assert rows[("rep:r1", "csat")]["status"] == "insufficient_data"
    assert rows[("rep:r2", "csat")]["status"] == "no_target"
    assert rows[("team:north", "revenue")]["actual"] == "115000.0000"
    assert rows[("team:north", "revenue")]["status"] == "no_target"
    dists = {d["kpi"]: d for d in out["distribution"]}
    assert (dists["revenue"]["reps"], dists["revenue"]["met"]) == (2, 1)
    assert dists["revenue"]["buckets"] == {"<80%": 1, "80-100%": 0, "100-120%": 1, ">=120%": 0}
    assert dists["csat"]["reps"] == 0
    # Every rep beat deals_won: too low? Revenue: one of two missed, no finding.
    assert [(f["kpi"], f["finding"]) for f in out["findings"]] == [("deals_won", "beaten_by_all")]
    # A zh-CN tenant reads the words in Chinese, with the KPI's name (not its key).
    [found] = out["findings"]
    assert found["message"] == "全部 2 名销售都达成了“签单数”目标：目标是否定得太低？"
    assert found["message_code"] == "reviews.finding.beaten_by_all"
    assert found["message_params"]["kpi"] == {"$l10n": {"zh-CN": "签单数", "en": "Deals won"}}
    [miss] = out["misses"]
    # Planned: 40 quotes (target) -> 10 deals (target) -> 10,000 a deal (100,000 / 10).
    # Actual: 30 quotes, 12 deals (40%), 5,000 a deal. Quotes: (30-40) x 0.25 x 10,000;
    # win rate: 30 x (0.40-0.25) x 10,000; deal size: 12 x (5,000-10,000).
    assert miss["scope"] == "rep:r1"
    assert miss["gap"] == "-40000.0000"
    assert {d["driver"]: d["effect"] for d in miss["drivers"]} == {
        "quotes": "-25000.0000",
        "win_rate": "45000.0000",
        "average_deal": "-60000.0000",
    }
    assert miss["planned_from"] == {
        "deals_won": "该销售的签单数目标",
        "quotes": "该销售的报价单数目标",
    }
    assert miss["formula_code"] == "reviews.formula.revenue"
    assert miss["planned_from_codes"]["quotes"]["code"] == "reviews.planned.quotes_target"
    assert miss["largest"] == "average_deal"
    nexts = {(n["scope"], n["kpi"]): n for n in out["suggestions"]}
    assert nexts[("rep:r1", "deals_won")]["period"] == "2026-12"
    note = nexts[("rep:r1", "deals_won")]
    assert note["note"] == (
        "2026-11：实际 12，目标 10（达成 120%）；"
        "所有人都超额完成，建议值以历史数据为准，而不是原目标"
    )
    assert (note["note_code"], note["note_params"]["result"]["$msg"]) == (
        "reviews.note.beaten_by_all",
        "reviews.note.result",
    )
    revenue_note = nexts[("rep:r1", "revenue")]["note"]
    assert revenue_note.startswith("2026-11：实际 ¥6万，目标 ¥10万（达成 60%）"), revenue_note
    text = await s.client.get(
        "/v1/reviews",
        params={"team": "north", "period": "2026-11", "format": "csv"},
        headers=s.auth(),
    )
    assert text.status_code == 200
    assert text.content.startswith(b"\xef\xbb\xbf")  # a zh-CN tenant: a BOM for Excel
    lines = text.content.decode("utf-8-sig").splitlines()
    # For people: the column titles, KPI names, tiers and yes/no in the tenant's language.
    assert lines[0] == (
        "范围,姓名,指标,实际,目标,保底目标,挑战目标,达成率,达成率（不封顶）,档位,是否达成,"
        "状态,差距,报价单数影响,赢单率影响,平均单笔金额影响,下期,下期保底目标,下期目标,"
        "下期挑战目标"
    )
    table = list(csv.DictReader(io.StringIO(text.content.decode("utf-8-sig"))))
    assert len(table) == 4 * 3  # (r1, r2, team) x 4 KPIs
    r1 = next(r for r in table if r["范围"] == "rep:r1" and r["指标"] == "销售额")
    assert (r1["姓名"], r1["差距"], r1["平均单笔金额影响"], r1["档位"], r1["是否达成"]) == (
        "Ann",
        "-40000.0000",
        "-60000.0000",
        "低于保底目标",
        "否",
    )
    # Accept-Language: en — the same review in English.
    en = await s.client.get(
        "/v1/reviews",
        params={"team": "north", "period": "2026-11", "format": "csv"},
        headers={**s.auth(), "Accept-Language": "en"},
    )
    assert en.content.decode("utf-8-sig").splitlines()[0].startswith("Scope,Name,KPI,Actual,")


async def test_review_in_english_with_accept_language(s: Stack) -> None:
    resp = await s.client.get(
        "/v1/reviews",
        params={"team": "north", "period": "2026-11"},
        headers={**s.auth(), "Accept-Language": "en-US,en;q=0.9"},
    )
    assert resp.status_code == 200, resp.text
    out = resp.json()
    [found] = out["findings"]
    assert found["message"] == "all 2 reps met Deals won: was the target too low?"
    [miss] = out["misses"]
    assert miss["formula"] == "revenue = quotes x win rate (deals won / quotes) x average deal"
    assert miss["planned_from"] == {
        "deals_won": "the rep's deals won target",
        "quotes": "the rep's quotes target",
    }
    nexts = {(n["scope"], n["kpi"]): n for n in out["suggestions"]}
    assert nexts[("rep:r1", "revenue")]["note"].startswith(
        "2026-11: CN¥60,000.00 of CN¥100,000.00 (60%)"
    )


async def test_review_errors_in_chinese(s: Stack) -> None:
    bad = await s.client.get(
        "/v1/reviews", params={"team": "north", "period": "2026-13"}, headers=s.auth()
    )
    assert bad.status_code == 422
    err = bad.json()["error"]
    assert err["message_code"] == "periods.invalid"
    assert err["message"] == "期间无效：“2026-13”中的月份必须是 01 到 12"
    assert err["fields"][0]["reason"] == "“2026-13”中的月份必须是 01 到 12"
    assert err["fields"][0]["reason_code"] == "periods.month_range"
    gone = await s.client.get(
        "/v1/reviews", params={"team": "nowhere", "period": "2026-11"}, headers=s.auth()
    )
    assert gone.status_code == 404
    assert gone.json()["error"]["message"] == "没有团队“nowhere”"
    en = await s.client.get(
        "/v1/reviews",
        params={"team": "north", "period": "2026-W54"},
        headers={**s.auth(), "Accept-Language": "en"},
    )
    assert en.json()["error"]["fields"][0]["reason"] == "2026 has no ISO week 54"


async def test_review_without_targets_uses_the_template(s: Stack) -> None:
    resp = await s.client.get(
        "/v1/reviews", params={"team": "south", "period": "2026-11"}, headers=s.auth()
    )
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert [k["kpi"] for k in out["kpis"]] == [
        "revenue",
        "new_customers",
        "visits",
        "win_rate",
        "crm_active_days",
    ]
    assert {r["status"] for r in out["rows"]} == {"no_target"}
    assert out["findings"] == []
    assert out["misses"] == []
    assert (
        await s.client.get(
            "/v1/reviews", params={"team": "nowhere", "period": "2026-11"}, headers=s.auth()
        )
    ).status_code == 404
    bad = await s.client.get(
        "/v1/reviews", params={"team": "south", "period": "2026-13"}, headers=s.auth()
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["field"] == "period"
