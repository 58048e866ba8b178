"""As of a moment, through the HTTP API on both run modes: what Paceline knew then.

The issue's case: deal D1 won at 120,000 at T2, reverted to open later. ``as_of=T2``
answers 120,000 everywhere a figure is read (progress, scorecards, leaderboard, facts
export, drill-down, reviews); without ``as_of`` the revert counts (0); before T1 nothing
was known. A target set after T2 is not in force at T2, but working days still answer.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from tests.conftest import Clocked
from tests.support import Stack

TODAY = datetime.fromisoformat("2026-12-04T18:00:00+08:00")
T1 = datetime.fromisoformat("2026-12-02T10:00:00+08:00")  # D1 won
T2 = "2026-12-02T12:00:00+08:00"  # read here: D1 known, the revert not yet
T3 = datetime.fromisoformat("2026-12-03T09:00:00+08:00")  # D1 reverted to open
T_TARGET = datetime.fromisoformat("2026-12-03T15:00:00+08:00")  # the target set
BEFORE = "2026-12-02T09:59:59+08:00"
ORG: dict[str, Any] = {
    "teams": [{"id": "qa", "name": "QA"}],
    "reps": [{"id": "qa-1", "name": "Q1", "team_id": "qa", "role": "account_manager"}],
}


def d1(version: int, stage: str) -> dict[str, Any]:
    return {
        "event_id": f"d1-v{version}",
        "type": "deal",
        "entity_id": "D1",
        "version": version,
        "occurred_at": "2026-12-02T09:30:00+08:00",
        "rep_id": "qa-1",
        "stage": stage,
        "amount": "120000",
    }


async def get(s: Stack, path: str, **params: str) -> Any:
    resp = await s.client.get(path, params=params, headers=s.auth())
    assert resp.status_code == 200, resp.text
    return resp.json()


async def post_at(s: Stack, clock: Any, at: datetime, events: list[dict[str, Any]]) -> None:
    clock.set(at)
    resp = await s.post_events(events)
    assert resp.status_code == 202, resp.text
    await s.wait_scored()


async def test_as_of_reads_what_was_known_then(clocked_both: Clocked) -> None:
    s, clock = clocked_both
    await post_at(s, clock, T1, [d1(1, "won")])
    await post_at(s, clock, T3, [d1(2, "open")])
    clock.set(T_TARGET)
    resp = await s.client.post(
        "/v1/targets",
        json={"kpi": "revenue", "scope": "rep:qa-1", "period": "2026-12", "target": "300000"},
        headers=s.auth(),
    )
    assert resp.status_code == 201, resp.text
    clock.set(TODAY)
    base = {"kpi": "revenue", "scope": "rep:qa-1", "period": "2026-12"}

    # Progress: then 120,000, before T1 nothing, now 0 (the revert counts).
    then = await get(s, "/v1/progress", **base, as_of=T2)
    assert Decimal(then["actual"]) == 120000
    # No target was in force at T2, yet the period's working days answer.
    assert (then["status"], then["target"], then["pace"], then["expected"]) == (
        "no_target",
        None,
        None,
        None,
    )
    # 1-2 December 2026 (Tue, Wed... the 1st is a Tuesday): 2 working days of 23.
    assert (then["working_days_elapsed"], then["working_days_total"]) == (2, 23)
    assert Decimal(then["elapsed_share"]) == Decimal("0.0870")
    assert Decimal((await get(s, "/v1/progress", **base, as_of=BEFORE))["actual"]) == 0
    now = await get(s, "/v1/progress", **base)
    assert (Decimal(now["actual"]), Decimal(now["target"])) == (0, 300000)  # in force now

    # Scorecard and leaderboard at T2.
    card = await get(s, "/v1/scorecards", scope="rep:qa-1", period="2026-12", as_of=T2)
    rev = next(i for i in card["items"] if i["kpi"] == "revenue")
    assert Decimal(rev["actual"]) == 120000
    card_now = await get(s, "/v1/scorecards", scope="rep:qa-1", period="2026-12")
    assert Decimal(next(i for i in card_now["items"] if i["kpi"] == "revenue")["actual"]) == 0
    board = await get(s, "/v1/leaderboard", team="qa", period="2026-12", kpi="revenue", as_of=T2)
    assert [(r["rep_id"], Decimal(r["kpi_actual"])) for r in board["rows"]] == [
        ("qa-1", Decimal(120000))
    ]

    # Facts export and drill-down at T2.
    span = {"kpi": "revenue", "from": "2026-12-01", "to": "2026-12-31"}
    rows = (await get(s, "/v1/facts", **span, group_by="rep,day", as_of=T2))["rows"]
    assert [(r["rep_id"], r["day"], Decimal(r["value"])) for r in rows] == [
        ("qa-1", "2026-12-02", Decimal(120000))
    ]
    assert (await get(s, "/v1/facts", **span, group_by="rep,day"))["rows"] == []
    records = (await get(s, "/v1/facts/records", **span, as_of=T2))["records"]
    assert [(r["record_id"], r["shares"][0]["day"], r["shares"][0]["value"]) for r in records] == [
        ("D1", "2026-12-02", "120000.0000")
    ]
    # The record as it stood then: version 1, won (the event that held that state).
    assert (records[0]["event"]["event_id"], records[0]["event"]["stage"]) == ("d1-v1", "won")
    assert (await get(s, "/v1/facts/records", **span))["records"] == []
    assert (await get(s, "/v1/facts/records", **span, as_of=BEFORE))["records"] == []

    # The team's review at T2 sees the won deal; without as_of (the period has not ended:
    # now) the revert counts.
    def rep_revenue(review: dict[str, Any]) -> Decimal:
        row = next(r for r in review["rows"] if (r["scope"], r["kpi"]) == ("rep:qa-1", "revenue"))
        return Decimal(row["actual"])

    assert rep_revenue(await get(s, "/v1/reviews", team="qa", period="2026-12", as_of=T2)) == 120000
    assert rep_revenue(await get(s, "/v1/reviews", team="qa", period="2026-12")) == 0
