"""The dashboard's list of adjustments (``GET /v1/dashboard/adjustments``) and month closes.

November is closed on 3 December; then a correction of a November deal (rep r1, north),
a late November deal (r2, north) and a correction for r3 (south) arrive. The list behind a
progress row must add up to that row's ``adjusted`` and ``adjustments`` for every scope and
period, name each change's cause, and respect ``as_of``; the live-update token moves
when a month is closed or reopened.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from tests.conftest import Clocked
from tests.support import Stack

TODAY = datetime.fromisoformat("2026-12-03T10:00:00+08:00")
IN_NOVEMBER = datetime.fromisoformat("2026-11-20T18:00:00+08:00")
AFTER_CLOSE = datetime.fromisoformat("2026-12-03T11:00:00+08:00")
ORG: dict[str, Any] = {
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
}


def deal(deal_id: str, version: int, rep: str, day: str, amount: str) -> dict[str, Any]:
    return {
        "event_id": f"{deal_id}-v{version}",
        "type": "deal",
        "entity_id": deal_id,
        "version": version,
        "occurred_at": f"{day}T10:00:00+08:00",
        "closed_at": f"{day}T10:00:00+08:00",
        "rep_id": rep,
        "stage": "won",
        "amount": amount,
    }


async def post_at(s: Stack, clock: Any, at: datetime, events: list[dict[str, Any]]) -> None:
    clock.set(at)
    resp = await s.post_events(events)
    assert resp.status_code == 202, resp.text
    await s.wait_scored()


async def get(s: Stack, path: str, **params: str) -> dict[str, Any]:
    resp = await s.client.get(path, params=params, headers=s.auth())
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def token(s: Stack) -> str:
    return str((await get(s, "/v1/dashboard/changes"))["token"])


async def test_the_list_behind_a_row_adds_up_to_its_adjusted(clocked: Clocked) -> None:
    s, clock = clocked
    await post_at(
        s,
        clock,
        IN_NOVEMBER,
        [deal("A", 1, "r1", "2026-11-20", "1000"), deal("C", 1, "r3", "2026-11-18", "300")],
    )
    clock.set(TODAY)
    before = await token(s)
    resp = await s.client.post(
        "/v1/closes", json={"period": "2026-11", "reason": "月结"}, headers=s.auth()
    )
    assert resp.status_code == 201, resp.text
    closed_token = await token(s)
    assert closed_token != before  # a wall screen redraws with the closed badge

    await post_at(
        s,
        clock,
        AFTER_CLOSE,
        [
            deal("A", 2, "r1", "2026-11-20", "1500"),
            deal("B", 1, "r2", "2026-11-25", "200"),
            deal("C", 2, "r3", "2026-11-18", "400"),
        ],
    )

    # Every scope and period: the list equals the row (revenue and a count KPI).
    cases = [
        ("company", "2026-12", "revenue", 800, 3),
        ("team:hq", "2026-12", "revenue", 800, 3),
        ("team:north", "2026-12", "revenue", 700, 2),
        ("team:north", "2026-Q4", "revenue", 700, 2),
        ("rep:r3", "2026-12", "revenue", 100, 1),
        ("company", "2026-12", "deals_won", 1, 1),
    ]
    for scope, period, kpi, total, count in cases:
        (row,) = (await get(s, "/v1/dashboard/overview", scope=scope, period=period, kpis=kpi))[
            "rows"
        ]
        listing = await get(s, "/v1/dashboard/adjustments", scope=scope, period=period, kpi=kpi)
        case = (scope, period, kpi)
        assert (Decimal(row["adjusted"]), row["adjustments"]) == (total, count), case
        assert (Decimal(listing["total"]), listing["count"]) == (total, count), case
        assert sum(Decimal(i["amount"]) for i in listing["items"]) == total, case
        assert len(listing["items"]) == count, case
        assert listing["period"]["key"] == period

    north = await get(
        s, "/v1/dashboard/adjustments", scope="team:north", period="2026-12", kpi="revenue"
    )
    assert sorted(
        (
            i["record_type"],
            i["record_id"],
            i["event_id"],
            i["rep_id"],
            i["source_period"],
            i["source_day"],
            i["booked_day"],
            Decimal(i["amount"]),
            datetime.fromisoformat(i["known_at"]) == AFTER_CLOSE,
        )
        for i in north["items"]
    ) == [
        ("deal", "A", "A-v2", "r1", "2026-11", "2026-11-20", "2026-12-03", Decimal(500), True),
        ("deal", "B", "B-v1", "r2", "2026-11", "2026-11-25", "2026-12-03", Decimal(200), True),
    ]

    # Nothing to list: November itself, a ratio, and December as known at the close.
    for params in (
        {"scope": "company", "period": "2026-11", "kpi": "revenue"},
        {"scope": "company", "period": "2026-12", "kpi": "win_rate"},
        {
            "scope": "company",
            "period": "2026-12",
            "kpi": "revenue",
            "as_of": AFTER_CLOSE.replace(minute=30).replace(hour=10).isoformat(),
        },
    ):
        empty = await get(s, "/v1/dashboard/adjustments", **params)
        assert (empty["total"], empty["count"], empty["items"]) == (None, 0, []), params
    november = await get(s, "/v1/dashboard/overview", period="2026-11", kpis="revenue")
    assert november["rows"][0]["closed_months"] == ["2026-11"]

    # A page smaller than the count keeps the total.
    short = await get(
        s, "/v1/dashboard/adjustments", scope="company", period="2026-12", kpi="revenue", limit="2"
    )
    assert (Decimal(short["total"]), short["count"], len(short["items"])) == (800, 3, 2)

    unknown = await s.client.get(
        "/v1/dashboard/adjustments",
        params={"scope": "team:nowhere", "period": "2026-12", "kpi": "revenue"},
        headers=s.auth(),
    )
    assert unknown.status_code == 404, unknown.text

    resp = await s.client.post(
        "/v1/closes/2026-11/reopen", json={"reason": "重算"}, headers=s.auth()
    )
    assert resp.status_code == 200, resp.text
    assert await token(s) != closed_token
