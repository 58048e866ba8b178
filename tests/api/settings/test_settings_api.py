"""``GET/PUT /v1/settings``: defaults, partial updates, validation, and their effect on facts."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from paceline.shared.auth import generate_key
from paceline.shared.clock import FixedClock
from paceline.shared.db import tenants as tenant_repo
from tests.support import Stack

TODAY = datetime.fromisoformat("2026-11-26T10:00:00+08:00")
LATE_AS_OF = "2028-06-01T00:00:00+08:00"
NOV_MID = "2026-11-15T12:00:00+08:00"
PERIOD_KEYS = {"key": 0, "kind": 0, "start": 0, "end": 0}
DEFAULTS = {
    "name": "Default",
    "timezone": "Asia/Shanghai",
    "currency": "CNY",
    "fiscal_year_start_month": 1,
    "locale": "zh-CN",
    "pace_thresholds": {"ahead": "1.10", "on_track": "0.95", "behind": "0.80"},
}


@pytest.fixture
def stack_clock() -> FixedClock:
    """The stacks of these tests run on a fixed clock (tests/conftest.py)."""
    return FixedClock(TODAY)


async def put_settings(stack: Stack, body: dict[str, Any]) -> httpx.Response:
    """PUT /v1/settings with the admin key."""
    return await stack.client.put("/v1/settings", json=body, headers=stack.auth())


async def get_settings(stack: Stack) -> dict[str, Any]:
    """GET /v1/settings."""
    resp = await stack.client.get("/v1/settings", headers=stack.auth())
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def progress(stack: Stack, *, period: str, kpi: str = "visits") -> dict[str, Any]:
    """GET /v1/progress for the company."""
    resp = await stack.client.get(
        "/v1/progress",
        params={"kpi": kpi, "period": period, "as_of": LATE_AS_OF},
        headers=stack.auth(),
    )
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def actual(stack: Stack, *, period: str, kpi: str = "visits") -> Decimal:
    """The company's actual for a period."""
    return Decimal((await progress(stack, period=period, kpi=kpi))["actual"])


def visit(event_id: str, at: str) -> dict[str, Any]:
    """A visit at an instant."""
    return {"event_id": event_id, "type": "visit", "occurred_at": at, "rep_id": "r1"}


def pick(data: dict[str, Any], like: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``data`` with the keys of ``like`` (fields added later are ignored)."""
    return {k: data.get(k) for k in like}


def assert_invalid(resp: httpx.Response, field: str) -> None:
    """422 in the stable shape, naming the field."""
    assert resp.status_code == 422, resp.text
    err = resp.json()["error"]
    assert err["code"] == "invalid_input"
    assert field in [f["field"] for f in err["fields"]], err


async def test_defaults(embedded_stack: Stack) -> None:
    assert pick(await get_settings(embedded_stack), DEFAULTS) == DEFAULTS


async def test_partial_update_keeps_the_rest(embedded_stack: Stack) -> None:
    resp = await put_settings(embedded_stack, {"fiscal_year_start_month": 4})
    assert resp.status_code == 200, resp.text
    expected: dict[str, Any] = {**DEFAULTS, "fiscal_year_start_month": 4, "rebuild_job_id": None}
    assert pick(resp.json(), expected) == expected
    thresholds = {"ahead": "1.20", "on_track": "1.00", "behind": "0.70"}
    resp = await put_settings(embedded_stack, {"pace_thresholds": thresholds, "locale": "en"})
    assert resp.status_code == 200, resp.text
    expected = {
        **DEFAULTS,
        "fiscal_year_start_month": 4,
        "locale": "en",
        "pace_thresholds": thresholds,
    }
    assert pick(await get_settings(embedded_stack), expected) == expected
    resp = await put_settings(embedded_stack, {})
    assert resp.status_code == 200, resp.text
    assert pick(await get_settings(embedded_stack), expected) == expected


async def test_partial_thresholds_keep_the_other_thresholds(embedded_stack: Stack) -> None:
    custom = {"ahead": "1.20", "on_track": "1.00", "behind": "0.70"}
    assert (await put_settings(embedded_stack, {"pace_thresholds": custom})).status_code == 200
    resp = await put_settings(embedded_stack, {"pace_thresholds": {"ahead": "1.50"}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["pace_thresholds"] == {**custom, "ahead": "1.50"}


async def test_currency_is_normalised_to_upper_case(embedded_stack: Stack) -> None:
    resp = await put_settings(embedded_stack, {"currency": "usd"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["currency"] == "USD"
    assert resp.json()["rebuild_job_id"] is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"currency": "usd1"}, "currency"),
        ({"currency": "CN"}, "currency"),
        ({"currency": "ZZZ"}, "currency"),  # three letters, but no ISO 4217 code
        ({"currency": "XXX"}, "currency"),  # ISO's "no currency"
        ({"fiscal_year_start_month": 13}, "fiscal_year_start_month"),
        ({"fiscal_year_start_month": 0}, "fiscal_year_start_month"),
        ({"locale": "fr"}, "locale"),
        (
            {"pace_thresholds": {"ahead": "0.90", "on_track": "0.95", "behind": "0.80"}},
            "pace_thresholds",
        ),
        (
            {"pace_thresholds": {"ahead": "1.10", "on_track": "0.80", "behind": "0.80"}},
            "pace_thresholds",
        ),
        ({"pace_thresholds": {"ahead": "-1"}}, "pace_thresholds.ahead"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_invalid_settings_answer_422_naming_the_field(
    embedded_stack: Stack, body: dict[str, Any], field: str
) -> None:
    assert_invalid(await put_settings(embedded_stack, body), field)
    assert pick(await get_settings(embedded_stack), DEFAULTS) == DEFAULTS


async def test_validation_reasons_are_in_the_tenants_language_naming_the_field(
    embedded_stack: Stack,
) -> None:
    """The tenant's locale (zh-CN) decides the words; Accept-Language overrides them; the
    catalog code and its parameters stay for machines."""
    s = embedded_stack
    resp = await put_settings(s, {"timezone": "Mars/Olympus_Mons"})
    assert resp.status_code == 422, resp.text
    err = resp.json()["error"]
    [field] = err["fields"]
    assert field["field"] == "timezone"
    assert field["reason"] == "'Mars/Olympus_Mons' 不是 IANA 时区（例如 Asia/Shanghai）"
    assert field["reason_code"] == "settings.timezone_invalid"
    assert field["reason_params"] == {"value": "'Mars/Olympus_Mons'"}
    assert err["message"].startswith("请求无效：timezone：")

    bad = {"pace_thresholds": {"ahead": "1.10", "on_track": "0.80", "behind": "0.90"}}
    err = (await put_settings(s, bad)).json()["error"]
    assert err["fields"][0]["field"] == "pace_thresholds"
    assert err["fields"][0]["reason"] == "阈值必须满足 ahead > on_track > behind"
    merged = await put_settings(s, {"pace_thresholds": {"on_track": "1.20"}})
    err = merged.json()["error"]
    assert err["message"] == "pace_thresholds：阈值必须满足 ahead > on_track > behind"
    assert err["fields"][0]["reason_code"] == "settings.thresholds_order"

    resp = await s.client.put(
        "/v1/settings", json={"currency": "ZZZ"}, headers=s.auth() | {"Accept-Language": "en"}
    )
    [field] = resp.json()["error"]["fields"]
    assert (field["field"], field["reason"]) == ("currency", "must be an ISO 4217 code such as CNY")


async def test_auth_refusals_in_zh_cn_and_in_english_on_request(embedded_stack: Stack) -> None:
    """401 before any key is known: Accept-Language, else zh-CN; 403 and 422 after it:
    Accept-Language, else the tenant's locale."""
    s = embedded_stack
    none = await s.client.get("/v1/settings")
    assert none.status_code == 401
    err = none.json()["error"]
    assert err["message"] == "需要 API 密钥：请发送请求头 'Authorization: Bearer <密钥>'"
    assert (err["message_code"], err["message_params"]) == ("web.auth.key_required", {})
    english = await s.client.get("/v1/settings", headers={"Accept-Language": "en-GB"})
    assert english.json()["error"]["message"] == (
        "an API key is required: send 'Authorization: Bearer <key>'"
    )
    wrong = await s.client.get("/v1/settings", headers={"Authorization": "Bearer nope"})
    assert wrong.json()["error"]["message"] == "API 密钥无效（未知、已过期或已吊销）"

    key = generate_key()
    async with s.db.transaction() as session:
        await tenant_repo.add_key(
            session,
            tenant_id=s.settings.default_tenant,
            key=key,
            name="reader",
            scopes=["read"],
            now=s.now(),
        )
    headers = s.auth(key.plaintext)
    refused = await s.client.put("/v1/settings", json={"name": "x"}, headers=headers)
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "此 API 密钥没有 'admin' 权限范围"
    refused = await s.client.put(
        "/v1/settings", json={"name": "x"}, headers=headers | {"Accept-Language": "en"}
    )
    assert refused.json()["error"]["message"] == "this API key lacks the 'admin' scope"


async def test_read_key_reads_but_cannot_change_settings(embedded_stack: Stack) -> None:
    key = generate_key()
    async with embedded_stack.db.transaction() as session:
        await tenant_repo.add_key(
            session,
            tenant_id=embedded_stack.settings.default_tenant,
            key=key,
            name="reader",
            scopes=["read"],
            now=embedded_stack.now(),
        )
    headers = embedded_stack.auth(key.plaintext)
    resp = await embedded_stack.client.get("/v1/settings", headers=headers)
    assert resp.status_code == 200, resp.text
    resp = await embedded_stack.client.put("/v1/settings", json={"name": "x"}, headers=headers)
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"]["code"] == "forbidden"


@pytest.mark.dates
async def test_time_zone_change_rebuilds_the_facts(stack: Stack, stack_clock: FixedClock) -> None:
    s = stack
    # 16:30 UTC on 30 November is 00:30 on 1 December in Asia/Shanghai.
    resp = await s.post_events([visit("late", "2026-11-30T16:30:00Z"), visit("mid", NOV_MID)])
    assert resp.status_code == 202, resp.text
    await s.wait_scored()
    assert await actual(s, period="2026-11") == 1
    assert await actual(s, period="2026-12") == 1

    # A change later than the tenant's creation: its updated_at moves, which is what tells
    # the scoring worker to reload the tenant (paceline.scoring.tenants.TenantCache).
    stack_clock.advance(timedelta(minutes=5))
    resp = await put_settings(s, {"timezone": "UTC"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["timezone"] == "UTC"
    assert isinstance(resp.json()["rebuild_job_id"], int)

    deadline = time.monotonic() + 60
    while await actual(s, period="2026-11") != 2:
        assert time.monotonic() < deadline, "the facts were not rebuilt within 60 s"
        await asyncio.sleep(0.1)
    assert await actual(s, period="2026-12") == 0
    # Events that arrive after the change use the new zone directly.
    resp = await s.post_events(visit("later", "2026-11-30T23:30:00Z"))
    assert resp.status_code == 202, resp.text
    await s.wait_scored()
    assert await actual(s, period="2026-11") == 3
    # Setting the same zone again starts nothing.
    resp = await put_settings(s, {"timezone": "UTC"})
    assert resp.json()["rebuild_job_id"] is None


@pytest.mark.dates
async def test_fiscal_year_start_moves_years_and_quarters(embedded_stack: Stack) -> None:
    s = embedded_stack
    resp = await s.post_events(
        [visit("march", "2026-03-15T10:00:00+08:00"), visit("may", "2026-05-10T10:00:00+08:00")]
    )
    assert resp.status_code == 202, resp.text
    await s.wait_scored()
    assert pick((await progress(s, period="2026"))["period"], PERIOD_KEYS) == {
        "key": "2026",
        "kind": "year",
        "start": "2026-01-01",
        "end": "2027-01-01",
    }
    assert await actual(s, period="2026") == 2

    resp = await put_settings(s, {"fiscal_year_start_month": 4})
    assert resp.status_code == 200, resp.text
    assert resp.json()["rebuild_job_id"] is None  # periods are read-time roll-ups

    year = await progress(s, period="2026")
    assert pick(year["period"], PERIOD_KEYS) == {
        "key": "2026",
        "kind": "year",
        "start": "2026-04-01",
        "end": "2027-04-01",
    }
    assert Decimal(year["actual"]) == 1  # May only; March belongs to fiscal 2025
    assert await actual(s, period="2025") == 1
    quarters = {
        q: (await progress(s, period=f"2026-{q}"))["period"] for q in ("Q1", "Q2", "Q3", "Q4")
    }
    assert [(p["start"], p["end"]) for p in quarters.values()] == [
        ("2026-04-01", "2026-07-01"),
        ("2026-07-01", "2026-10-01"),
        ("2026-10-01", "2027-01-01"),
        ("2027-01-01", "2027-04-01"),
    ]
    assert await actual(s, period="2026-Q1") == 1
    assert await actual(s, period="2025-Q4") == 1
    # Months and weeks stay calendar periods.
    assert (await progress(s, period="2026-05"))["period"]["start"] == "2026-05-01"
