"""Incentives end to end, on both run modes: a plan with every component type over a
month of events, checked against amounts computed by hand (docs/INCENTIVES.md, "Worked
example: December").

Plan ``am`` (account managers, by role): commission on revenue, marginal 2% / 5% from
100% / 8% from 120%; a ¥10,000 attainment bonus on revenue (threshold 80% pays 50%,
stretch 120% pays 150%, accelerator 2.5 above, cap 200%); a gate on 回款率 (≥ 80%); a
modifier of −10% per complaint (floor 50%); a ¥500 spiff per new customer in December;
a ¥6,000 team pool on the team's revenue, split 2 : 1 between Ann and Bob.
Plan ``cm`` (channel): 3% of payments collected and an ¥8,000 scorecard bonus.

Hand computation (targets: Ann and Bob ¥100,000, north ¥200,000, Cat ¥50,000):

- Ann: revenue 130,000 (att 1.3). Commission 100,000×2% + 20,000×5% + 10,000×8% = 3,800.
  Bonus 1.5 + 2.5×0.1 = 1.75 → 17,500 × 0.9 (one complaint) = 15,750. Spiff 2 new
  customers = 1,000. Pool: north 220,000 / 200,000 = 1.1 → 6,600; Ann 2/3 = 4,400 × 0.9
  = 3,960. Total 24,510.00.
- Bob: revenue 90,000. Commission 1,800. Bonus 0.5 + 0.5×0.5 = 0.75 → 7,500, withheld
  (回款率 50% < 80%); pool share 2,200 withheld. Total 1,800.00.
- Cat: ``am`` on 1–15 December (15/31), ``cm`` from the 16th (16/31). Revenue 40,000 +
  20,000 = 60,000 against 50,000 (att 1.2). am commission: the table pays 1,000 + 500 =
  1,500 on 60,000; the 15 days carried 40,000 → 1,000.00. am bonus at stretch 1.5 →
  15,000 × 15/31 = 7,258.06. cm commission 3% × 10,000 = 300.00. cm scorecard bonus: score
  120 → 1.2 × 8,000 × 16/31 = 4,954.84. Total 13,512.90.

Then December is closed, statements generated, approved and paid; a ¥50,000 deal of
Ann's is reverted in January: January shows a clawback of 50,000 × 3,800/130,000 =
−1,461.54 at December's rate.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from paceline.shared.auth import generate_key
from paceline.shared.db import tenants as tenant_repo
from tests.conftest import Clocked
from tests.support import Stack

TODAY = datetime.fromisoformat("2027-01-02T10:00:00+08:00")
IN_DECEMBER = datetime.fromisoformat("2026-12-31T20:00:00+08:00")
JANUARY = datetime.fromisoformat("2027-01-05T10:00:00+08:00")
ORG: dict[str, Any] = {
    "teams": [{"id": "north", "name": "North"}, {"id": "south", "name": "South"}],
    "reps": [
        {"id": "r1", "name": "Ann", "team_id": "north", "role": "account_manager"},
        {"id": "r2", "name": "Bob", "team_id": "north", "role": "account_manager"},
        {"id": "r3", "name": "Cat", "team_id": "south", "role": "channel_manager"},
    ],
}

AM = {
    "key": "am",
    "name_zh": "客户经理激励",
    "name_en": "Account managers",
    "components": [
        {
            "type": "commission",
            "key": "rev",
            "kpi": "revenue",
            "mode": "marginal",
            "tiers": [
                {"from": "0", "rate": "0.02"},
                {"from": "1", "rate": "0.05"},
                {"from": "1.2", "rate": "0.08"},
            ],
        },
        {
            "type": "bonus",
            "key": "attain",
            "basis": "revenue",
            "amount": "10000",
            "threshold": "0.8",
            "threshold_payout": "0.5",
            "stretch": "1.2",
            "stretch_payout": "1.5",
            "cap": "2",
        },
        {"type": "gate", "key": "collect", "kpi": "collection_rate", "min": "0.8"},
        {
            "type": "modifier",
            "key": "quality",
            "kpi": "complaints",
            "per_unit": "-0.1",
            "floor": "0.5",
            "ceiling": "1",
        },
        {
            "type": "spiff",
            "key": "newcust",
            "kpi": "new_customers",
            "amount": "500",
            "start": "2026-12-01",
            "end": "2026-12-31",
        },
        {
            "type": "pool",
            "key": "teampool",
            "basis": "revenue",
            "amount": "6000",
            "split": "weights",
            "weights": {"r1": "2"},
        },
    ],
}
CM = {
    "key": "cm",
    "name_zh": "渠道经理激励",
    "name_en": "Channel managers",
    "components": [
        {
            "type": "commission",
            "key": "collected",
            "kpi": "payments_collected",
            "tiers": [{"from": "0", "rate": "0.03"}],
        },
        {
            "type": "bonus",
            "key": "score",
            "basis": "scorecard",
            "amount": "8000",
            "threshold": "0.5",
        },
    ],
}


def deal(
    deal_id: str,
    rep: str,
    day: str,
    amount: str,
    *,
    new: bool = False,
    version: int = 1,
    stage: str = "won",
    customer: str | None = None,
) -> dict[str, Any]:
    return {
        "event_id": f"{deal_id}-v{version}",
        "type": "deal",
        "entity_id": deal_id,
        "version": version,
        "occurred_at": f"{day}T10:00:00+08:00",
        "closed_at": f"{day}T10:00:00+08:00",
        "rep_id": rep,
        "customer_id": customer or f"c-{deal_id}",
        "stage": stage,
        "amount": amount,
        "is_new_customer": new,
    }


def invoice(inv: str, rep: str, due: str, paid: str, day: str = "2026-12-10") -> dict[str, Any]:
    return {
        "event_id": f"{inv}-v1",
        "type": "payment",
        "entity_id": inv,
        "version": 1,
        "occurred_at": f"{day}T10:00:00+08:00",
        "rep_id": rep,
        "invoice_id": inv,
        "amount_due": due,
        "due_date": day,
        "amount_paid": paid,
        "paid_at": f"{day}T10:00:00+08:00",
    }


def complaint(cid: str, rep: str, day: str) -> dict[str, Any]:
    return {
        "event_id": cid,
        "type": "complaint",
        "occurred_at": f"{day}T10:00:00+08:00",
        "rep_id": rep,
        "customer_id": "c-x",
    }


DECEMBER_EVENTS = [
    deal("D1", "r1", "2026-12-03", "60000", new=True),
    deal("D2", "r1", "2026-12-08", "50000"),
    deal("D3", "r1", "2026-12-15", "20000", new=True),
    deal("D4", "r2", "2026-12-10", "90000"),
    deal("D5", "r3", "2026-12-05", "40000"),
    deal("D6", "r3", "2026-12-20", "20000"),
    invoice("I1", "r1", "10000", "10000"),
    invoice("I2", "r1", "10000", "10000"),
    invoice("I3", "r1", "10000", "5000"),
    invoice("I4", "r2", "10000", "5000"),
    invoice("I5", "r2", "10000", "5000"),
    invoice("I6", "r2", "10000", "5000"),
    invoice("I7", "r3", "10000", "10000", day="2026-12-20"),
    complaint("K1", "r1", "2026-12-12"),
]


async def _ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


async def setup_month(s: Stack, clock: Any) -> None:
    """Custom KPI, targets, plans and assignments, then December's events."""
    clock.set(datetime.fromisoformat("2026-11-25T10:00:00+08:00"))
    await _ok(
        await s.client.post(
            "/v1/kpis",
            json={
                "key": "complaints",
                "name_zh": "投诉数",
                "name_en": "Complaints",
                "unit": "count",
                "direction": "lower",
                "category": "process",
                "formula": "count(complaint)",
            },
            headers=s.auth(),
        ),
        201,
    )
    for scope, target, extra in (
        ("rep:r1", "100000", {"baseline": "80000", "stretch": "120000"}),
        ("rep:r2", "100000", {}),
        ("rep:r3", "50000", {}),
        ("team:north", "200000", {}),
    ):
        body = {"kpi": "revenue", "scope": scope, "period": "2026-12", "target": target, **extra}
        await _ok(await s.client.post("/v1/targets", json=body, headers=s.auth()), 201)
    await _ok(await s.client.post("/v1/incentive-plans", json=AM, headers=s.auth()), 201)
    await _ok(await s.client.post("/v1/incentive-plans", json=CM, headers=s.auth()), 201)
    for body in (
        {"plan": "am", "role": "account_manager", "valid_from": "2026-12-01"},
        {"plan": "am", "rep": "r3", "valid_from": "2026-12-01", "valid_to": "2026-12-16"},
        {"plan": "cm", "rep": "r3", "valid_from": "2026-12-16"},
    ):
        await _ok(
            await s.client.post("/v1/incentive-assignments", json=body, headers=s.auth()), 201
        )
    clock.set(IN_DECEMBER)
    resp = await s.post_events(DECEMBER_EVENTS)
    assert resp.status_code == 202, resp.text
    await s.wait_scored()
    clock.set(TODAY)


def by_component(rep: dict[str, Any]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for line in rep["lines"]:
        key = f"{line['plan']}.{line['component']}"
        out[key] = out.get(key, Decimal(0)) + Decimal(line["amount"])
    return out


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


async def test_a_month_of_every_component_equals_the_hand_computation(
    clocked_both: Clocked,
) -> None:
    s, clock = clocked_both
    await setup_month(s, clock)
    body = await _ok(
        await s.client.get(
            "/v1/earnings", params={"scope": "team:north", "period": "2026-12"}, headers=s.auth()
        )
    )
    reps = {r["rep"]: r for r in body["reps"]}
    assert sorted(reps) == ["r1", "r2"]
    ann, bob = reps["r1"], reps["r2"]
    assert by_component(ann) == {
        "am.rev": Decimal("3800.00"),
        "am.attain": Decimal("15750.00"),
        "am.newcust": Decimal("1000.00"),
        "am.teampool": Decimal("3960.00"),
    }
    assert Decimal(ann["earned"]) == Decimal("24510.00")
    # The month is over: the projection is what was earned.
    assert Decimal(ann["projected"]) == Decimal("24510.00")
    assert by_component(bob) == {
        "am.rev": Decimal("1800.00"),
        "am.attain": Decimal("0.00"),
        "am.newcust": Decimal("0.00"),
        "am.teampool": Decimal("0.00"),
    }
    withheld = next(ln for ln in bob["lines"] if ln["component"] == "attain")
    assert [(a["key"], a["passed"]) for a in withheld["applied"]] == [
        ("collect", False),
        ("quality", None),
    ]
    assert Decimal(withheld["rate"]) == Decimal("0.75")  # what the curve pays, before the gate
    commission = next(ln for ln in ann["lines"] if ln["component"] == "rev")
    assert (commission["tier"], Decimal(commission["attainment"])) == (2, Decimal("1.3"))
    assert commission["facts"]["records"].startswith("/v1/facts/records?kpi=revenue")
    pool = body["pools"][0]
    assert (pool["team"], Decimal(pool["pool"]), Decimal(pool["allocated"])) == (
        "north",
        Decimal("6600"),
        Decimal("3960.00"),
    )
    assert Decimal(body["earned"]) == Decimal("26310.00")

    # Cat changed plan mid-month: paid pro rata per plan.
    cat = await _ok(
        await s.client.get(
            "/v1/earnings", params={"scope": "rep:r3", "period": "2026-12"}, headers=s.auth()
        )
    )
    (cat_rep,) = cat["reps"]
    assert [(p["plan"], p["start"], p["end"]) for p in cat_rep["plans"]] == [
        ("am", "2026-12-01", "2026-12-16"),
        ("cm", "2026-12-16", "2027-01-01"),
    ]
    parts = by_component(cat_rep)
    assert parts["am.rev"] == Decimal("1000.00")
    assert parts["am.attain"] == Decimal("7258.06")
    assert parts["cm.collected"] == Decimal("300.00")
    assert parts["cm.score"] == Decimal("4954.84")
    assert Decimal(cat_rep["earned"]) == Decimal("13512.90")

    # Bob's next tier: ¥10,000 more revenue reaches 100%: the commission gains ¥200 (the
    # bonus stays withheld by the gate).
    tiers = {(t["component"], Decimal(t["more"]), Decimal(t["gain"])) for t in bob["next_tiers"]}
    assert ("rev", Decimal("10000"), Decimal("200.00")) in tiers
    rev_tier = next(t for t in bob["next_tiers"] if t["component"] == "rev")
    # The message names the KPI (销售额, not revenue), money in 万 in Chinese prose.
    assert rev_tier["message"] == {
        "zh-CN": "再完成 ¥1万 销售额，即达 100% 档：+¥200.00",
        "en": "CN¥10,000.00 more Revenue reaches the 100% tier: +CN¥200.00",
    }
    assert rev_tier["message_code"] == "incentives.next_tier"
    assert rev_tier["message_params"]["kpi"] == {"$l10n": {"zh-CN": "销售额", "en": "Revenue"}}

    # What if Bob wins a ¥20,000 deal: +¥700 of commission (2,000 + 500 − 1,800).
    what = await _ok(
        await s.client.post(
            "/v1/earnings/what-if",
            json={
                "rep": "r2",
                "period": "2026-12",
                "as_of": "2026-12-31T23:00:00+08:00",
                "deals": [{"amount": "20000", "day": "2026-12-20"}],
            },
            headers=s.auth(),
        )
    )
    assert (Decimal(what["earned"]), Decimal(what["earned_with"]), Decimal(what["gain"])) == (
        Decimal("1800.00"),
        Decimal("2500.00"),
        Decimal("700.00"),
    )
    assert what["message"] == {
        "zh-CN": "这些成交将使本月激励增加 ¥700.00（合计 ¥2,500.00）",
        "en": "These deals would add CN¥700.00 to this month's earnings (CN¥2,500.00 in all)",
    }
    assert (what["message_code"], what["message_params"]["gain"]) == (
        "incentives.what_if",
        {"$money": "700.00", "currency": "CNY"},
    )

    # Statements: not before the close; then drafts, approval, payment, payroll.
    early = await s.client.post("/v1/statements", json={"period": "2026-12"}, headers=s.auth())
    assert early.status_code == 422
    assert early.json()["error"]["fields"][0]["field"] == "period"
    await _ok(await s.client.post("/v1/closes", json={"period": "2026-12"}, headers=s.auth()), 201)
    drafts = await _ok(
        await s.client.post("/v1/statements", json={"period": "2026-12"}, headers=s.auth())
    )
    totals = {st["rep"]: Decimal(st["total"]) for st in drafts["statements"]}
    assert totals == {
        "r1": Decimal("24510.00"),
        "r2": Decimal("1800.00"),
        "r3": Decimal("13512.90"),
    }
    ann_statement = next(st for st in drafts["statements"] if st["rep"] == "r1")
    assert ann_statement["status"] == "draft"
    assert sum(Decimal(ln["amount"]) for ln in ann_statement["lines"]) == Decimal("24510.00")
    sid = ann_statement["id"]
    reader = await make_key(s, ["read"])
    denied = await s.client.post(f"/v1/statements/{sid}/approve", json={}, headers=s.auth(reader))
    assert denied.status_code == 403
    early_pay = await s.client.post(f"/v1/statements/{sid}/pay", json={}, headers=s.auth())
    assert early_pay.status_code == 409
    assert early_pay.json()["error"]["message"] == (
        f"结算单 {sid} 当前状态为“草稿”，只有已审批的结算单可以发放"
    )
    assert early_pay.json()["error"]["message_params"]["status"] == {
        "$msg": "incentives.status.draft",
        "params": {},
    }
    approved = await _ok(
        await s.client.post(f"/v1/statements/{sid}/approve", json={"note": "ok"}, headers=s.auth())
    )
    assert approved["status"] == "approved"
    assert approved["approved_by"].startswith("key:")
    paid = await _ok(await s.client.post(f"/v1/statements/{sid}/pay", json={}, headers=s.auth()))
    assert paid["status"] == "paid"
    assert paid["paid_by"] == approved["approved_by"]
    payroll = await s.client.get("/v1/payroll", params={"period": "2026-12"}, headers=s.auth())
    assert payroll.status_code == 200
    lines = payroll.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("period,rep_id,rep_name,currency,amount,status")
    (row,) = [line.split(",") for line in lines[1:]]
    assert row[:8] == [
        "2026-12",
        "r1",
        "Ann",
        "CNY",
        "24510.00",
        "paid",
        str(sid),
        approved["approved_by"],
    ]
    assert [datetime.fromisoformat(v.replace("Z", "+00:00")) for v in row[8:]] == [
        datetime.fromisoformat(approved["approved_at"].replace("Z", "+00:00")),
        datetime.fromisoformat(paid["paid_at"].replace("Z", "+00:00")),
    ]
    csv_detail = await s.client.get(
        f"/v1/statements/{sid}", params={"format": "csv"}, headers=s.auth()
    )
    assert csv_detail.text.lstrip("\ufeff").count("\n") == 1 + len(ann_statement["lines"])
    page = await s.client.get(
        f"/v1/statements/{sid}", params={"format": "html", "lang": "zh-CN"}, headers=s.auth()
    )
    assert "激励结算单" in page.text
    assert "¥24,510.00" in page.text  # a statement keeps every digit (no 万)
    assert "已发放" in page.text
    # Names, not ids (the rep, the plan, the KPI); dates and percentages in Chinese.
    assert '<dd id="rep">Ann（r1）</dd>' in page.text
    assert (
        "<td>提成</td><td>rev</td><td>客户经理激励（第 1 版）</td>"
        "<td>2026年12月1日 至 2026年12月31日</td><td>销售额</td>"
        "<td class=n>130,000</td><td class=n>130%</td>"
    ) in page.text
    assert "<td class=n>500</td>" in page.text  # the spiff's amount per unit, not 5E+2
    assert "2027年1月2日 10:00:00" in page.text  # closed at, in the tenant's time zone
    page_en = await s.client.get(
        f"/v1/statements/{sid}",
        params={"format": "html"},
        headers={**s.auth(), "Accept-Language": "en-US,en;q=0.9"},
    )
    assert "Incentive statement" in page_en.text
    assert "Paid" in page_en.text
    assert "<td>Account managers (v1)</td><td>Dec 1, 2026 – Dec 31, 2026</td>" in page_en.text
    assert "CN¥24,510.00" in page_en.text
    # Regenerating keeps the paid statement as it was.
    again = await _ok(
        await s.client.post("/v1/statements", json={"period": "2026-12"}, headers=s.auth())
    )
    kept = next(st for st in again["statements"] if st["rep"] == "r1")
    assert (kept["status"], kept["generated_at"]) == ("paid", ann_statement["generated_at"])

    # January: Ann's ¥50,000 deal is reverted after December was paid: a clawback at
    # December's effective rate (3,800 / 130,000), in January, the first open month.
    clock.set(JANUARY)
    resp = await s.post_events([deal("D2", "r1", "2026-12-08", "50000", version=2, stage="lost")])
    assert resp.status_code == 202
    await s.wait_scored()
    january = await _ok(
        await s.client.get(
            "/v1/earnings", params={"scope": "rep:r1", "period": "2027-01"}, headers=s.auth()
        )
    )
    (ann_jan,) = january["reps"]
    claw = [ln for ln in ann_jan["lines"] if ln["kind"] == "clawback"]
    assert [(c["component"], c["source_period"], Decimal(c["amount"])) for c in claw] == [
        ("rev", "2026-12", Decimal("-1461.54"))
    ]
    assert claw[0]["facts"]["records"] == (
        "/v1/adjustments?period=2027-01&source_period=2026-12&kpi=revenue&rep=r1"
    )
    adjustments = await _ok(await s.client.get(claw[0]["facts"]["records"], headers=s.auth()))
    assert [Decimal(a["value"]) for a in adjustments["items"]] == [Decimal("-50000")]
    january_commission = next(ln for ln in ann_jan["lines"] if ln["kind"] == "commission")
    assert Decimal(january_commission["amount"]) == 0  # the reversal is not priced twice
    # December as closed does not move.
    december = await _ok(await s.client.get("/v1/statements/" + str(sid), headers=s.auth()))
    assert Decimal(december["total"]) == Decimal("24510.00")
