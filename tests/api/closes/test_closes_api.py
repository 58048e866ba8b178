"""Month close (月结) through the HTTP API on both run modes.

November is closed on 3 December; then a correction of a November deal and a late
November deal arrive. Under ``adjust`` (the default) November holds still and the changes
are booked to December (the first open month) on the day they became known, listed with
their cause; reopening lets later changes count in November again. Under ``restate``
November moves and the change is listed as a restatement. Every close and reopen is
audited; closing needs admin, reopening needs admin and a reason.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from paceline.shared.auth import generate_key
from paceline.shared.db import tenants as tenant_repo
from tests.conftest import Clocked
from tests.support import Stack

TODAY = datetime.fromisoformat("2026-12-03T10:00:00+08:00")
IN_NOVEMBER = datetime.fromisoformat("2026-11-20T18:00:00+08:00")
AFTER_CLOSE = datetime.fromisoformat("2026-12-03T11:00:00+08:00")
ORG: dict[str, Any] = {
    "teams": [{"id": "north", "name": "North"}],
    "reps": [{"id": "r1", "name": "Ann", "team_id": "north", "role": "account_manager"}],
}


def deal(deal_id: str, version: int, day: str, amount: str) -> dict[str, Any]:
    return {
        "event_id": f"{deal_id}-v{version}",
        "type": "deal",
        "entity_id": deal_id,
        "version": version,
        "occurred_at": f"{day}T10:00:00+08:00",
        "closed_at": f"{day}T10:00:00+08:00",
        "rep_id": "r1",
        "stage": "won",
        "amount": amount,
    }


async def post_at(s: Stack, clock: Any, at: datetime, events: list[dict[str, Any]]) -> None:
    clock.set(at)
    resp = await s.post_events(events)
    assert resp.status_code == 202, resp.text
    await s.wait_scored()


async def revenue(s: Stack, period: str, scope: str = "rep:r1", **extra: str) -> dict[str, Any]:
    resp = await s.client.get(
        "/v1/progress",
        params={"kpi": "revenue", "scope": scope, "period": period, **extra},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def make_key(s: Stack, scopes: list[str]) -> str:
    key = generate_key()
    async with s.db.transaction() as session:
        await tenant_repo.add_key(
            session,
            tenant_id=s.settings.default_tenant,
            key=key,
            name="test",
            scopes=scopes,
            now=s.now(),
        )
    return key.plaintext


async def test_a_closed_month_holds_still_and_later_changes_are_adjustments(
    clocked_both: Clocked,
) -> None:
    s, clock = clocked_both
    await post_at(s, clock, IN_NOVEMBER, [deal("A", 1, "2026-11-20", "1000")])
    clock.set(TODAY)
    assert Decimal((await revenue(s, "2026-11"))["actual"]) == 1000

    # Closing needs admin; only a month that has ended; not twice; not a quarter.
    reader = await make_key(s, ["read"])
    denied = await s.client.post("/v1/closes", json={"period": "2026-11"}, headers=s.auth(reader))
    assert denied.status_code == 403, denied.text
    for bad, field in (("2026-12", "period"), ("2026-Q4", "period"), ("2026-13", "period")):
        resp = await s.client.post("/v1/closes", json={"period": bad}, headers=s.auth())
        assert resp.status_code == 422, resp.text
        assert [f["field"] for f in resp.json()["error"]["fields"]] == [field], resp.text
    resp = await s.client.post(
        "/v1/closes", json={"period": "2026-11", "reason": "月结 11月"}, headers=s.auth()
    )
    assert resp.status_code == 201, resp.text
    closed = resp.json()
    assert (closed["period"], closed["status"], closed["policy"]) == ("2026-11", "closed", "adjust")
    again = await s.client.post("/v1/closes", json={"period": "2026-11"}, headers=s.auth())
    assert again.status_code == 409, again.text

    # A correction (1000 -> 1500) and a late November deal arrive after the close.
    await post_at(
        s,
        clock,
        AFTER_CLOSE,
        [deal("A", 2, "2026-11-20", "1500"), deal("B", 1, "2026-11-25", "200")],
    )
    clock.set(AFTER_CLOSE)
    november = await revenue(s, "2026-11")
    assert (Decimal(november["actual"]), november["closed_months"]) == (1000, ["2026-11"])
    december = await revenue(s, "2026-12")
    assert Decimal(december["actual"]) == 700  # +500 and +200, booked on 3 December
    assert (Decimal(december["adjusted"]), december["adjustments"]) == (700, 2)
    assert december["closed_months"] == []
    team = await revenue(s, "2026-12", scope="team:north")
    assert (Decimal(team["actual"]), Decimal(team["adjusted"])) == (700, 700)
    # The year sees everything once: 1000 in November, 700 in December.
    assert Decimal((await revenue(s, "2026"))["actual"]) == 1700
    # As of the close, December had nothing yet.
    assert Decimal((await revenue(s, "2026-12", as_of=TODAY.isoformat()))["actual"]) == 0

    # The adjustments, with their cause.
    resp = await s.client.get(
        "/v1/adjustments", params={"period": "2026-12", "kpi": "revenue"}, headers=s.auth()
    )
    assert resp.status_code == 200, resp.text
    items = resp.json()["items"]
    assert sorted(
        (
            i["kind"],
            i["record_id"],
            i["event_id"],
            i["source_period"],
            i["source_day"],
            i["booked_day"],
            Decimal(i["value"]),
        )
        for i in items
        if i["measure"] == 0
    ) == [
        ("adjust", "A", "A-v2", "2026-11", "2026-11-20", "2026-12-03", Decimal(500)),
        ("adjust", "B", "B-v1", "2026-11", "2026-11-25", "2026-12-03", Decimal(200)),
    ]
    bad = await s.client.get("/v1/adjustments", params={"period": "Nov"}, headers=s.auth())
    assert bad.status_code == 422, bad.text

    # The team's reviews: November closed and holding still; December shows what it holds
    # of November's late changes.
    def review_of(period: str) -> Any:
        return s.client.get(
            "/v1/reviews", params={"team": "north", "period": period}, headers=s.auth()
        )

    nov_review = (await review_of("2026-11")).json()
    assert (nov_review["closed_months"], nov_review["adjustments"]) == (["2026-11"], [])
    dec_review = (await review_of("2026-12")).json()
    assert dec_review["closed_months"] == []
    assert [
        (a["kpi"], Decimal(a["adjusted"]), a["adjustments"]) for a in dec_review["adjustments"]
    ] == [("revenue", Decimal(700), 2)]

    # The progress export shows the adjustment on December's row.
    target = await s.client.post(
        "/v1/targets",
        json={"kpi": "revenue", "scope": "rep:r1", "period": "2026-12", "target": "5000"},
        headers=s.auth(),
    )
    assert target.status_code == 201, target.text
    export = await s.client.get(
        "/v1/exports/progress", params={"period": "2026-12"}, headers=s.auth()
    )
    assert export.status_code == 200, export.text
    (row,) = export.json()["rows"]
    assert (Decimal(row["adjusted"]), row["adjustments"]) == (700, 2)

    # Reopening: admin and a reason; later changes count in November again.
    no_reason = await s.client.post("/v1/closes/2026-11/reopen", json={}, headers=s.auth())
    assert no_reason.status_code == 422, no_reason.text
    assert [f["field"] for f in no_reason.json()["error"]["fields"]] == ["reason"]
    denied = await s.client.post(
        "/v1/closes/2026-11/reopen", json={"reason": "x"}, headers=s.auth(reader)
    )
    assert denied.status_code == 403, denied.text
    not_closed = await s.client.post(
        "/v1/closes/2026-10/reopen", json={"reason": "x"}, headers=s.auth()
    )
    assert not_closed.status_code == 404, not_closed.text
    reopened = await s.client.post(
        "/v1/closes/2026-11/reopen", json={"reason": "客户退款重算"}, headers=s.auth()
    )
    assert reopened.status_code == 200, reopened.text
    assert (reopened.json()["status"], reopened.json()["reopen_reason"]) == (
        "reopened",
        "客户退款重算",
    )
    await post_at(
        s,
        clock,
        datetime.fromisoformat("2026-12-03T12:00:00+08:00"),
        [deal("C", 1, "2026-11-26", "30")],
    )
    assert Decimal((await revenue(s, "2026-11"))["actual"]) == 1030
    assert Decimal((await revenue(s, "2026-12"))["actual"]) == 700  # booked adjustments stay
    listing = await s.client.get("/v1/closes", headers=s.auth())
    assert listing.status_code == 200, listing.text
    assert (listing.json()["closed"], [c["status"] for c in listing.json()["closes"]]) == (
        [],
        ["reopened"],
    )

    # Both were audited, with who and why.
    resp = await s.client.get("/v1/audit", headers=s.auth())
    assert resp.status_code == 200, resp.text
    actions = [(e["action"], e["target"]) for e in resp.json()["items"]]
    assert ("periods.close", "period:2026-11") in actions
    assert ("periods.reopen", "period:2026-11") in actions


async def test_restate_policy_moves_the_closed_month_and_lists_it(clocked_both: Clocked) -> None:
    s, clock = clocked_both
    await post_at(s, clock, IN_NOVEMBER, [deal("A", 1, "2026-11-20", "1000")])
    clock.set(TODAY)
    resp = await s.client.put("/v1/settings", json={"close_policy": "restate"}, headers=s.auth())
    assert resp.status_code == 200, resp.text
    assert resp.json()["close_policy"] == "restate"
    resp = await s.client.post("/v1/closes", json={"period": "2026-11"}, headers=s.auth())
    assert (resp.status_code, resp.json()["policy"]) == (201, "restate")
    await post_at(s, clock, AFTER_CLOSE, [deal("A", 2, "2026-11-20", "1500")])
    assert Decimal((await revenue(s, "2026-11"))["actual"]) == 1500
    assert Decimal((await revenue(s, "2026-12"))["actual"]) == 0
    resp = await s.client.get(
        "/v1/adjustments", params={"source_period": "2026-11"}, headers=s.auth()
    )
    rows = [
        (i["kind"], i["record_id"], i["booked_period"], Decimal(i["value"]))
        for i in resp.json()["items"]
        if i["kpi"] == "revenue" and i["measure"] == 0
    ]
    assert rows == [("restate", "A", "2026-11", Decimal(500))]
