"""``GET /v1/progress`` (periods, scopes, as_of, errors) and ``GET /v1/kpis``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from paceline.shared.clock import FixedClock
from tests.support import Stack

pytestmark = pytest.mark.dates

TODAY = datetime.fromisoformat("2026-11-26T10:00:00+08:00")
LATE_AS_OF = "2027-06-01T00:00:00+08:00"

BUILTIN_KEYS = {
    "result": {"revenue", "deals_won", "new_customers", "gross_margin_rate", "payments_collected"},
    "process": {
        "visits",
        "new_opportunities",
        "quotes",
        "win_rate",
        "collection_rate",
        "collection_cycle_days",
        "complaint_rate",
        "response_hours",
        "csat",
    },
    "capability": {"training_pass_rate", "crm_active_days"},
}
LOWER_IS_BETTER = {"collection_cycle_days", "complaint_rate", "response_hours"}


@pytest.fixture
def stack_clock() -> FixedClock:
    """The stacks of these tests run on a fixed clock (tests/conftest.py)."""
    return FixedClock(TODAY)


def deal(deal_id: str, day: str, amount: str, *, stage: str = "won") -> dict[str, Any]:
    """A deal closed on a day (10:00 Beijing time) by rep r1."""
    return {
        "event_id": f"{deal_id}-{stage}",
        "type": "deal",
        "entity_id": deal_id,
        "occurred_at": f"{day}T10:00:00+08:00",
        "rep_id": "r1",
        "stage": stage,
        "amount": amount,
    }


async def get_progress(stack: Stack, **params: str) -> httpx.Response:
    """GET /v1/progress (revenue of the company as of LATE_AS_OF unless given)."""
    query = {"kpi": "revenue", "scope": "company", "as_of": LATE_AS_OF, **params}
    return await stack.client.get("/v1/progress", params=query, headers=stack.auth())


def assert_invalid(resp: httpx.Response, field: str) -> None:
    """422 in the stable shape, naming the field."""
    assert resp.status_code == 422, resp.text
    err = resp.json()["error"]
    assert err["code"] == "invalid_input"
    assert [f["field"] for f in err["fields"]] == [field], err
    assert err["request_id"] == resp.headers["x-request-id"]


@pytest.fixture
async def deals(embedded_stack: Stack, stack_clock: FixedClock) -> Stack:
    """Won deals on 2026-03-02, 2026-10-05, 2026-11-20 (week 47) and 2026-11-24 (week 48),
    received on 2026-02-01 (before every as_of read here: docs/KPIS.md, "As of")."""
    stack_clock.set(datetime.fromisoformat("2026-02-01T09:00:00+08:00"))
    events = [
        deal("d-mar", "2026-03-02", "1"),
        deal("d-oct", "2026-10-05", "10"),
        deal("d-w47", "2026-11-20", "100"),
        deal("d-w48", "2026-11-24", "1000"),
    ]
    resp = await embedded_stack.post_events(events)
    stack_clock.set(TODAY)
    assert resp.status_code == 202, resp.text
    await embedded_stack.wait_scored()
    return embedded_stack


@pytest.mark.parametrize(
    ("period", "kind", "start", "end", "actual"),
    [
        ("2026", "year", "2026-01-01", "2027-01-01", "1111"),
        ("2026-Q4", "quarter", "2026-10-01", "2027-01-01", "1110"),
        ("2026-Q1", "quarter", "2026-01-01", "2026-04-01", "1"),
        ("2026-11", "month", "2026-11-01", "2026-12-01", "1100"),
        ("2026-W48", "week", "2026-11-23", "2026-11-30", "1000"),
        ("2026-W47", "week", "2026-11-16", "2026-11-23", "100"),
        ("2025", "year", "2025-01-01", "2026-01-01", "0"),
    ],
)
async def test_periods(
    deals: Stack, period: str, kind: str, start: str, end: str, actual: str
) -> None:
    resp = await get_progress(deals, period=period)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    got = {k: body["period"][k] for k in ("key", "kind", "start", "end")}
    assert got == {"key": period, "kind": kind, "start": start, "end": end}
    assert Decimal(body["actual"]) == Decimal(actual)
    assert (body["kpi"], body["scope"], body["unit"], body["currency"]) == (
        "revenue",
        "company",
        "currency",
        "CNY",
    )
    assert body["names"] == {"zh-CN": "销售额", "en": "Revenue"}
    # The last counted day is the period's last day (as_of is after the period).
    assert body["through_day"] < end


async def test_period_keys_are_normalised(embedded_stack: Stack) -> None:
    resp = await get_progress(embedded_stack, period="2026-w48")
    assert resp.status_code == 200, resp.text
    assert resp.json()["period"]["key"] == "2026-W48"


@pytest.mark.parametrize(
    "period", ["2026-13", "2026-00", "26", "2026-Q5", "2025-W53", "2026-1", "2026/11", "Nov", ""]
)
async def test_bad_period_answers_422(embedded_stack: Stack, period: str) -> None:
    assert_invalid(await get_progress(embedded_stack, period=period), "period")


@pytest.mark.parametrize("scope", ["team:", "rep:", "everyone", "team", "Company", "org:x"])
async def test_bad_scope_answers_422(embedded_stack: Stack, scope: str) -> None:
    assert_invalid(await get_progress(embedded_stack, period="2026-11", scope=scope), "scope")


async def test_missing_parameters_answer_422(embedded_stack: Stack) -> None:
    resp = await embedded_stack.client.get(
        "/v1/progress", params={"period": "2026-11"}, headers=embedded_stack.auth()
    )
    assert_invalid(resp, "kpi")
    resp = await embedded_stack.client.get(
        "/v1/progress", params={"kpi": "revenue"}, headers=embedded_stack.auth()
    )
    assert_invalid(resp, "period")


async def test_unknown_kpi_answers_404(embedded_stack: Stack) -> None:
    resp = await get_progress(embedded_stack, kpi="happiness", period="2026-11")
    assert resp.status_code == 404, resp.text
    err = resp.json()["error"]
    assert err["code"] == "not_found"
    assert "happiness" in err["message"]
    assert_invalid(await get_progress(embedded_stack, kpi="k" * 65, period="2026-11"), "kpi")


async def test_unknown_team_answers_404(embedded_stack: Stack) -> None:
    resp = await get_progress(embedded_stack, period="2026-11", scope="team:nowhere")
    assert resp.status_code == 404, resp.text
    assert resp.json()["error"]["code"] == "not_found"
    assert "nowhere" in resp.json()["error"]["message"]


async def test_as_of_cuts_at_whole_local_days(deals: Stack) -> None:
    before = await get_progress(deals, period="2026-11", as_of="2026-11-15T00:00:00+08:00")
    assert before.status_code == 200, before.text
    assert Decimal(before.json()["actual"]) == 0
    assert before.json()["through_day"] == "2026-11-14"
    after = await get_progress(deals, period="2026-11", as_of="2026-11-21T00:00:00+08:00")
    assert Decimal(after.json()["actual"]) == 100
    assert after.json()["through_day"] == "2026-11-20"
    # The same instant written in UTC.
    utc = await get_progress(deals, period="2026-11", as_of="2026-11-20T16:00:00Z")
    assert Decimal(utc.json()["actual"]) == 100
    assert utc.json()["through_day"] == "2026-11-20"
    # One second earlier, 20 November has not begun in Beijing.
    utc = await get_progress(deals, period="2026-11", as_of="2026-11-19T15:59:59Z")
    assert Decimal(utc.json()["actual"]) == 0
    assert utc.json()["through_day"] == "2026-11-19"


async def test_as_of_before_the_period_counts_nothing(deals: Stack) -> None:
    resp = await get_progress(deals, period="2026-11", as_of="2026-10-20T00:00:00+08:00")
    assert resp.status_code == 200, resp.text
    assert resp.json()["through_day"] is None
    assert Decimal(resp.json()["actual"]) == 0


@pytest.mark.parametrize("as_of", ["2026-11-15T00:00:00", "2026-11-15", "yesterday", "1e9x"])
async def test_as_of_without_offset_answers_422(embedded_stack: Stack, as_of: str) -> None:
    assert_invalid(await get_progress(embedded_stack, period="2026-11", as_of=as_of), "as_of")


async def test_ratio_kpi_has_numerator_and_denominator(embedded_stack: Stack) -> None:
    events = [
        deal("w1", "2026-11-02", "10"),
        deal("w2", "2026-11-03", "10"),
        deal("w3", "2026-11-04", "10"),
        deal("l1", "2026-11-05", "10", stage="lost"),
        deal("o1", "2026-11-06", "10", stage="open"),
    ]
    assert (await embedded_stack.post_events(events)).status_code == 202
    await embedded_stack.wait_scored()
    resp = await get_progress(embedded_stack, kpi="win_rate", period="2026-11")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["unit"], body["currency"]) == ("ratio", None)
    assert Decimal(body["actual"]) == Decimal("0.75")
    assert Decimal(body["numerator"]) == 3
    assert Decimal(body["denominator"]) == 4


async def test_progress_needs_a_read_key(embedded_stack: Stack) -> None:
    resp = await embedded_stack.client.get(
        "/v1/progress", params={"kpi": "revenue", "period": "2026-11"}
    )
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"]["code"] == "unauthorized"


async def test_kpi_catalog_lists_16_kpis_with_names(embedded_stack: Stack) -> None:
    resp = await embedded_stack.client.get("/v1/kpis", headers=embedded_stack.auth())
    assert resp.status_code == 200, resp.text
    kpis = resp.json()
    assert len(kpis) == 16
    assert len({k["key"] for k in kpis}) == 16
    by_category: dict[str, set[str]] = {}
    for k in kpis:
        by_category.setdefault(k["category"], set()).add(k["key"])
        assert set(k["names"]) == {"zh-CN", "en"}, k
        assert k["names"]["zh-CN"].strip(), k
        assert k["names"]["en"].strip(), k
        assert k["names"]["zh-CN"] != k["names"]["en"], k
        assert k["unit"], k
        assert k["formula"], k
        assert k["builtin"] is True
        assert k["direction"] == ("lower" if k["key"] in LOWER_IS_BETTER else "higher"), k
    assert by_category == BUILTIN_KEYS
    names = {k["key"]: k["names"] for k in kpis}
    assert names["revenue"] == {"zh-CN": "销售额", "en": "Revenue"}
    assert names["deals_won"]["zh-CN"] == "签单数"
    assert names["visits"]["zh-CN"] == "拜访次数"


async def test_kpi_catalog_needs_a_key(embedded_stack: Stack) -> None:
    resp = await embedded_stack.client.get("/v1/kpis")
    assert resp.status_code == 401, resp.text


@pytest.fixture
async def lenient_client(embedded_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """A client that receives the app's 500 responses instead of re-raising the error."""
    transport = httpx.ASGITransport(app=embedded_stack.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://paceline.test", headers=embedded_stack.auth()
    ) as client:
        yield client


@pytest.mark.parametrize("period", ["9999", "9999-Q4", "9999-12", "9999-W52", "0000", "0001"])
async def test_periods_out_of_the_calendar_answer_422(
    lenient_client: httpx.AsyncClient, period: str
) -> None:
    # 9999-W52 used to end in an OverflowError (500) in shared/kpi/periods.py.
    resp = await lenient_client.get("/v1/progress", params={"kpi": "revenue", "period": period})
    assert_invalid(resp, "period")


@pytest.mark.parametrize(
    "as_of", ["9999-12-31T23:00:00+00:00", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00Z"]
)
async def test_as_of_out_of_range_answers_422(
    lenient_client: httpx.AsyncClient, as_of: str
) -> None:
    # Near the end of year 9999 this used to overflow in counted_days_end (500).
    resp = await lenient_client.get(
        "/v1/progress", params={"kpi": "revenue", "period": "2026-11", "as_of": as_of}
    )
    assert_invalid(resp, "as_of")


async def test_company_crm_active_days_is_a_share(embedded_stack: Stack) -> None:
    # Reps unknown to the org chart count in the numerator; they used to be missing from
    # the denominator, which gave 2.0 here.
    s = embedded_stack
    resp = await s.client.put(
        "/v1/org", json={"reps": [{"id": "r1", "name": "Known"}]}, headers=s.auth()
    )
    assert resp.status_code == 200, resp.text
    week = ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"]
    events = [
        {
            "event_id": f"{rep}-{day}",
            "type": "visit",
            "occurred_at": f"{day}T10:00:00+08:00",
            "rep_id": rep,
        }
        for rep in ("ghost-1", "ghost-2")
        for day in week
    ]
    assert (await s.post_events(events)).status_code == 202
    await s.wait_scored()
    resp = await get_progress(s, kpi="crm_active_days", period="2026-W48")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert Decimal(body["actual"]) <= 1, body
    assert Decimal(body["numerator"]) == 10  # 2 unknown reps x 5 working days
