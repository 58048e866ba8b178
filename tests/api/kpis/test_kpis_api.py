"""The KPI catalog: ``GET/POST/PUT/DELETE /v1/kpis``, ``POST /v1/kpis/check-formula``,
``GET /v1/jobs/{id}``, and custom KPIs backfilled from stored events."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from paceline.shared.auth import generate_key
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.models import Fact
from tests.support import Stack

LATE_AS_OF = "2027-06-01T00:00:00+08:00"
JOB_DEADLINE_S = 60.0

SAAS_SUM = 'sum(deal.amount where stage == "won" and product_line == "saas")'
SAAS_COUNT = 'count(deal where stage == "won" and product_line == "saas")'

BUILTIN = {
    # key: (category, unit, direction)
    "revenue": ("result", "currency", "higher"),
    "deals_won": ("result", "count", "higher"),
    "new_customers": ("result", "count", "higher"),
    "gross_margin_rate": ("result", "ratio", "higher"),
    "payments_collected": ("result", "currency", "higher"),
    "visits": ("process", "count", "higher"),
    "new_opportunities": ("process", "count", "higher"),
    "quotes": ("process", "count", "higher"),
    "win_rate": ("process", "ratio", "higher"),
    "collection_rate": ("process", "ratio", "higher"),
    "collection_cycle_days": ("process", "days", "lower"),
    "complaint_rate": ("process", "per_100_customers", "lower"),
    "response_hours": ("process", "hours", "lower"),
    "csat": ("process", "score", "higher"),
    "training_pass_rate": ("capability", "ratio", "higher"),
    "crm_active_days": ("capability", "ratio", "higher"),
}


# -- helpers ------------------------------------------------------------------------------


def deal(
    deal_id: str,
    day: str,
    amount: str,
    *,
    stage: str = "won",
    product_line: str | None = None,
    rep: str = "r1",
    **extra: Any,
) -> dict[str, Any]:
    """A deal event (10:00 Beijing time on ``day``)."""
    ev: dict[str, Any] = {
        "event_id": f"{deal_id}-{stage}-{amount}",
        "type": "deal",
        "entity_id": deal_id,
        "occurred_at": f"{day}T10:00:00+08:00",
        "rep_id": rep,
        "stage": stage,
        "amount": amount,
        **extra,
    }
    if product_line is not None:
        ev["product_line"] = product_line
    return ev


def quote(quote_id: str, day: str, *, rep: str = "r1") -> dict[str, Any]:
    """A quote sent on ``day``."""
    return {
        "event_id": quote_id,
        "type": "quote",
        "occurred_at": f"{day}T11:00:00+08:00",
        "rep_id": rep,
        "status": "sent",
    }


def custom_kpi(key: str, formula: str, **extra: Any) -> dict[str, Any]:
    """A POST /v1/kpis body."""
    return {
        "key": key,
        "name_zh": f"自定义 {key}",
        "name_en": f"Custom {key}",
        "unit": "currency",
        "category": "result",
        "formula": formula,
        **extra,
    }


async def post_scored(stack: Stack, events: list[dict[str, Any]]) -> None:
    """POST events (all must be accepted) and wait until scoring applied them."""
    resp = await stack.post_events(events)
    assert resp.status_code == 202, resp.text
    assert resp.json()["accepted"] == len(events), resp.text
    await stack.wait_scored()


async def wait_job(stack: Stack, job_id: int) -> dict[str, Any]:
    """Poll ``GET /v1/jobs/{id}`` until the job is done (60 s at most)."""
    deadline = time.monotonic() + JOB_DEADLINE_S
    while True:
        resp = await stack.client.get(f"/v1/jobs/{job_id}", headers=stack.auth())
        assert resp.status_code == 200, resp.text
        job: dict[str, Any] = resp.json()
        assert job["id"] == job_id
        assert job["kind"] == "rebuild_facts"
        if job["status"] == "done":
            return job
        assert job["status"] in {"pending", "running"}, job
        assert time.monotonic() < deadline, f"job {job_id} not done within 60 s: {job}"
        await asyncio.sleep(0.1)


async def progress(
    stack: Stack, kpi: str, *, period: str = "2026-11", scope: str = "company"
) -> httpx.Response:
    """GET /v1/progress well after the period."""
    return await stack.client.get(
        "/v1/progress",
        params={"kpi": kpi, "period": period, "scope": scope, "as_of": LATE_AS_OF},
        headers=stack.auth(),
    )


async def progress_body(stack: Stack, kpi: str, **kw: str) -> dict[str, Any]:
    """The progress body (200 required)."""
    resp = await progress(stack, kpi, **kw)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def actual(stack: Stack, kpi: str, **kw: str) -> Decimal | None:
    """The KPI's actual for the company in 2026-11."""
    value = (await progress_body(stack, kpi, **kw))["actual"]
    return None if value is None else Decimal(value)


async def catalog(stack: Stack, *, include_inactive: bool = False) -> dict[str, dict[str, Any]]:
    """GET /v1/kpis by key."""
    params = {"include_inactive": "true"} if include_inactive else {}
    resp = await stack.client.get("/v1/kpis", params=params, headers=stack.auth())
    assert resp.status_code == 200, resp.text
    return {k["key"]: k for k in resp.json()}


async def fact_rows(stack: Stack, kpi: str) -> int:
    """How many fact rows the database holds for a KPI."""
    async with stack.db.transaction(write=False) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Fact)
            .where(Fact.tenant_id == stack.settings.default_tenant, Fact.kpi == kpi)
        )
    return int(count or 0)


async def check_formula(stack: Stack, formula: str) -> dict[str, Any]:
    """POST /v1/kpis/check-formula."""
    resp = await stack.client.post(
        "/v1/kpis/check-formula", json={"formula": formula}, headers=stack.auth()
    )
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def assert_error(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The stable error shape with this status and code."""
    assert resp.status_code == status, resp.text
    err: dict[str, Any] = resp.json()["error"]
    assert set(err) - {"message_code", "message_params"} == {
        "code",
        "status",
        "message",
        "fields",
        "request_id",
    }
    assert (err["status"], err["code"]) == (status, code)
    return err


# -- the catalog ---------------------------------------------------------------------------


async def test_catalog_lists_the_16_builtins_with_labels(embedded_stack: Stack) -> None:
    resp = await embedded_stack.client.get("/v1/kpis", headers=embedded_stack.auth())
    assert resp.status_code == 200, resp.text
    kpis = resp.json()
    assert len(kpis) == 16
    assert [k["key"] for k in kpis] == list(BUILTIN)  # catalog order, built-ins first
    for k in kpis:
        assert set(k["names"]) == {"zh-CN", "en"}, k
        assert all(k["names"].values()), k
        assert (k["category"], k["unit"], k["direction"]) == BUILTIN[k["key"]], k
        assert k["formula"], k
        assert (k["builtin"], k["active"], k["version"]) == (True, True, 1), k
    by_key = {k["key"]: k for k in kpis}
    revenue = by_key["revenue"]
    assert revenue["names"] == {"zh-CN": "销售额", "en": "Revenue"}
    assert revenue["formula"] == 'sum(deal.amount where stage == "won")'
    assert (revenue["shape"], revenue["event_types"]) == ("value", ["deal"])
    win_rate = by_key["win_rate"]
    assert win_rate["names"] == {"zh-CN": "签单转化率", "en": "Win rate"}
    assert (win_rate["shape"], win_rate["min_sample"]) == ("ratio", 5)
    assert by_key["crm_active_days"]["shape"] == "working_day_share"
    assert by_key["response_hours"]["names"]["zh-CN"] == "响应时长"
    # One KPI alone, and an unknown one.
    one = await embedded_stack.client.get("/v1/kpis/visits", headers=embedded_stack.auth())
    assert one.status_code == 200, one.text
    assert one.json() == by_key["visits"]
    missing = await embedded_stack.client.get("/v1/kpis/nothing", headers=embedded_stack.auth())
    assert "nothing" in assert_error(missing, 404, "not_found")["message"]


# -- check-formula -------------------------------------------------------------------------


async def test_check_formula_lists_the_measures_of_good_formulas(embedded_stack: Stack) -> None:
    body = await check_formula(embedded_stack, SAAS_SUM)
    assert body == {
        "valid": True,
        "error": None,
        "shape": "value",
        "measures": [{"kind": "sum", "source": "deal", "field": "amount", "by": None}],
    }
    body = await check_formula(
        embedded_stack, 'ratio(count(deal where stage == "won"), count(quote))'
    )
    assert (body["valid"], body["shape"]) == (True, "ratio")
    assert body["measures"] == [
        {"kind": "count", "source": "deal", "field": None, "by": None},
        {"kind": "count", "source": "quote", "field": None, "by": None},
    ]
    # avg keeps two decomposable measures: a sum and a count.
    body = await check_formula(embedded_stack, "avg(complaint.response_hours)")
    assert body["valid"] is True
    assert [(m["kind"], m["field"]) for m in body["measures"]] == [
        ("sum", "response_hours"),
        ("count", None),
    ]
    body = await check_formula(embedded_stack, "distinct(visit.customer_id by occurred_at)")
    assert body["measures"] == [
        {"kind": "distinct", "source": "visit", "field": "customer_id", "by": "occurred_at"}
    ]


@pytest.mark.parametrize(
    ("formula", "position", "code", "in_reason"),
    [
        # s u m ( d e a l . a -> "amont" starts at character 10
        ("sum(deal.amont)", 10, "formula.unknown_field", "“amont”"),
        # 15 characters, the closing parenthesis is missing: position 16 is the end
        ("sum(deal.amount", 16, "formula.ends_early", "公式提前结束"),
        # "stag" starts after 'sum(deal.amount where ' (22 characters)
        ('sum(deal.amount where stag == "won")', 23, "formula.unknown_field", "“stag”"),
        # the single quote after 'sum(deal.amount where stage == ' (31 characters)
        ("sum(deal.amount where stage == 'won')", 32, "formula.unexpected_character", "“'”"),
        ("sum(deal.stage)", 10, "formula.not_numeric", "不是数值"),
        ("max(deal.amount)", 1, "formula.unexpected_token", "“max”"),
        ("count(deal) * 0", 15, "formula.zero_factor", "不能为零"),
        ("sum(deal.amount by product_line)", 20, "formula.by_not_date", "不是日期"),
        ("count(deals)", 11, "formula.unexpected_token", "“s”"),
        ("   ", 1, "formula.empty", "公式为空"),
    ],
)
async def test_check_formula_gives_position_and_reason(
    embedded_stack: Stack, formula: str, position: int, code: str, in_reason: str
) -> None:
    body = await check_formula(embedded_stack, formula)
    assert body["valid"] is False
    assert body["shape"] is None
    assert body["measures"] == []
    assert body["error"]["position"] == position, body
    assert body["error"]["reason_code"] == code, body
    assert in_reason in body["error"]["reason"], body  # the tenant's zh-CN


async def test_check_formula_in_english(embedded_stack: Stack) -> None:
    s = embedded_stack
    resp = await s.client.post(
        "/v1/kpis/check-formula",
        json={"formula": "sum(deal.amont)"},
        headers={**s.auth(), "Accept-Language": "en"},
    )
    error = resp.json()["error"]
    assert error["reason"].startswith("unknown field 'amont' for deal events; deal events have:")
    assert error["reason_params"]["field"] == "amont"


async def test_check_formula_points_at_avg_inside_ratio(embedded_stack: Stack) -> None:
    body = await check_formula(embedded_stack, "ratio(avg(deal.amount), count(quote))")
    assert body["valid"] is False
    assert body["error"]["reason"] == "ratio() 中不能使用 avg()；请改用 sum() 和 count()"
    assert body["error"]["position"] == 7  # r a t i o ( -> "avg" starts at 7


async def test_check_formula_refuses_a_comparison_that_can_never_hold(
    embedded_stack: Stack,
) -> None:
    body = await check_formula(embedded_stack, 'count(deal where amount > "500")')
    assert body["valid"] is False
    # c o u n t ( d e a l   w h e r e   a m o u n t   >   -> the string starts at 27
    assert body["error"]["position"] == 27


# -- custom KPIs: create, backfill, incremental, change, retire ----------------------------


async def test_custom_kpi_lifecycle(stack: Stack) -> None:
    s = stack
    # Events first: one saas won deal (1000), one hardware won deal (500), one saas lost deal.
    await post_scored(
        s,
        [
            deal("d-saas", "2026-11-03", "1000", product_line="saas"),
            deal("d-hw", "2026-11-04", "500", product_line="hardware"),
            deal("d-lost", "2026-11-05", "700", stage="lost", product_line="saas"),
        ],
    )
    assert await actual(s, "revenue") == 1500

    # Create the KPI: its facts are backfilled from the stored events by a rebuild job.
    resp = await s.client.post(
        "/v1/kpis", json=custom_kpi("saas_revenue", SAAS_SUM), headers=s.auth()
    )
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["key"] == "saas_revenue"
    assert created["names"] == {"zh-CN": "自定义 saas_revenue", "en": "Custom saas_revenue"}
    assert (created["builtin"], created["active"], created["version"]) == (False, True, 1)
    assert (created["shape"], created["event_types"], created["formula"]) == (
        "value",
        ["deal"],
        SAAS_SUM,
    )
    assert (created["unit"], created["direction"], created["category"]) == (
        "currency",
        "higher",
        "result",
    )
    job = await wait_job(s, created["rebuild_job_id"])
    assert job["finished_at"] is not None
    assert job["result"] == {"records": 3}
    body = await progress_body(s, "saas_revenue")
    assert Decimal(body["actual"]) == 1000
    assert (body["unit"], body["currency"], body["names"]["en"]) == (
        "currency",
        "CNY",
        "Custom saas_revenue",
    )
    assert await actual(s, "revenue") == 1500  # the rebuild kept the built-ins
    listed = await catalog(s)
    assert len(listed) == 17
    assert listed["saas_revenue"]["active"] is True

    # A new saas deal afterwards is counted incrementally, without another rebuild.
    await post_scored(s, [deal("d-saas-2", "2026-11-10", "250", product_line="saas")])
    assert await actual(s, "saas_revenue") == 1250

    # A new formula: version 2, facts rebuilt (count of the two saas won deals).
    resp = await s.client.put(
        "/v1/kpis/saas_revenue",
        json={"formula": SAAS_COUNT, "unit": "count", "name_en": "SaaS deals won"},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    changed = resp.json()
    assert (changed["version"], changed["formula"], changed["unit"]) == (2, SAAS_COUNT, "count")
    assert changed["names"]["en"] == "SaaS deals won"
    await wait_job(s, changed["rebuild_job_id"])
    body = await progress_body(s, "saas_revenue")
    assert Decimal(body["actual"]) == 2
    assert (body["unit"], body["currency"]) == ("count", None)
    assert (await catalog(s))["saas_revenue"]["version"] == 2

    # Only labels change: no new version, no rebuild.
    resp = await s.client.put(
        "/v1/kpis/saas_revenue", json={"name_zh": "SaaS签单数"}, headers=s.auth()
    )
    assert resp.status_code == 200, resp.text
    assert (resp.json()["version"], resp.json()["rebuild_job_id"]) == (2, None)
    assert resp.json()["names"]["zh-CN"] == "SaaS签单数"

    # Retire it: it leaves the catalog, progress is 404, its facts are removed.
    resp = await s.client.delete("/v1/kpis/saas_revenue", headers=s.auth())
    assert resp.status_code == 200, resp.text
    assert resp.json()["active"] is False
    await wait_job(s, resp.json()["rebuild_job_id"])
    err = assert_error(await progress(s, "saas_revenue"), 404, "not_found")
    assert "saas_revenue" in err["message"]
    assert "saas_revenue" not in await catalog(s)
    retired = (await catalog(s, include_inactive=True))["saas_revenue"]
    assert (retired["active"], retired["version"]) == (False, 2)
    assert await fact_rows(s, "saas_revenue") == 0
    assert await actual(s, "revenue") == 1750
    # A retired KPI cannot be changed or retired again.
    resp = await s.client.put("/v1/kpis/saas_revenue", json={"name_en": "x"}, headers=s.auth())
    assert_error(resp, 404, "not_found")
    assert_error(await s.client.delete("/v1/kpis/saas_revenue", headers=s.auth()), 404, "not_found")

    # Created again: revived as a new version and backfilled again.
    resp = await s.client.post(
        "/v1/kpis", json=custom_kpi("saas_revenue", SAAS_SUM), headers=s.auth()
    )
    assert resp.status_code == 201, resp.text
    assert (resp.json()["version"], resp.json()["active"]) == (3, True)
    await wait_job(s, resp.json()["rebuild_job_id"])
    assert await actual(s, "saas_revenue") == 1250


async def test_bad_formula_on_post_answers_422_with_the_position(embedded_stack: Stack) -> None:
    s = embedded_stack
    resp = await s.client.post(
        "/v1/kpis", json=custom_kpi("typo_kpi", "sum(deal.amont)"), headers=s.auth()
    )
    err = assert_error(resp, 422, "invalid_input")
    assert [f["field"] for f in err["fields"]] == ["formula"]
    assert "“amont”" in err["fields"][0]["reason"]
    assert "（第 10 个字符处）" in err["fields"][0]["reason"]
    assert err["fields"][0]["reason_code"] == "formula.at_position"
    assert err["fields"][0]["reason_params"]["position"] == 10
    assert "typo_kpi" not in await catalog(s, include_inactive=True)
    # A bad new formula on PUT is refused the same way and changes nothing.
    resp = await s.client.post(
        "/v1/kpis", json=custom_kpi("good_kpi", "count(visit)", unit="count"), headers=s.auth()
    )
    assert resp.status_code == 201, resp.text
    resp = await s.client.put(
        "/v1/kpis/good_kpi", json={"formula": "count(visit"}, headers=s.auth()
    )
    err = assert_error(resp, 422, "invalid_input")
    assert [f["field"] for f in err["fields"]] == ["formula"]
    assert "第 12 个字符" in err["fields"][0]["reason"]  # "count(visit" has 11 characters
    kept = (await catalog(s))["good_kpi"]
    assert (kept["formula"], kept["version"]) == ("count(visit)", 1)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"key": "Revenue2"}, "key"),  # keys are lower case
        ({"key": "x"}, "key"),  # at least two characters
        ({"unit": "furlongs"}, "unit"),
        ({"category": "luck"}, "category"),
        ({"direction": "sideways"}, "direction"),
        ({"formula": ""}, "formula"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_kpi_payloads_answer_422_naming_the_field(
    embedded_stack: Stack, body: dict[str, Any], field: str
) -> None:
    payload = custom_kpi("okay_key", "count(visit)") | body
    resp = await embedded_stack.client.post("/v1/kpis", json=payload, headers=embedded_stack.auth())
    err = assert_error(resp, 422, "invalid_input")
    assert field in [f["field"] for f in err["fields"]], err


async def test_builtin_keys_cannot_be_created_changed_or_retired(embedded_stack: Stack) -> None:
    s = embedded_stack
    resp = await s.client.post(
        "/v1/kpis", json=custom_kpi("revenue", "count(visit)"), headers=s.auth()
    )
    assert "revenue" in assert_error(resp, 409, "conflict")["message"]
    resp = await s.client.put(
        "/v1/kpis/revenue", json={"formula": "count(visit)"}, headers=s.auth()
    )
    assert_error(resp, 409, "conflict")
    assert_error(await s.client.delete("/v1/kpis/win_rate", headers=s.auth()), 409, "conflict")
    # Nothing changed.
    revenue = (await catalog(s))["revenue"]
    assert (revenue["formula"], revenue["version"], revenue["active"]) == (
        'sum(deal.amount where stage == "won")',
        1,
        True,
    )
    # A custom key twice is a conflict too; unknown custom keys are 404.
    first = await s.client.post(
        "/v1/kpis", json=custom_kpi("dup_kpi", "count(visit)"), headers=s.auth()
    )
    assert first.status_code == 201, first.text
    again = await s.client.post(
        "/v1/kpis", json=custom_kpi("dup_kpi", "count(lead)"), headers=s.auth()
    )
    assert_error(again, 409, "conflict")
    assert (await catalog(s))["dup_kpi"]["formula"] == "count(visit)"
    resp = await s.client.put("/v1/kpis/nope_kpi", json={"name_en": "x"}, headers=s.auth())
    assert_error(resp, 404, "not_found")
    assert_error(await s.client.delete("/v1/kpis/nope_kpi", headers=s.auth()), 404, "not_found")


async def test_custom_kpis_need_an_admin_key(embedded_stack: Stack) -> None:
    s = embedded_stack
    key = generate_key()
    async with s.db.transaction() as session:
        await tenant_repo.add_key(
            session,
            tenant_id=s.settings.default_tenant,
            key=key,
            name="reader",
            scopes=["read"],
            now=s.app.state.paceline.clock.now(),
        )
    reader = s.auth(key.plaintext)
    resp = await s.client.post("/v1/kpis", json=custom_kpi("mine", "count(visit)"), headers=reader)
    assert_error(resp, 403, "forbidden")
    # Reading the catalog and checking a formula only need read.
    assert (await s.client.get("/v1/kpis", headers=reader)).status_code == 200
    resp = await s.client.post(
        "/v1/kpis/check-formula", json={"formula": "count(visit)"}, headers=reader
    )
    assert resp.status_code == 200
    assert resp.json()["valid"] is True


async def test_custom_ratio_kpi_on_known_data(embedded_stack: Stack) -> None:
    s = embedded_stack
    # 3 won deals, 1 lost, 1 open; 4 quotes: won / quotes = 3 / 4 = 0.75.
    await post_scored(
        s,
        [
            deal("w1", "2026-11-02", "100"),
            deal("w2", "2026-11-03", "100"),
            deal("w3", "2026-11-04", "100", rep="r2"),
            deal("l1", "2026-11-05", "100", stage="lost"),
            deal("o1", "2026-11-06", "100", stage="open"),
            quote("q1", "2026-11-02"),
            quote("q2", "2026-11-03"),
            quote("q3", "2026-11-04"),
            quote("q4", "2026-11-05", rep="r2"),
            quote("q-oct", "2026-10-30"),  # another month
        ],
    )
    formula = 'ratio(count(deal where stage == "won"), count(quote))'
    resp = await s.client.post(
        "/v1/kpis",
        json=custom_kpi("quote_win_ratio", formula, unit="ratio", category="process", min_sample=3),
        headers=s.auth(),
    )
    assert resp.status_code == 201, resp.text
    assert (resp.json()["shape"], resp.json()["event_types"]) == ("ratio", ["deal", "quote"])
    await wait_job(s, resp.json()["rebuild_job_id"])
    body = await progress_body(s, "quote_win_ratio")
    assert Decimal(body["actual"]) == Decimal("0.75")
    assert (Decimal(body["numerator"]), Decimal(body["denominator"]), body["sample"]) == (3, 4, 4)
    # Rep r2 alone: 1 won / 1 quote.
    body = await progress_body(s, "quote_win_ratio", scope="rep:r2")
    assert Decimal(body["actual"]) == 1
    # October: no won deal, one quote.
    body = await progress_body(s, "quote_win_ratio", period="2026-10")
    assert (Decimal(body["actual"]), Decimal(body["denominator"])) == (0, 1)


async def test_custom_avg_kpi_on_known_data(embedded_stack: Stack) -> None:
    s = embedded_stack
    # Won deals 1000, 500 and 300: average deal size 1800 / 3 = 600. Lost deals do not count.
    await post_scored(
        s,
        [
            deal("a1", "2026-11-02", "1000"),
            deal("a2", "2026-11-03", "500", rep="r2"),
            deal("a3", "2026-11-04", "300", version=1),
            deal("a4", "2026-11-05", "9000", stage="lost"),
        ],
    )
    resp = await s.client.post(
        "/v1/kpis",
        json=custom_kpi("avg_deal_size", 'avg(deal.amount where stage == "won")'),
        headers=s.auth(),
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["shape"] == "ratio"  # an average is a sum over a count
    await wait_job(s, resp.json()["rebuild_job_id"])
    body = await progress_body(s, "avg_deal_size")
    assert Decimal(body["actual"]) == 600
    assert (Decimal(body["numerator"]), Decimal(body["denominator"]), body["sample"]) == (
        1800,
        3,
        3,
    )
    # r1 alone: (1000 + 300) / 2 = 650.
    assert await actual(s, "avg_deal_size", scope="rep:r1") == 650
    # The average moves with a correction: a3 edited from 300 to 600 -> (1000 + 600) / 2 = 800.
    await post_scored(s, [deal("a3", "2026-11-04", "600", version=2)])
    assert await actual(s, "avg_deal_size", scope="rep:r1") == 800


async def test_custom_kpi_reads_unknown_fields_as_attributes(embedded_stack: Stack) -> None:
    s = embedded_stack
    # A field Paceline does not know ("region") is kept in attributes, with a warning.
    resp = await s.post_events(
        [
            deal("n1", "2026-11-02", "100", region="north"),
            deal("n2", "2026-11-03", "40", region="north"),
            deal("s1", "2026-11-04", "7", region="south"),
        ]
    )
    assert resp.status_code == 202, resp.text
    assert "region" in resp.json()["results"][0]["warnings"][0]
    await s.wait_scored()
    resp = await s.client.post(
        "/v1/kpis",
        json=custom_kpi(
            "north_revenue",
            'sum(deal.amount where stage == "won" and attributes.region == "north")',
        ),
        headers=s.auth(),
    )
    assert resp.status_code == 201, resp.text
    await wait_job(s, resp.json()["rebuild_job_id"])
    assert await actual(s, "north_revenue") == 140


async def test_unknown_job_is_404(embedded_stack: Stack) -> None:
    resp = await embedded_stack.client.get("/v1/jobs/999999", headers=embedded_stack.auth())
    assert_error(resp, 404, "not_found")


async def test_concurrent_creates_of_one_key_answer_409(distributed_stack: Stack) -> None:
    s = distributed_stack
    results = await asyncio.gather(
        *[
            s.client.post("/v1/kpis", json=custom_kpi("race_kpi", "count(visit)"), headers=s.auth())
            for _ in range(8)
        ],
        return_exceptions=True,
    )
    statuses = [getattr(r, "status_code", type(r).__name__) for r in results]
    assert sorted(statuses, key=str) == [201] + [409] * 7, statuses
