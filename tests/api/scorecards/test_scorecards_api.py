"""Role templates (``/v1/role-templates``), scorecards (``GET /v1/scorecards``) and
leaderboards (``GET /v1/leaderboard``), with every score computed by hand.

The stacks run on a fixed clock ("today" is 26 November 2026) so the targets are
recorded before the ``as_of`` the scorecards are read at.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from paceline.shared.clock import FixedClock
from tests.support import Stack

pytestmark = pytest.mark.dates

TODAY = datetime.fromisoformat("2026-11-26T10:00:00+08:00")
AFTER_NOVEMBER = "2026-12-01T00:00:00+08:00"
ORG: dict[str, Any] = {
    "teams": [
        {"id": "sales", "name": "Sales"},
        {"id": "north", "name": "North", "parent_id": "sales"},
        {"id": "south", "name": "South", "parent_id": "sales"},
    ],
    "reps": [
        {"id": "r1", "name": "Ann", "team_id": "north", "role": "account_manager"},
        {"id": "r2", "name": "Bo", "team_id": "north", "role": "account_manager"},
        {"id": "r3", "name": "Cy", "team_id": "north", "role": "account_manager"},
        {"id": "r4", "name": "Di", "team_id": "north", "role": "account_manager"},
        {"id": "p1", "name": "Ed", "team_id": "south", "role": "presales"},
        {"id": "p2", "name": "Flo", "team_id": "south", "role": "presales"},
    ],
}
AM_ITEMS = [
    ("revenue", "result", 40),
    ("new_customers", "result", 20),
    ("visits", "process", 15),
    ("win_rate", "process", 15),
    ("crm_active_days", "capability", 10),
]
Clocked = tuple[Stack, FixedClock]


# -- helpers ------------------------------------------------------------------------------


async def load_org(s: Stack) -> None:
    """PUT /v1/org."""
    resp = await s.client.put("/v1/org", json=ORG, headers=s.auth())
    assert resp.status_code == 200, resp.text


async def target(
    s: Stack,
    kpi: str,
    scope: str,
    value: str,
    *,
    baseline: str | None = None,
    stretch: str | None = None,
    period: str = "2026-11",
) -> None:
    """POST /v1/targets."""
    payload: dict[str, Any] = {"kpi": kpi, "scope": scope, "period": period, "target": value}
    if baseline is not None:
        payload["baseline"] = baseline
    if stretch is not None:
        payload["stretch"] = stretch
    resp = await s.client.post("/v1/targets", json=payload, headers=s.auth())
    assert resp.status_code == 201, resp.text


def deal(deal_id: str, rep: str, day: str, amount: str, stage: str = "won") -> dict[str, Any]:
    """A deal closed at 10:00 Beijing time."""
    return {
        "event_id": deal_id,
        "type": "deal",
        "occurred_at": f"{day}T10:00:00+08:00",
        "rep_id": rep,
        "stage": stage,
        "amount": amount,
    }


def visits(rep: str, count: int, *, day: str = "2026-11-10") -> list[dict[str, Any]]:
    """``count`` visits by a rep on one day (a minute apart)."""
    return [
        {
            "event_id": f"v-{rep}-{day}-{n}",
            "type": "visit",
            "occurred_at": f"{day}T{9 + n // 60:02d}:{n % 60:02d}:00+08:00",
            "rep_id": rep,
            "channel": "phone",
        }
        for n in range(count)
    ]


def complaint(event_id: str, rep: str, day: str, hours: int) -> dict[str, Any]:
    """A complaint first answered ``hours`` after it was opened."""
    return {
        "event_id": event_id,
        "type": "complaint",
        "occurred_at": f"{day}T08:00:00+08:00",
        "opened_at": f"{day}T08:00:00+08:00",
        "first_response_at": f"{day}T{8 + hours:02d}:00:00+08:00",
        "rep_id": rep,
        "customer_id": f"cust-{event_id}",
    }


async def post_scored(s: Stack, events: list[dict[str, Any]]) -> None:
    """POST events (all accepted) and wait until they are scored."""
    resp = await s.post_events(events)
    assert resp.status_code == 202, resp.text
    assert resp.json()["accepted"] == len(events), resp.text
    await s.wait_scored()


async def scorecard(s: Stack, scope: str, **params: str) -> dict[str, Any]:
    """GET /v1/scorecards for 2026-11 read after the month (200 required)."""
    query = {"scope": scope, "period": "2026-11", "as_of": AFTER_NOVEMBER, **params}
    resp = await s.client.get("/v1/scorecards", params=query, headers=s.auth())
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


async def leaderboard(s: Stack, team: str, **params: str) -> dict[str, Any]:
    """GET /v1/leaderboard for 2026-11 read after the month (200 required)."""
    query = {"team": team, "period": "2026-11", "as_of": AFTER_NOVEMBER, **params}
    resp = await s.client.get("/v1/leaderboard", params=query, headers=s.auth())
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


def items(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Scorecard items by KPI."""
    return {i["kpi"]: i for i in card["items"]}


def d(value: str | None) -> Decimal | None:
    """A JSON decimal as a Decimal."""
    return None if value is None else Decimal(value)


def q(value: Decimal) -> Decimal:
    """Rounded as the API rounds (4 places)."""
    return value.quantize(Decimal("0.0001"))


def assert_error(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The stable error shape with this status and code."""
    assert resp.status_code == status, resp.text
    err: dict[str, Any] = resp.json()["error"]
    assert (err["status"], err["code"]) == (status, code)
    return err


def template_body(*items: tuple[str, int | str], name: str = "Hunter") -> dict[str, Any]:
    """A PUT /v1/role-templates body."""
    return {
        "name_zh": "猎手",
        "name_en": name,
        "items": [{"kpi": k, "weight": str(w)} for k, w in items],
    }


# -- role templates -----------------------------------------------------------------------


async def test_builtin_templates_mix_60_30_10(clocked: Clocked) -> None:
    s, _clock = clocked
    resp = await s.client.get("/v1/role-templates", headers=s.auth())
    assert resp.status_code == 200, resp.text
    templates = resp.json()
    assert [t["key"] for t in templates] == ["account_manager", "channel_manager", "presales"]
    for t in templates:
        assert t["builtin"] is True
        assert set(t["names"]) == {"zh-CN", "en"}
        assert sum(Decimal(i["weight"]) for i in t["items"]) == 100, t
        assert {k: Decimal(v) for k, v in t["mix"].items()} == {
            "result": 60,
            "process": 30,
            "capability": 10,
        }, t
        assert len(t["items"]) <= 5
    am = templates[0]
    assert am["names"] == {"zh-CN": "客户经理", "en": "Account manager"}
    assert [(i["kpi"], i["category"], Decimal(i["weight"])) for i in am["items"]] == [
        (k, c, Decimal(w)) for k, c, w in AM_ITEMS
    ]
    one = await s.client.get("/v1/role-templates/presales", headers=s.auth())
    assert one.status_code == 200, one.text
    assert one.json() == templates[2]
    assert_error(
        await s.client.get("/v1/role-templates/nothing_here", headers=s.auth()), 404, "not_found"
    )


@pytest.mark.parametrize(
    ("items", "field", "reason"),
    [
        ((("revenue", 50), ("visits", 40)), "items", "权重合计为 90，而不是 100"),
        ((("revenue", 60), ("visits", 50)), "items", "权重合计为 110，而不是 100"),
        ((("revenue", 50), ("revenue", 50)), "items", "不止一次"),
        ((("revenue", 50), ("happiness", 50)), "items[1].kpi", "happiness"),
        ((("revenue", 100), ("visits", 0)), "items[1].weight", ""),
    ],
)
async def test_bad_templates_answer_422(
    clocked: Clocked, items: tuple[tuple[str, int], ...], field: str, reason: str
) -> None:
    s, _clock = clocked
    resp = await s.client.put(
        "/v1/role-templates/hunter",
        json=template_body(*items),
        headers=s.auth(),  # the tenant's language (zh-CN)
    )
    err = assert_error(resp, 422, "invalid_input")
    named = {f["field"]: f["reason"] for f in err["fields"]}
    assert field in named, err
    assert reason in named[field]
    missing = await s.client.get("/v1/role-templates/hunter", headers=s.auth())
    assert_error(missing, 404, "not_found")


async def test_custom_templates_put_get_delete(clocked: Clocked) -> None:
    s, _clock = clocked
    body = template_body(("revenue", "50.5"), ("visits", "29.5"), ("training_pass_rate", 20))
    resp = await s.client.put("/v1/role-templates/hunter", json=body, headers=s.auth())
    assert resp.status_code == 200, resp.text
    hunter = resp.json()
    assert (hunter["key"], hunter["builtin"]) == ("hunter", False)
    assert hunter["names"] == {"zh-CN": "猎手", "en": "Hunter"}
    assert {k: Decimal(v) for k, v in hunter["mix"].items()} == {
        "result": Decimal("50.5"),
        "process": Decimal("29.5"),
        "capability": Decimal(20),
    }
    listed = await s.client.get("/v1/role-templates", headers=s.auth())
    assert [t["key"] for t in listed.json()] == [
        "account_manager",
        "channel_manager",
        "presales",
        "hunter",
    ]
    # Replaced by a second PUT.
    body = template_body(("revenue", 70), ("visits", 30), name="Hunter 2")
    resp = await s.client.put("/v1/role-templates/hunter", json=body, headers=s.auth())
    assert resp.status_code == 200, resp.text
    got = await s.client.get("/v1/role-templates/hunter", headers=s.auth())
    assert got.json()["names"]["en"] == "Hunter 2"
    assert [(i["kpi"], Decimal(i["weight"])) for i in got.json()["items"]] == [
        ("revenue", 70),
        ("visits", 30),
    ]
    resp = await s.client.delete("/v1/role-templates/hunter", headers=s.auth())
    assert resp.status_code == 204, resp.text
    assert_error(
        await s.client.get("/v1/role-templates/hunter", headers=s.auth()), 404, "not_found"
    )
    assert_error(
        await s.client.delete("/v1/role-templates/hunter", headers=s.auth()), 404, "not_found"
    )
    # A built-in cannot be deleted, but a tenant may override it and go back.
    assert_error(
        await s.client.delete("/v1/role-templates/presales", headers=s.auth()), 409, "conflict"
    )
    body = template_body(("revenue", 80), ("visits", 20), name="My AM")
    resp = await s.client.put("/v1/role-templates/account_manager", json=body, headers=s.auth())
    assert resp.status_code == 200, resp.text
    listed = (await s.client.get("/v1/role-templates", headers=s.auth())).json()
    assert (listed[0]["key"], listed[0]["builtin"], listed[0]["names"]["en"]) == (
        "account_manager",
        False,
        "My AM",
    )
    assert len(listed) == 3
    resp = await s.client.delete("/v1/role-templates/account_manager", headers=s.auth())
    assert resp.status_code == 204, resp.text
    restored = await s.client.get("/v1/role-templates/account_manager", headers=s.auth())
    assert (restored.json()["builtin"], restored.json()["names"]["en"]) == (
        True,
        "Account manager",
    )


# -- rep scorecards -----------------------------------------------------------------------


async def test_rep_scorecard_with_two_targets(clocked_both: Clocked) -> None:
    s, clock = clocked_both
    # Set before November, so they are in force at any as_of in the month.
    clock.set(datetime.fromisoformat("2026-10-28T10:00:00+08:00"))
    await target(s, "revenue", "rep:r1", "10000", baseline="8000", stretch="12000")
    await target(s, "visits", "rep:r1", "20", baseline="15", stretch="25")
    await post_scored(
        s,
        [
            deal("r1-a", "r1", "2026-11-03", "5000"),
            deal("r1-b", "r1", "2026-11-18", "3500"),
            deal("r1-dec", "r1", "2026-12-02", "99999"),  # another month
            *visits("r1", 40),
        ],
    )
    clock.set(TODAY)  # the events were received before every as_of read below
    card = await scorecard(s, "rep:r1")
    assert (card["scope"], card["period"], card["template"]) == (
        "rep:r1",
        "2026-11",
        "account_manager",
    )
    assert card["template_names"] == {"zh-CN": "客户经理", "en": "Account manager"}
    assert [(i["kpi"], i["category"], d(i["weight"])) for i in card["items"]] == [
        (k, c, Decimal(w)) for k, c, w in AM_ITEMS
    ]
    by_kpi = items(card)
    # revenue: 5000 + 3500 = 8500 of 10000 -> attainment 0.85; 8000 <= 8500 < 10000: baseline met
    rev = by_kpi["revenue"]
    assert (d(rev["actual"]), d(rev["target"]), d(rev["attainment"])) == (
        Decimal(8500),
        Decimal(10000),
        Decimal("0.85"),
    )
    assert (rev["status"], rev["tier"], rev["unit"], rev["direction"]) == (
        "scored",
        "baseline_met",
        "currency",
        "higher",
    )
    assert (d(rev["baseline"]), d(rev["stretch"])) == (Decimal(8000), Decimal(12000))
    # visits: 40 of 20 -> 2.0, capped at 1.5; 40 >= stretch 25: stretch met
    vis = by_kpi["visits"]
    assert (d(vis["actual"]), d(vis["attainment"]), vis["tier"], vis["sample"]) == (
        Decimal(40),
        Decimal("1.5"),
        "stretch_met",
        40,
    )
    # The KPIs without a target are listed, not scored.
    for key in ("new_customers", "win_rate", "crm_active_days"):
        item = by_kpi[key]
        assert (item["status"], item["target"], item["attainment"], item["tier"]) == (
            "no_target",
            None,
            None,
            None,
        ), item
    # coverage = (40 + 15) / 100 = 0.55
    assert d(card["coverage"]) == Decimal("0.55")
    # score = (40 * 0.85 + 15 * 1.5) / (40 + 15) * 100 = 56.5 / 55 * 100 = 102.7272...
    assert d(card["score"]) == q(Decimal("56.5") / Decimal(55) * 100) == Decimal("102.7273")
    # tier: score >= 100; stretch line = (40 * 1.2 + 15 * 1.25) / 55 * 100 = 121.36 not reached
    assert card["tier"] == "target_met"

    # Mid-month the attainment is "attained so far" against the whole month's target.
    mid = await scorecard(s, "rep:r1", as_of="2026-11-10T00:00:00+08:00")
    mid_rev = items(mid)["revenue"]
    # only the deal of 3 November: 5000 / 10000 = 0.5; visits on the 10th not yet counted
    assert (d(mid_rev["actual"]), d(mid_rev["attainment"]), mid_rev["tier"]) == (
        Decimal(5000),
        Decimal("0.5"),
        "below_baseline",
    )
    assert (d(items(mid)["visits"]["actual"]), d(items(mid)["visits"]["attainment"])) == (0, 0)
    # score = (40 * 0.5 + 15 * 0) / 55 * 100 = 36.3636...
    assert d(mid["score"]) == Decimal("36.3636")
    assert mid["tier"] == "below_baseline"


async def test_tiers_on_crafted_numbers(clocked: Clocked) -> None:
    s, _clock = clocked
    # Every rep: revenue target 10000, baseline 8000, stretch 12000 (and nothing else).
    for rep in ("r1", "r2", "r3", "r4"):
        await target(s, "revenue", f"rep:{rep}", "10000", baseline="8000", stretch="12000")
    await post_scored(
        s,
        [
            deal("a", "r1", "2026-11-05", "10000"),  # exactly the target
            deal("b", "r2", "2026-11-05", "7999.99"),  # just below the baseline
            deal("c", "r3", "2026-11-05", "8000"),  # exactly the baseline
            deal("e", "r4", "2026-11-05", "12500"),  # beyond the stretch
        ],
    )
    expected = {
        # rep: (attainment, KPI tier, score, card tier)
        "r1": (Decimal(1), "target_met", Decimal(100), "target_met"),
        "r2": (Decimal("0.799999"), "below_baseline", Decimal("79.9999"), "below_baseline"),
        "r3": (Decimal("0.8"), "baseline_met", Decimal(80), "baseline_met"),
        "r4": (Decimal("1.25"), "stretch_met", Decimal(125), "stretch_met"),
    }
    for rep, (att, kpi_tier, score, card_tier) in expected.items():
        card = await scorecard(s, f"rep:{rep}")
        rev = items(card)["revenue"]
        assert (d(rev["attainment"]), rev["tier"]) == (q(att), kpi_tier), rep
        # Only revenue (weight 40) is scored: score = attainment * 100, coverage 0.4.
        assert (d(card["score"]), card["tier"], d(card["coverage"])) == (
            q(score),
            card_tier,
            Decimal("0.4"),
        ), rep


async def test_card_tier_agrees_with_a_stretch_beyond_the_cap(clocked: Clocked) -> None:
    s, _clock = clocked
    await target(s, "revenue", "rep:r1", "1000", stretch="2000")
    await post_scored(s, [deal("big", "r1", "2026-11-05", "1600")])
    card = await scorecard(s, "rep:r1")
    rev = items(card)["revenue"]
    # 1600 / 1000 = 1.6 -> capped at 1.5; 1600 < stretch 2000: target met, not stretch met
    assert (d(rev["attainment"]), rev["tier"]) == (Decimal("1.5"), "target_met")
    assert card["tier"] == "target_met"


async def test_lower_is_better_attainment_is_target_over_actual(clocked: Clocked) -> None:
    s, _clock = clocked
    # presales: deals_won 30, gross_margin_rate 30, response_hours 15, csat 15, training 10
    await target(s, "response_hours", "rep:p1", "4", baseline="6", stretch="3")
    await target(s, "response_hours", "rep:p2", "4", baseline="6", stretch="3")
    await target(s, "csat", "rep:p1", "4")
    await post_scored(
        s,
        [
            # p1: (3 + 5 + 7) / 3 = 5 hours
            complaint("c1", "p1", "2026-11-03", 3),
            complaint("c2", "p1", "2026-11-04", 5),
            complaint("c3", "p1", "2026-11-05", 7),
            # p2: (1 + 2 + 3) / 3 = 2 hours
            complaint("c4", "p2", "2026-11-03", 1),
            complaint("c5", "p2", "2026-11-04", 2),
            complaint("c6", "p2", "2026-11-05", 3),
            # p1: two surveys, below csat's minimum sample of 5
            {
                "event_id": "s1",
                "type": "survey",
                "occurred_at": "2026-11-06T10:00:00+08:00",
                "rep_id": "p1",
                "score": 5,
            },
            {
                "event_id": "s2",
                "type": "survey",
                "occurred_at": "2026-11-07T10:00:00+08:00",
                "rep_id": "p1",
                "score": 4,
            },
        ],
    )
    p1 = await scorecard(s, "rep:p1")
    assert p1["template"] == "presales"  # the rep's role
    hours = items(p1)["response_hours"]
    # attainment = target / actual = 4 / 5 = 0.8; 5 <= baseline 6: baseline met
    assert (d(hours["actual"]), d(hours["attainment"]), hours["tier"], hours["direction"]) == (
        Decimal(5),
        Decimal("0.8"),
        "baseline_met",
        "lower",
    )
    csat = items(p1)["csat"]
    assert (csat["status"], d(csat["actual"]), csat["sample"], csat["attainment"]) == (
        "insufficient_data",
        Decimal("4.5"),
        2,
        None,
    )
    # Only response_hours (15) is scored: score 80, coverage 0.15.
    assert (d(p1["score"]), p1["tier"], d(p1["coverage"])) == (
        Decimal(80),
        "baseline_met",
        Decimal("0.15"),
    )
    p2 = await scorecard(s, "rep:p2")
    hours = items(p2)["response_hours"]
    # 4 / 2 = 2.0, capped at 1.5; 2 <= stretch 3: stretch met
    assert (d(hours["attainment"]), hours["tier"]) == (Decimal("1.5"), "stretch_met")
    assert (d(p2["score"]), p2["tier"]) == (Decimal(150), "stretch_met")


async def test_template_parameter_and_errors(clocked: Clocked) -> None:
    s, _clock = clocked
    await target(s, "deals_won", "rep:r1", "4")
    await post_scored(s, [deal(f"w{n}", "r1", f"2026-11-0{n + 2}", "10") for n in range(3)])
    # r1 is an account manager; read against the presales template instead.
    card = await scorecard(s, "rep:r1", template="presales")
    assert card["template"] == "presales"
    won = items(card)["deals_won"]
    # 3 of 4 -> 0.75, weight 30 of 100 scored
    assert (d(won["actual"]), d(won["attainment"]), won["tier"]) == (
        Decimal(3),
        Decimal("0.75"),
        "below_baseline",
    )
    assert (d(card["score"]), d(card["coverage"])) == (Decimal(75), Decimal("0.3"))
    # A team card with an unknown template is refused.
    resp = await s.client.get(
        "/v1/scorecards",
        params={"scope": "team:north", "period": "2026-11", "template": "nope_tpl"},
        headers=s.auth(),
    )
    assert [f["field"] for f in assert_error(resp, 422, "invalid_input")["fields"]] == ["template"]
    resp = await s.client.get(
        "/v1/scorecards", params={"scope": "rep:ghost", "period": "2026-11"}, headers=s.auth()
    )
    assert "ghost" in assert_error(resp, 404, "not_found")["message"]
    resp = await s.client.get(
        "/v1/scorecards", params={"scope": "rep:r1", "period": "2026-13"}, headers=s.auth()
    )
    assert [f["field"] for f in assert_error(resp, 422, "invalid_input")["fields"]] == ["period"]


async def test_unknown_template_for_a_rep_answers_422(clocked: Clocked) -> None:
    s, _clock = clocked
    resp = await s.client.get(
        "/v1/scorecards",
        params={"scope": "rep:r1", "period": "2026-11", "template": "nope_tpl"},
        headers=s.auth(),
    )
    assert [f["field"] for f in assert_error(resp, 422, "invalid_input")["fields"]] == ["template"]


# -- leaderboards and team scorecards -----------------------------------------------------


async def test_leaderboard_ranks_by_score_and_by_kpi(clocked: Clocked) -> None:
    s, _clock = clocked
    for rep in ("r1", "r2", "r3", "r4"):
        await target(s, "revenue", f"rep:{rep}", "10000")
    await post_scored(
        s,
        [
            deal("a", "r1", "2026-11-05", "9000"),  # 0.9 -> 90
            deal("b", "r2", "2026-11-05", "12000"),  # 1.2 -> 120
            deal("c", "r3", "2026-11-05", "3000"),  # 0.3 -> 30
            # r4: no revenue -> 0
            *visits("r1", 2),
            *visits("r2", 1),
            *visits("r3", 7),
            *visits("r4", 4),
            *visits("p1", 50),  # another team
        ],
    )
    board = await leaderboard(s, "north")
    assert (board["team"], board["period"], board["kpi"]) == ("north", "2026-11", None)
    rows = board["rows"]
    assert [(r["rank"], r["rep_id"], r["name"]) for r in rows] == [
        (1, "r2", "Bo"),
        (2, "r1", "Ann"),
        (3, "r3", "Cy"),
        (4, "r4", "Di"),
    ]
    assert [d(r["score"]) for r in rows] == [Decimal(120), Decimal(90), Decimal(30), Decimal(0)]
    assert [r["tier"] for r in rows] == [
        "target_met",  # 120 >= 100 (no stretch set)
        "below_baseline",
        "below_baseline",
        "below_baseline",
    ]
    assert {d(r["coverage"]) for r in rows} == {Decimal("0.4")}

    # By visits: 7, 4, 2, 1.
    board = await leaderboard(s, "north", kpi="visits")
    assert board["kpi"] == "visits"
    assert [(r["rank"], r["rep_id"], d(r["kpi_actual"])) for r in board["rows"]] == [
        (1, "r3", Decimal(7)),
        (2, "r4", Decimal(4)),
        (3, "r1", Decimal(2)),
        (4, "r2", Decimal(1)),
    ]
    assert {r["kpi_attainment"] for r in board["rows"]} == {None}  # no visits targets
    # A KPI outside the template is ranked all the same (deals_won: r1, r2, r3 one each).
    board = await leaderboard(s, "north", kpi="deals_won")
    assert [(r["rep_id"], d(r["kpi_actual"])) for r in board["rows"]] == [
        ("r1", Decimal(1)),
        ("r2", Decimal(1)),
        ("r3", Decimal(1)),
        ("r4", Decimal(0)),
    ]
    # The parent team includes the sub-teams' reps (by score: p1 and p2 have no target).
    board = await leaderboard(s, "sales")
    assert [r["rep_id"] for r in board["rows"]] == ["r2", "r1", "r3", "r4", "p1", "p2"]
    assert [r["score"] for r in board["rows"]][4:] == [None, None]
    # Errors.
    resp = await s.client.get(
        "/v1/leaderboard", params={"team": "nowhere", "period": "2026-11"}, headers=s.auth()
    )
    assert_error(resp, 404, "not_found")
    resp = await s.client.get(
        "/v1/leaderboard",
        params={"team": "north", "period": "2026-11", "kpi": "happiness"},
        headers=s.auth(),
    )
    assert_error(resp, 404, "not_found")


async def test_leaderboard_by_kpi_in_a_team_mixing_roles(clocked: Clocked) -> None:
    s, _clock = clocked
    # "sales" holds account managers (visits in their template) and presales (not).
    await post_scored(s, [*visits("r3", 7), *visits("r1", 2), *visits("p1", 50)])
    board = await leaderboard(s, "sales", kpi="visits")
    assert [(r["rep_id"], r["kpi_actual"]) for r in board["rows"]][:3] == [
        ("p1", "50.0000"),
        ("r3", "7.0000"),
        ("r1", "2.0000"),
    ]


async def test_team_scorecard_against_team_targets(clocked: Clocked) -> None:
    s, _clock = clocked
    # Team targets (the reps' own targets do not matter here).
    await target(s, "revenue", "team:north", "40000", baseline="30000", stretch="50000")
    await target(s, "visits", "team:north", "10")
    await target(s, "win_rate", "team:north", "0.5")
    await target(s, "revenue", "rep:r1", "1")  # a rep target: not used by the team card
    await post_scored(
        s,
        [
            deal("a", "r1", "2026-11-05", "20000"),
            deal("b", "r2", "2026-11-06", "16000"),
            deal("c", "r3", "2026-11-07", "1", stage="lost"),
            deal("x", "p1", "2026-11-07", "50000"),  # team south
            *visits("r1", 3),
            *visits("r4", 5),
        ],
    )
    card = await scorecard(s, "team:north")
    assert (card["scope"], card["template"]) == ("team:north", "account_manager")
    by_kpi = items(card)
    # revenue: 20000 + 16000 = 36000 of 40000 -> 0.9; 30000 <= 36000 < 40000: baseline met
    assert (d(by_kpi["revenue"]["actual"]), d(by_kpi["revenue"]["attainment"])) == (
        Decimal(36000),
        Decimal("0.9"),
    )
    assert by_kpi["revenue"]["tier"] == "baseline_met"
    # visits: 3 + 5 = 8 of 10 -> 0.8
    assert (d(by_kpi["visits"]["actual"]), d(by_kpi["visits"]["attainment"])) == (
        Decimal(8),
        Decimal("0.8"),
    )
    # win_rate: 2 won / 3 closed, below the minimum sample of 5
    assert (by_kpi["win_rate"]["status"], by_kpi["win_rate"]["sample"]) == (
        "insufficient_data",
        3,
    )
    assert by_kpi["new_customers"]["status"] == "no_target"
    # score = (40 * 0.9 + 15 * 0.8) / 55 * 100 = 48 / 55 * 100 = 87.2727...
    assert d(card["score"]) == Decimal("87.2727")
    assert d(card["coverage"]) == Decimal("0.55")
    # tier: the baseline line is (40 * 0.75 + 15 * 1) / 55 * 100 = 81.82 <= 87.27 < 100
    assert card["tier"] == "baseline_met"
    # The company has no targets: nothing is scored.
    company = await scorecard(s, "company")
    assert (company["score"], company["tier"], d(company["coverage"])) == (None, None, 0)
    assert d(items(company)["revenue"]["actual"]) == Decimal(86000)
