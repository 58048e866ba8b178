"""Incentive plans and assignments through the API: validation that names the field,
versions read as of a moment, assignments that cannot double up, scopes.

(The money of every component is checked against a hand computation in
test_incentives_e2e.py; the arithmetic's properties in tests/shared/kpi/incentives.)
"""

from __future__ import annotations

from copy import deepcopy
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from paceline.shared.auth import generate_key
from paceline.shared.db import tenants as tenant_repo
from tests.conftest import Clocked
from tests.support import Stack

# Every read here is at the pinned clock or an explicit as_of: run again at faked dates.
pytestmark = pytest.mark.dates

TODAY = datetime.fromisoformat("2026-12-10T10:00:00+08:00")
ORG: dict[str, Any] = {
    "teams": [{"id": "north", "name": "North"}],
    "reps": [{"id": "r1", "name": "Ann", "team_id": "north", "role": "account_manager"}],
}
PLAN: dict[str, Any] = {
    "key": "am",
    "name_zh": "客户经理激励",
    "name_en": "Account managers",
    "components": [
        {
            "type": "commission",
            "key": "rev",
            "kpi": "revenue",
            "mode": "retroactive",
            "tiers": [{"from": "0", "rate": "0.02"}, {"from": "1", "rate": "0.05"}],
        },
        {
            "type": "bonus",
            "key": "attain",
            "basis": "revenue",
            "amount": "5000",
            "threshold": "0.8",
            "cap": "1.5",
        },
    ],
}


def broken(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    plan = deepcopy(PLAN)
    node: Any = plan
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return plan


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (
            ("components", 0, "tiers"),
            [{"from": "0", "rate": "0.02"}, {"from": "0", "rate": "0.05"}],
            "components[0].tiers[1].from",
        ),
        (
            ("components", 0, "tiers"),
            [{"from": "0.5", "rate": "0.02"}],
            "components[0].tiers[0].from",
        ),
        (
            ("components", 0, "tiers"),
            [{"from": "0", "rate": "0.05"}, {"from": "1", "rate": "0.02"}],
            "components[0].tiers[1].rate",
        ),
        (("components", 1, "cap"), "0.9", "components[1].cap"),
        (("components", 1, "threshold"), "1", "components[1].threshold"),
        (("components", 1, "basis"), "no_such_kpi", "components[1].basis"),
        (("components", 0, "kpi"), "win_rate", "components[0].kpi"),
        (("components", 1, "key"), "rev", "components[1].key"),
    ],
)
async def test_a_plan_that_breaks_a_rule_is_refused_naming_the_field(
    clocked: Clocked, path: tuple[Any, ...], value: Any, field: str
) -> None:
    s, _clock = clocked
    resp = await s.client.post("/v1/incentive-plans", json=broken(path, value), headers=s.auth())
    assert resp.status_code == 422, resp.text
    assert [f["field"] for f in resp.json()["error"]["fields"]] == [field]
    assert (await s.client.get("/v1/incentive-plans", headers=s.auth())).json()["plans"] == []


async def test_a_plan_refusal_is_in_the_callers_language(clocked: Clocked) -> None:
    """The reason names the field and the KPI by its name: in the tenant's zh-CN, in
    English with Accept-Language; the code and parameters are the same for machines."""
    s, _clock = clocked
    plan = broken(("components", 0, "kpi"), "win_rate")
    zh = await s.client.post("/v1/incentive-plans", json=plan, headers=s.auth())
    assert zh.status_code == 422, zh.text
    error = zh.json()["error"]
    (field,) = error["fields"]
    assert field["field"] == "components[0].kpi"
    assert field["reason"] == "签单转化率（win_rate）不是求和或计数类 KPI，不能计提成"
    assert field["reason_code"] == "incentives.plan.not_additive"
    assert field["reason_params"] == {
        "kpi": "win_rate",
        "name": {"$l10n": {"zh-CN": "签单转化率", "en": "Win rate"}},
    }
    assert error["message_code"] == "incentives.plan.invalid"
    assert error["message"] == (
        "激励方案不符合规则：components[0].kpi："
        "签单转化率（win_rate）不是求和或计数类 KPI，不能计提成"
    )
    en = await s.client.post(
        "/v1/incentive-plans", json=plan, headers={**s.auth(), "Accept-Language": "en-US"}
    )
    (field_en,) = en.json()["error"]["fields"]
    assert field_en["reason"] == "Win rate (win_rate) is not a sum or count KPI"
    assert field_en["reason_code"] == field["reason_code"]
    assert en.json()["error"]["message"].startswith("the plan is not valid: components[0].kpi: ")

    # A tier out of order: the reason in Chinese, naming the tier's field.
    tiers = [{"from": "0", "rate": "0.02"}, {"from": "0", "rate": "0.05"}]
    resp = await s.client.post(
        "/v1/incentive-plans", json=broken(("components", 0, "tiers"), tiers), headers=s.auth()
    )
    (field,) = resp.json()["error"]["fields"]
    assert (field["field"], field["reason"]) == (
        "components[0].tiers[1].from",
        "各档的起点须逐档递增",
    )


async def test_negative_rates_and_unknown_component_types_are_422(clocked: Clocked) -> None:
    s, _clock = clocked
    for plan in (
        broken(("components", 0, "tiers"), [{"from": "0", "rate": "-0.01"}]),
        broken(("components", 1, "type"), "lottery"),
        broken(("components", 1, "amount"), "1e400"),
    ):
        resp = await s.client.post("/v1/incentive-plans", json=plan, headers=s.auth())
        assert resp.status_code == 422, resp.text
        assert any("components" in f["field"] for f in resp.json()["error"]["fields"]), resp.text


async def make_key(s: Stack, scopes: list[str]) -> str:
    key = generate_key()
    async with s.db.transaction() as session:
        await tenant_repo.add_key(
            session,
            tenant_id=s.settings.default_tenant,
            key=key,
            name="t",
            scopes=scopes,
            now=s.now(),
        )
    return key.plaintext


async def test_plans_are_versioned_and_reads_take_the_version_in_force(clocked: Clocked) -> None:
    s, clock = clocked
    reader = await make_key(s, ["read"])
    denied = await s.client.post("/v1/incentive-plans", json=PLAN, headers=s.auth(reader))
    assert denied.status_code == 403
    clock.set(datetime.fromisoformat("2026-12-01T09:00:00+08:00"))
    created = await s.client.post("/v1/incentive-plans", json=PLAN, headers=s.auth())
    assert created.status_code == 201, created.text
    again = await s.client.post("/v1/incentive-plans", json=PLAN, headers=s.auth())
    assert again.status_code == 409
    resp = await s.client.post(
        "/v1/incentive-assignments",
        json={"plan": "am", "role": "account_manager", "valid_from": "2026-12-01"},
        headers=s.auth(),
    )
    assert resp.status_code == 201, resp.text
    await s.client.post(
        "/v1/targets",
        json={"kpi": "revenue", "scope": "rep:r1", "period": "2026-12", "target": "100000"},
        headers=s.auth(),
    )
    deal = {
        "event_id": "d1",
        "type": "deal",
        "occurred_at": "2026-12-02T10:00:00+08:00",
        "rep_id": "r1",
        "stage": "won",
        "amount": "120000",
    }
    clock.set(datetime.fromisoformat("2026-12-02T12:00:00+08:00"))
    assert (await s.post_events([deal])).status_code == 202
    await s.wait_scored()

    # A revision on the 5th: retroactive 3% / 6%. Reads as of the 4th keep version 1.
    clock.set(datetime.fromisoformat("2026-12-05T09:00:00+08:00"))
    revision = {k: v for k, v in PLAN.items() if k != "key"}
    revision["components"] = deepcopy(PLAN["components"])
    revision["components"][0]["tiers"] = [
        {"from": "0", "rate": "0.03"},
        {"from": "1", "rate": "0.06"},
    ]
    no_reason = await s.client.put("/v1/incentive-plans/am", json=revision, headers=s.auth())
    assert no_reason.status_code == 422
    revised = await s.client.put(
        "/v1/incentive-plans/am", json={**revision, "reason": "Q4 push"}, headers=s.auth()
    )
    assert revised.status_code == 200, revised.text
    assert revised.json()["current_version"] == 2
    clock.set(TODAY)
    full = (await s.client.get("/v1/incentive-plans/am", headers=s.auth())).json()
    assert [(v["version"], v["reason"]) for v in full["versions"]] == [(1, ""), (2, "Q4 push")]

    async def commission(**params: str) -> tuple[int, Decimal]:
        resp = await s.client.get(
            "/v1/earnings",
            params={"scope": "rep:r1", "period": "2026-12", **params},
            headers=s.auth(),
        )
        assert resp.status_code == 200, resp.text
        (rep,) = resp.json()["reps"]
        line = next(ln for ln in rep["lines"] if ln["component"] == "rev")
        return line["version"], Decimal(line["amount"])

    # Retroactive: the reached tier's rate on everything (120,000 at 120% attainment).
    assert await commission() == (2, Decimal("7200.00"))
    assert await commission(as_of="2026-12-04T12:00:00+08:00") == (1, Decimal("6000.00"))
    # Before the deal was known: nothing earned yet under version 1.
    assert await commission(as_of="2026-12-02T11:00:00+08:00") == (1, Decimal("0.00"))

    # Bad reads name their field.
    for params, field in (
        ({"scope": "rep:r1", "period": "2026-Q4"}, "period"),
        ({"scope": "rep:r1", "period": "2026-12", "as_of": "2026-12-04T12:00:00"}, "as_of"),
        ({"scope": "nobody", "period": "2026-12"}, "scope"),
    ):
        resp = await s.client.get("/v1/earnings", params=params, headers=s.auth())
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"]["fields"][0]["field"] == field
    missing = await s.client.get(
        "/v1/earnings", params={"scope": "rep:ghost", "period": "2026-12"}, headers=s.auth()
    )
    assert missing.status_code == 404


async def test_assignments_name_a_rep_or_a_role_and_never_double_up(clocked: Clocked) -> None:
    s, _clock = clocked
    assert (
        await s.client.post("/v1/incentive-plans", json=PLAN, headers=s.auth())
    ).status_code == 201

    async def assign(body: dict[str, Any]) -> Any:
        return await s.client.post("/v1/incentive-assignments", json=body, headers=s.auth())

    for body, field in (
        ({"plan": "am", "valid_from": "2026-12-01"}, "rep"),
        ({"plan": "am", "rep": "r1", "role": "x", "valid_from": "2026-12-01"}, "rep"),
        ({"plan": "nope", "rep": "r1", "valid_from": "2026-12-01"}, "plan"),
        ({"plan": "am", "rep": "ghost", "valid_from": "2026-12-01"}, "rep"),
        (
            {"plan": "am", "rep": "r1", "valid_from": "2026-12-01", "valid_to": "2026-12-01"},
            "valid_to",
        ),
    ):
        resp = await assign(body)
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"]["fields"][0]["field"] == field
    first = await assign(
        {"plan": "am", "rep": "r1", "valid_from": "2026-12-01", "valid_to": "2026-12-16"}
    )
    assert first.status_code == 201, first.text
    overlap = await assign({"plan": "am", "rep": "r1", "valid_from": "2026-12-15"})
    assert overlap.status_code == 409
    # The rep by name, in the tenant's language; the code and ids for machines.
    error = overlap.json()["error"]
    assert error["message"] == (
        f"分配 {first.json()['id']} 已在其中部分日期把激励方案“am”分配给Ann"
    )
    assert error["message_code"] == "incentives.assignment.overlap"
    assert error["message_params"]["plan"] == "am"
    gone_rep = await assign({"plan": "am", "rep": "ghost", "valid_from": "2026-12-01"})
    assert gone_rep.json()["error"]["fields"][0]["reason"] == "组织架构中没有销售“ghost”"
    after = await assign({"plan": "am", "rep": "r1", "valid_from": "2026-12-16"})
    assert after.status_code == 201
    listed = (
        await s.client.get("/v1/incentive-assignments", params={"rep": "r1"}, headers=s.auth())
    ).json()
    assert [(a["valid_from"], a["valid_to"]) for a in listed["assignments"]] == [
        ("2026-12-01", "2026-12-16"),
        ("2026-12-16", None),
    ]
    gone = await s.client.delete(
        f"/v1/incentive-assignments/{first.json()['id']}", headers=s.auth()
    )
    assert gone.status_code == 204
    again = await s.client.delete(
        f"/v1/incentive-assignments/{first.json()['id']}", headers=s.auth()
    )
    assert again.status_code == 404
    audit = (await s.client.get("/v1/audit", headers=s.auth())).json()
    actions = [e["action"] for e in audit["items"]]
    assert {"incentives.plan_create", "incentives.assign", "incentives.unassign"} <= set(actions)


async def test_a_role_change_mid_month_moves_the_rep_to_the_roles_plan_pro_rata(
    clocked: Clocked,
) -> None:
    s, clock = clocked
    clock.set(datetime.fromisoformat("2026-11-20T09:00:00+08:00"))
    assert (
        await s.client.post("/v1/incentive-plans", json=PLAN, headers=s.auth())
    ).status_code == 201
    channel = {
        "key": "cm",
        "name_zh": "渠道",
        "name_en": "Channel",
        "components": [
            {
                "type": "bonus",
                "key": "fixed",
                "basis": "revenue",
                "amount": "3100",
                "threshold": "0",
                "threshold_payout": "1",
                "cap": "1",
            }
        ],
    }
    assert (
        await s.client.post("/v1/incentive-plans", json=channel, headers=s.auth())
    ).status_code == 201
    for plan, role in (("am", "account_manager"), ("cm", "channel_manager")):
        resp = await s.client.post(
            "/v1/incentive-assignments",
            json={"plan": plan, "role": role, "valid_from": "2026-11-01"},
            headers=s.auth(),
        )
        assert resp.status_code == 201, resp.text
    target = {"kpi": "revenue", "scope": "rep:r1", "period": "2026-12", "target": "1000"}
    assert (await s.client.post("/v1/targets", json=target, headers=s.auth())).status_code == 201
    # Ann becomes a channel manager from 11 December on.
    clock.set(TODAY)
    resp = await s.client.put(
        "/v1/reps/r1",
        params={"effective_from": "2026-12-11"},
        json={"id": "r1", "name": "Ann", "team_id": "north", "role": "channel_manager"},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    earnings = await s.client.get(
        "/v1/earnings", params={"scope": "rep:r1", "period": "2026-12"}, headers=s.auth()
    )
    (ann,) = earnings.json()["reps"]
    assert [(p["plan"], p["start"], p["end"], p["share"]) for p in ann["plans"]] == [
        ("am", "2026-12-01", "2026-12-11", "0.3226"),
        ("cm", "2026-12-11", "2027-01-01", "0.6774"),
    ]
    # cm's bonus pays 100% whatever the attainment: 3,100 × 21/31.
    fixed = next(ln for ln in ann["lines"] if ln["component"] == "fixed")
    assert Decimal(fixed["amount"]) == Decimal("2100.00")
    # November is all account manager.
    november = await s.client.get(
        "/v1/earnings", params={"scope": "rep:r1", "period": "2026-11"}, headers=s.auth()
    )
    assert [p["plan"] for p in november.json()["reps"][0]["plans"]] == ["am"]
