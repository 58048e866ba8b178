"""Plans that keep their sums: revising a target with children keeps them (and a
``plan_mismatch`` finding says by how much they no longer add up, in the target API and
the SMART check) or re-splits them (preview first, then new versions with the same reason).

The user's case: company revenue for 2026 split into quarters, Q4 into months; Q4 revised.
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

# Thursday 26 November 2026 in Beijing: Q4 and the year have started (a reason is needed).
TODAY = datetime.fromisoformat("2026-11-26T10:00:00+08:00")
ORG: dict[str, Any] = {
    "teams": [{"id": "north", "name": "North"}, {"id": "south", "name": "South"}],
    "reps": [
        {"id": "r1", "name": "Ann", "team_id": "north", "role": "account_manager"},
        {"id": "r2", "name": "Bo", "team_id": "north", "role": "account_manager"},
        {"id": "r3", "name": "Cy", "team_id": "south", "role": "presales"},
    ],
}

Clocked = tuple[Stack, FixedClock]


# -- helpers ------------------------------------------------------------------------------


async def create(s: Stack, **body: Any) -> dict[str, Any]:
    """POST /v1/targets, 201 required."""
    resp = await s.client.post("/v1/targets", json=body, headers=s.auth())
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


async def get(s: Stack, target_id: int) -> dict[str, Any]:
    """GET /v1/targets/{id}, 200 required."""
    resp = await s.client.get(f"/v1/targets/{target_id}", headers=s.auth())
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


async def put(s: Stack, target_id: int, **body: Any) -> httpx.Response:
    """PUT /v1/targets/{id}."""
    return await s.client.put(f"/v1/targets/{target_id}", json=body, headers=s.auth())


async def preview(s: Stack, target_id: int, **body: Any) -> httpx.Response:
    """POST /v1/targets/{id}/revision-preview."""
    return await s.client.post(
        f"/v1/targets/{target_id}/revision-preview", json=body, headers=s.auth()
    )


async def check(s: Stack, **body: Any) -> dict[str, Any]:
    """POST /v1/plans/check, 200 required."""
    resp = await s.client.post("/v1/plans/check", json=body, headers=s.auth())
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


def mismatches(findings: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The plan_mismatch findings' params by parent target id."""
    out = {}
    for f in findings:
        if f["rule"] == "plan_mismatch":
            assert f["code"] == "plan_mismatch"
            assert f["severity"] == "warning"
            assert str(f["params"]["target_id"]) in f["fix"]
            out[f["params"]["target_id"]] = f["params"]
    return out


def assert_invalid(resp: httpx.Response, *fields: str) -> None:
    """422 naming exactly these fields."""
    assert resp.status_code == 422, resp.text
    err = resp.json()["error"]
    assert err["code"] == "invalid_input"
    assert sorted(f["field"] for f in err["fields"]) == sorted(fields), err


async def year_plan(s: Stack) -> dict[str, Any]:
    """Company revenue 2026: 12,000,000 in four quarters of 3,000,000; Q4 in three months
    of 1,000,000. Ids by period."""
    year = await create(s, kpi="revenue", scope="company", period="2026", target="12000000")
    ids = {"2026": year["id"]}
    for q in range(1, 5):
        quarter = await create(
            s,
            kpi="revenue",
            scope="company",
            period=f"2026-Q{q}",
            target="3000000",
            parent_id=year["id"],
        )
        ids[f"2026-Q{q}"] = quarter["id"]
    for m in ("10", "11", "12"):
        month = await create(
            s,
            kpi="revenue",
            scope="company",
            period=f"2026-{m}",
            target="1000000",
            parent_id=ids["2026-Q4"],
        )
        ids[f"2026-{m}"] = month["id"]
    return ids


# -- the user's case ----------------------------------------------------------------------


async def test_keep_children_raises_plan_mismatch_everywhere(clocked_both: Clocked) -> None:
    s, _clock = clocked_both
    ids = await year_plan(s)
    assert mismatches((await check(s, scope="company", period="2026"))["findings"]) == {}
    assert (await get(s, ids["2026"]))["findings"] == []

    resp = await put(s, ids["2026-Q4"], target="4140000", reason="board raised Q4")
    assert resp.status_code == 200, resp.text
    revised = resp.json()
    assert (revised["version"], revised["children_revised"]) == (2, [])
    # Q4's months still sum to the old Q4.
    q4 = {
        "target_id": ids["2026-Q4"],
        "scope": "company",
        "period": "2026-Q4",
        "split": "time",
        "children_period_kind": "month",
        "children": 3,
        "parent_value": "4140000",
        "children_sum": "3000000",
        "difference": "1140000",
    }
    assert mismatches(revised["findings"]) == {ids["2026-Q4"]: q4}
    # The year is 1.14M short of its quarters.
    year = {
        "target_id": ids["2026"],
        "scope": "company",
        "period": "2026",
        "split": "time",
        "children_period_kind": "quarter",
        "children": 4,
        "parent_value": "12000000",
        "children_sum": "13140000",
        "difference": "-1140000",
    }
    assert mismatches((await get(s, ids["2026"]))["findings"]) == {ids["2026"]: year}
    assert mismatches((await get(s, ids["2026-Q4"]))["findings"]) == {ids["2026-Q4"]: q4}
    assert (await get(s, ids["2026-10"]))["findings"] == []
    listed = await s.client.get("/v1/targets", params={"kpi": "revenue"}, headers=s.auth())
    by_id = {t["id"]: mismatches(t["findings"]) for t in listed.json()}
    assert by_id[ids["2026"]] == {ids["2026"]: year}
    assert by_id[ids["2026-Q4"]] == {ids["2026-Q4"]: q4}
    assert all(not v for k, v in by_id.items() if k not in (ids["2026"], ids["2026-Q4"]))
    [finding] = (await get(s, ids["2026"]))["findings"]
    # In the tenant's language (zh-CN): the company, the KPI's name, ¥ with 万.
    assert finding["message"] == (
        "全公司在2026年的销售额目标为¥1200万，但其 4 个季度子目标合计为¥1314万（差额-¥114万）"
    )
    assert finding["message_code"] == "planning.finding.plan_mismatch"
    assert finding["message_params"]["difference"] == {"$money": "-1140000", "currency": "CNY"}
    assert finding["fix_code"] == "planning.fix.plan_mismatch"
    english = await s.client.get(
        f"/v1/targets/{ids['2026']}", headers={**s.auth(), "Accept-Language": "en"}
    )
    [finding] = english.json()["findings"]
    assert finding["message"] == (
        "the Revenue target of the company for 2026 is CN¥12,000,000.00, but its 4 quarter "
        "children sum to CN¥13,140,000.00 (difference -CN¥1,140,000.00)"
    )

    # The SMART check reports both, by the plan's scope and period or by its targets.
    found = await check(s, scope="company", period="2026")
    assert mismatches(found["findings"]) == {ids["2026"]: year, ids["2026-Q4"]: q4}
    assert found["ok"] is True  # warnings: a plan may keep a buffer on purpose
    assert "plan_mismatch" in found["checked"]["rules"]
    by_target = await check(
        s, targets=[{"kpi": "revenue", "period": "2026-Q4", "target": "4140000"}]
    )
    indexed = {
        f["params"]["target_id"]: f["target_index"]
        for f in by_target["findings"]
        if f["rule"] == "plan_mismatch"
    }
    assert indexed == {ids["2026"]: None, ids["2026-Q4"]: 0}
    # The plan's values stand in for the stored ones: a plan that fixes Q4's months is clean
    # there.
    proposed = await check(
        s,
        scope="company",
        period="2026",
        targets=[
            {"kpi": "revenue", "period": "2026-10", "target": "2140000"},
            {"kpi": "revenue", "period": "2026", "target": "13140000"},
        ],
    )
    assert mismatches(proposed["findings"]) == {}


async def test_resplit_preview_then_apply(clocked_both: Clocked) -> None:
    s, _clock = clocked_both
    ids = await year_plan(s)
    # Months in proportions 2:1:1 of the old Q4.
    await put(s, ids["2026-10"], target="1500000", reason="October is bigger")
    await put(s, ids["2026-11"], target="750000", reason="spread")
    await put(s, ids["2026-12"], target="750000", reason="spread")
    body = {"target": "4140000", "reason": "board raised Q4", "children": "resplit"}

    resp = await preview(s, ids["2026-Q4"], **body)
    assert resp.status_code == 200, resp.text
    plan = resp.json()
    assert (plan["children"], plan["recursive"], plan["places"]) == ("resplit", False, 2)
    assert (Decimal(plan["target"]), Decimal(plan["old_target"])) == (4140000, 3000000)
    changes = {c["period"]: c for c in plan["changes"]}
    assert {p: Decimal(c["target"]) for p, c in changes.items()} == {
        "2026-10": Decimal(2070000),
        "2026-11": Decimal(1035000),
        "2026-12": Decimal(1035000),
    }
    assert sum(Decimal(c["target"]) for c in plan["changes"]) == Decimal(4140000)
    assert {c["split"] for c in plan["changes"]} == {"time"}
    assert [Decimal(c["share"]) for c in plan["changes"]] == [
        Decimal("0.5"),
        Decimal("0.25"),
        Decimal("0.25"),
    ]
    assert all(c["version"] is None and c["depth"] == 1 for c in plan["changes"])
    # What stays: the year short of its quarters (Q4 itself adds up again).
    assert list(mismatches(plan["findings"])) == [ids["2026"]]
    assert mismatches(plan["findings"])[ids["2026"]]["difference"] == "-1140000"
    # Nothing was saved.
    assert (await get(s, ids["2026-Q4"]))["version"] == 1
    assert (await get(s, ids["2026-10"]))["version"] == 2

    resp = await put(s, ids["2026-Q4"], **body)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["findings"] == []
    assert {c["period"]: (Decimal(c["target"]), c["version"]) for c in out["children_revised"]} == {
        p: (Decimal(c["target"]), 3) for p, c in changes.items()
    }
    for month in ("2026-10", "2026-11", "2026-12"):
        t = await get(s, ids[month])
        assert (t["version"], Decimal(t["target"])) == (3, Decimal(changes[month]["target"]))
        assert t["versions"][-1]["reason"] == "board raised Q4"
    found = await check(s, scope="company", period="2026")
    assert list(mismatches(found["findings"])) == [ids["2026"]]

    # The year follows (its quarters kept): the check is clean.
    resp = await put(s, ids["2026"], target="13140000", reason="board raised Q4")
    assert resp.status_code == 200, resp.text
    assert resp.json()["findings"] == []
    assert mismatches((await check(s, scope="company", period="2026"))["findings"]) == {}

    # Every re-split child has its audit entry, with the old and new values.
    resp = await s.client.get("/v1/audit", params={"action": "targets.resplit"}, headers=s.auth())
    entries = {e["target"]: e for e in resp.json()["items"]}
    assert set(entries) == {f"target:{ids[m]}" for m in ("2026-10", "2026-11", "2026-12")}
    october = entries[f"target:{ids['2026-10']}"]
    assert (october["before"]["target"], october["after"]["target"]) == ("1500000", "2070000")
    assert october["after"]["from_target"] == ids["2026-Q4"]


async def test_recursive_resplit_down_every_level(clocked: Clocked) -> None:
    s, _clock = clocked
    ids = await year_plan(s)
    resp = await preview(
        s, ids["2026"], target="10000000", reason="cut", children="resplit", recursive=True
    )
    assert resp.status_code == 200, resp.text
    plan = resp.json()
    assert {c["period"]: c["depth"] for c in plan["changes"]} == {
        "2026-Q1": 1,
        "2026-Q2": 1,
        "2026-Q3": 1,
        "2026-Q4": 1,
        "2026-10": 2,
        "2026-11": 2,
        "2026-12": 2,
    }
    assert plan["findings"] == []
    resp = await put(
        s, ids["2026"], target="10000000", reason="cut", children="resplit", recursive=True
    )
    assert resp.status_code == 200, resp.text
    quarters = [Decimal((await get(s, ids[f"2026-Q{q}"]))["target"]) for q in range(1, 5)]
    # 10,000,000 in four equal parts; Q4's 2,500,000 in three: 833,333.34 + 2 x 833,333.33.
    assert quarters == [Decimal(2500000)] * 4
    months = [Decimal((await get(s, ids[f"2026-{m}"]))["target"]) for m in ("10", "11", "12")]
    assert months == [Decimal("833333.34"), Decimal("833333.33"), Decimal("833333.33")]
    assert sum(months) == quarters[3]
    assert mismatches((await check(s, scope="company", period="2026"))["findings"]) == {}


# -- rounding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kpi", "children", "new", "expected"),
    [
        # Three equal children of 100 CNY: the cent left over goes to one of them.
        ("revenue", ["30", "30", "30"], "100", ["33.34", "33.33", "33.33"]),
        # Counts split in whole numbers.
        ("visits", ["1", "1", "1"], "10", ["4", "3", "3"]),
        # The largest remainders get the units, not the last child.
        ("visits", ["1", "2", "4"], "10", ["1", "3", "6"]),
        # All children at zero: evenly.
        ("revenue", ["0", "0"], "0.01", ["0.01", "0"]),
        # Largest remainders: 1.5 / 0.75 / 0.75 cents become 1 / 1 / 1.
        ("revenue", ["0.5", "0.25", "0.25"], "0.03", ["0.01", "0.01", "0.01"]),
    ],
)
async def test_resplit_rounds_to_exact_sums(
    clocked_both: Clocked, kpi: str, children: list[str], new: str, expected: list[str]
) -> None:
    s, _clock = clocked_both
    parent = await create(s, kpi=kpi, scope="company", period="2027-Q1", target="90")
    kids = [
        await create(
            s, kpi=kpi, scope=f"rep:r{i + 1}", period="2027-Q1", target=v, parent_id=parent["id"]
        )
        for i, v in enumerate(children)
    ]
    resp = await put(s, parent["id"], target=new, children="resplit")
    assert resp.status_code == 200, resp.text
    got = {c["id"]: Decimal(c["target"]) for c in resp.json()["children_revised"]}
    assert [got[k["id"]] for k in kids] == [Decimal(e) for e in expected]
    assert sum(got.values()) == Decimal(new)
    assert {c["split"] for c in resp.json()["children_revised"]} == {"org"}
    assert resp.json()["findings"] == []


async def test_resplit_splits_baseline_and_stretch_in_order(clocked: Clocked) -> None:
    s, _clock = clocked
    parent = await create(s, kpi="revenue", scope="team:north", period="2027", target="300")
    kids = [
        await create(
            s, kpi="revenue", scope=f"rep:{r}", period="2027", target=v, parent_id=parent["id"]
        )
        for r, v in (("r1", "200"), ("r2", "100"))
    ]
    resp = await put(
        s, parent["id"], target="600", baseline="450", stretch="750", children="resplit"
    )
    assert resp.status_code == 200, resp.text
    got = {c["id"]: c for c in resp.json()["children_revised"]}
    first, second = got[kids[0]["id"]], got[kids[1]["id"]]
    values = [
        tuple(Decimal(c[k]) for k in ("baseline", "target", "stretch")) for c in (first, second)
    ]
    assert values == [(300, 400, 500), (150, 200, 250)]
    assert (await get(s, kids[0]["id"]))["versions"][-1]["reason"] == ""


# -- what is not flagged, and bad input ---------------------------------------------------


async def test_ratio_children_are_not_expected_to_sum(clocked_both: Clocked) -> None:
    s, _clock = clocked_both
    parent = await create(s, kpi="win_rate", scope="company", period="2027", target="0.3")
    for r in ("r1", "r2"):
        await create(
            s, kpi="win_rate", scope=f"rep:{r}", period="2027", target="0.3", parent_id=parent["id"]
        )
    assert (await get(s, parent["id"]))["findings"] == []
    assert mismatches((await check(s, scope="company", period="2027"))["findings"]) == {}
    resp = await put(s, parent["id"], target="0.35", children="resplit")
    assert_invalid(resp, "children")
    resp = await put(s, parent["id"], target="0.35")
    assert resp.status_code == 200, resp.text
    assert resp.json()["findings"] == []
    # Distinct counts do not add up either.
    parent = await create(s, kpi="new_customers", scope="company", period="2027", target="10")
    await create(
        s, kpi="new_customers", scope="rep:r1", period="2027", target="3", parent_id=parent["id"]
    )
    assert (await get(s, parent["id"]))["findings"] == []


async def test_org_and_time_children_sum_apart(clocked: Clocked) -> None:
    s, _clock = clocked
    # A team's year with its reps (org) and its halves in quarters (time): each adds up.
    team = await create(s, kpi="deals_won", scope="team:north", period="2027", target="40")
    for r, v in (("r1", "25"), ("r2", "15")):
        await create(
            s, kpi="deals_won", scope=f"rep:{r}", period="2027", target=v, parent_id=team["id"]
        )
    for q in range(1, 5):
        await create(
            s,
            kpi="deals_won",
            scope="team:north",
            period=f"2027-Q{q}",
            target="10",
            parent_id=team["id"],
        )
    assert (await get(s, team["id"]))["findings"] == []
    resp = await put(s, team["id"], target="44", children="resplit")
    assert resp.status_code == 200, resp.text
    by_split: dict[str, list[Decimal]] = {}
    for c in resp.json()["children_revised"]:
        by_split.setdefault(c["split"], []).append(Decimal(c["target"]))
    assert by_split == {"org": [Decimal(28), Decimal(16)], "time": [Decimal(11)] * 4}
    resp = await put(s, team["id"], target="45")
    found = [
        (f["params"]["split"], f["params"]["children_period_kind"], f["params"]["difference"])
        for f in resp.json()["findings"]
    ]
    assert found == [("org", "year", "1"), ("time", "quarter", "1")]


async def test_bad_revisions_name_the_field(clocked_both: Clocked) -> None:
    s, _clock = clocked_both
    ids = await year_plan(s)
    q4 = ids["2026-Q4"]
    for call in (put, preview):
        assert_invalid(await call(s, q4, target="1", reason="x", children="split"), "children")
        assert_invalid(await call(s, q4, target="1", reason="x", recursive=True), "recursive")
        assert_invalid(
            await call(s, q4, target="100.005", reason="x", children="resplit"), "target"
        )
        assert_invalid(
            await call(s, q4, target="100", baseline="0.001", reason="x", children="resplit"),
            "baseline",
        )
        assert_invalid(await call(s, q4, target="100", children="resplit"), "reason")
        assert_invalid(await call(s, q4, target="-1", reason="x"), "target")
    resp = await preview(s, 999999, target="1", reason="x")
    assert resp.status_code == 404, resp.text
    # Nothing changed.
    assert (await get(s, q4))["version"] == 1
