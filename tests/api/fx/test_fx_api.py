"""Exchange rates: ``GET/PUT /v1/fx-rates``, CSV import, delete, and their effect on facts."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from paceline.shared.auth import generate_key
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.jobs import get_job
from paceline.shared.db.models import Alert, Tenant
from tests.support import Stack

LATE_AS_OF = "2027-06-01T00:00:00+08:00"
USD_ALERT = "missing_fx_rate:USD"
REBUILD_DEADLINE_S = 30.0


def usd_deal(
    deal_id: str = "d-usd", day: str = "2026-11-20", amount: str = "100"
) -> dict[str, Any]:
    """A deal in USD won on a day (10:00 Beijing time) by rep r1."""
    return {
        "event_id": f"{deal_id}-won",
        "type": "deal",
        "entity_id": deal_id,
        "occurred_at": f"{day}T10:00:00+08:00",
        "rep_id": "r1",
        "stage": "won",
        "amount": amount,
        "currency": "USD",
    }


async def put_rates(stack: Stack, rates: list[dict[str, Any]]) -> httpx.Response:
    """PUT /v1/fx-rates with the admin key."""
    return await stack.client.put("/v1/fx-rates", json={"rates": rates}, headers=stack.auth())


async def list_rates(stack: Stack, **params: str) -> list[dict[str, Any]]:
    """GET /v1/fx-rates."""
    resp = await stack.client.get("/v1/fx-rates", params=params, headers=stack.auth())
    assert resp.status_code == 200, resp.text
    body: list[dict[str, Any]] = resp.json()
    return body


async def import_csv(
    stack: Stack, body: bytes, content_type: str = "text/csv; charset=utf-8"
) -> httpx.Response:
    """POST /v1/fx-rates/import."""
    return await stack.client.post(
        "/v1/fx-rates/import",
        content=body,
        headers={**stack.auth(), "Content-Type": content_type},
    )


async def revenue(stack: Stack, period: str = "2026-11") -> Decimal:
    """The company's revenue for a period, read well after it."""
    resp = await stack.client.get(
        "/v1/progress",
        params={"kpi": "revenue", "period": period, "as_of": LATE_AS_OF},
        headers=stack.auth(),
    )
    assert resp.status_code == 200, resp.text
    return Decimal(resp.json()["actual"] or 0)


async def wait_revenue(stack: Stack, expected: Decimal, period: str = "2026-11") -> None:
    """Poll progress until the rebuild has moved revenue to ``expected``."""
    deadline = time.monotonic() + REBUILD_DEADLINE_S
    while (got := await revenue(stack, period)) != expected:
        assert time.monotonic() < deadline, f"revenue is {got}, not {expected}, after 30 s"
        await asyncio.sleep(0.1)


async def wait_job(stack: Stack, job_id: int) -> None:
    """Wait until the scoring worker has finished a job."""
    deadline = time.monotonic() + REBUILD_DEADLINE_S
    while True:
        async with stack.db.transaction(write=False) as session:
            job = await get_job(session, tenant_id=stack.settings.default_tenant, job_id=job_id)
            status = job.status if job is not None else None
        if status == "done":
            return
        assert status in {"pending", "running"}, f"job {job_id} is {status}"
        assert time.monotonic() < deadline, f"job {job_id} did not finish within 30 s"
        await asyncio.sleep(0.05)


async def alert_status(stack: Stack, dedup_key: str) -> str | None:
    """The status of the tenant's alert with this key (None if never raised)."""
    async with stack.db.transaction(write=False) as session:
        status: str | None = await session.scalar(
            select(Alert.status).where(
                Alert.tenant_id == stack.settings.default_tenant, Alert.dedup_key == dedup_key
            )
        )
    return status


async def tenant_updated_at(stack: Stack) -> datetime:
    """The tenant row's updated_at (the scoring worker's cache key)."""
    async with stack.db.transaction(write=False) as session:
        tenant = await session.get(Tenant, stack.settings.default_tenant)
        assert tenant is not None
        return tenant.updated_at


def assert_invalid(resp: httpx.Response, *fields: str) -> None:
    """422 in the stable shape, naming the fields."""
    assert resp.status_code == 422, resp.text
    err = resp.json()["error"]
    assert err["code"] == "invalid_input"
    named = [f["field"] for f in err["fields"]]
    for field in fields:
        assert field in named, err


async def scored_usd_deal(stack: Stack) -> None:
    """Post the USD deal and wait until scoring has applied it."""
    resp = await stack.post_events(usd_deal())
    assert resp.status_code == 202, resp.text
    assert resp.json()["accepted"] == 1
    await stack.wait_scored()


# -- rates reach the facts ----------------------------------------------------------------


async def test_a_rate_converts_an_amount_that_had_none(stack: Stack) -> None:
    s = stack
    await scored_usd_deal(s)
    # No USD rate: the amount is not counted, and a data-quality alert says so.
    assert await revenue(s) == 0
    assert await alert_status(s, USD_ALERT) == "open"

    before = await tenant_updated_at(s)
    resp = await put_rates(s, [{"currency": "USD", "day": "2026-11-01", "rate": "7.1"}])
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["upserted"] == 1
    assert isinstance(body["rebuild_job_id"], int)
    assert await tenant_updated_at(s) > before
    # The PUT resolves the alert; the rebuild finds a rate, so it stays resolved.
    assert await alert_status(s, USD_ALERT) == "resolved"

    await wait_revenue(s, Decimal("710.0000"))
    resp = await s.client.get(
        "/v1/progress",
        params={"kpi": "revenue", "period": "2026-11", "as_of": LATE_AS_OF},
        headers=s.auth(),
    )
    assert resp.json()["actual"] == "710.0000"
    await wait_job(s, body["rebuild_job_id"])
    assert await alert_status(s, USD_ALERT) == "resolved"

    # Deals that arrive after the rate use it directly.
    resp = await s.post_events(usd_deal("d-usd-2", "2026-11-25", "10"))
    assert resp.status_code == 202, resp.text
    await s.wait_scored()
    assert await revenue(s) == Decimal("781")
    assert await alert_status(s, USD_ALERT) == "resolved"


async def test_rates_older_than_31_days_are_not_used(embedded_stack: Stack) -> None:
    s = embedded_stack
    await scored_usd_deal(s)  # won 2026-11-20
    # 2026-10-19 is 32 days before 2026-11-20: too old.
    resp = await put_rates(s, [{"currency": "USD", "day": "2026-10-19", "rate": "6.9"}])
    assert resp.status_code == 200, resp.text
    await wait_job(s, resp.json()["rebuild_job_id"])
    assert await revenue(s) == 0
    # 2026-10-20 is 31 days before: still good.
    resp = await put_rates(s, [{"currency": "USD", "day": "2026-10-20", "rate": "7"}])
    assert resp.status_code == 200, resp.text
    await wait_revenue(s, Decimal("700"))
    # A later rate (still on or before the deal's day) takes over; one after it does not.
    resp = await put_rates(
        s,
        [
            {"currency": "USD", "day": "2026-11-20", "rate": "7.2"},
            {"currency": "USD", "day": "2026-11-21", "rate": "9"},
        ],
    )
    assert resp.status_code == 200, resp.text
    await wait_revenue(s, Decimal("720"))


async def test_deleting_a_rate_rebuilds_the_facts(embedded_stack: Stack) -> None:
    s = embedded_stack
    await scored_usd_deal(s)
    resp = await put_rates(
        s,
        [
            {"currency": "USD", "day": "2026-11-01", "rate": "7.1"},
            {"currency": "USD", "day": "2026-11-15", "rate": "7.3"},
        ],
    )
    assert resp.status_code == 200, resp.text
    await wait_revenue(s, Decimal("730"))

    before = await tenant_updated_at(s)
    resp = await s.client.delete("/v1/fx-rates/usd/2026-11-15", headers=s.auth())
    assert resp.status_code == 200, resp.text
    assert resp.json()["currency"] == "USD"
    assert resp.json()["day"] == "2026-11-15"
    assert isinstance(resp.json()["rebuild_job_id"], int)
    assert await tenant_updated_at(s) > before
    await wait_revenue(s, Decimal("710"))
    assert [r["day"] for r in await list_rates(s)] == ["2026-11-01"]

    resp = await s.client.delete("/v1/fx-rates/USD/2026-11-15", headers=s.auth())
    assert resp.status_code == 404, resp.text
    assert resp.json()["error"]["code"] == "not_found"


async def test_rebuild_reopens_the_alert_when_amounts_still_lack_a_rate(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    await scored_usd_deal(s)  # won 2026-11-20
    assert await alert_status(s, USD_ALERT) == "open"
    # A rate dated after the deal does not serve it.
    resp = await put_rates(s, [{"currency": "USD", "day": "2026-12-01", "rate": "7.1"}])
    assert resp.status_code == 200, resp.text
    await wait_job(s, resp.json()["rebuild_job_id"])
    assert await revenue(s) == 0
    assert await alert_status(s, USD_ALERT) == "open"


# -- PUT and GET ------------------------------------------------------------------------


async def test_put_normalises_and_get_lists_by_currency_and_day(embedded_stack: Stack) -> None:
    s = embedded_stack
    resp = await put_rates(
        s,
        [
            {"currency": "usd", "day": "2026-11-02", "rate": "7.12340"},
            {"currency": "EUR", "day": "2026-11-01", "rate": 7.7},
            {"currency": "JPY", "day": "2026-11-01", "rate": "0.0475000000"},
            {"currency": "USD", "day": "2026-10-01", "rate": "1E+1"},
            {"currency": "HKD", "day": "2026-11-01", "rate": 1},
        ],
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["upserted"] == 5
    rows = await list_rates(s)
    assert [(r["currency"], r["day"], r["rate"]) for r in rows] == [
        ("EUR", "2026-11-01", "7.7"),
        ("HKD", "2026-11-01", "1"),
        ("JPY", "2026-11-01", "0.0475"),
        ("USD", "2026-10-01", "10"),
        ("USD", "2026-11-02", "7.1234"),
    ]
    assert all(datetime.fromisoformat(r["updated_at"]).tzinfo is not None for r in rows)
    # Filters: one currency (any case), and a range of days (to is exclusive).
    assert [r["day"] for r in await list_rates(s, currency="usd")] == [
        "2026-10-01",
        "2026-11-02",
    ]
    assert [r["currency"] for r in await list_rates(s, **{"from": "2026-11-01"})] == [
        "EUR",
        "HKD",
        "JPY",
        "USD",
    ]
    assert [r["currency"] for r in await list_rates(s, to="2026-11-02")] == [
        "EUR",
        "HKD",
        "JPY",
        "USD",
    ]
    assert await list_rates(s, currency="GBP") == []
    resp = await s.client.get(
        "/v1/fx-rates", params={"from": "2026-11-02", "to": "2026-11-01"}, headers=s.auth()
    )
    assert_invalid(resp, "to")


async def test_put_replaces_and_the_same_rates_again_change_nothing(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    rates = [
        {"currency": "USD", "day": "2026-11-01", "rate": "7.1"},
        {"currency": "USD", "day": "2026-11-02", "rate": "7.2"},
    ]
    first = await put_rates(s, rates)
    assert first.status_code == 200, first.text
    before = await tenant_updated_at(s)
    again = await put_rates(s, [{**rates[0], "rate": "7.10"}, rates[1]])
    assert again.status_code == 200, again.text
    assert again.json() == {"upserted": 0, "unchanged": 2, "rebuild_job_id": None}
    assert await tenant_updated_at(s) == before
    changed = await put_rates(s, [rates[0], {**rates[1], "rate": "7.25"}])
    assert changed.status_code == 200, changed.text
    assert (changed.json()["upserted"], changed.json()["unchanged"]) == (1, 1)
    assert changed.json()["rebuild_job_id"] is not None
    assert [r["rate"] for r in await list_rates(s)] == ["7.1", "7.25"]


@pytest.mark.parametrize(
    ("rate", "field"),
    [
        ({"currency": "US", "day": "2026-11-01", "rate": "7"}, "rates[0].currency"),
        ({"currency": "USD1", "day": "2026-11-01", "rate": "7"}, "rates[0].currency"),
        ({"currency": "U$D", "day": "2026-11-01", "rate": "7"}, "rates[0].currency"),
        ({"currency": "CNY", "day": "2026-11-01", "rate": "7"}, "rates[0].currency"),
        ({"currency": "cny", "day": "2026-11-01", "rate": "7"}, "rates[0].currency"),
        ({"currency": "USD", "day": "2026-13-01", "rate": "7"}, "rates[0].day"),
        ({"currency": "USD", "day": "2026-02-30", "rate": "7"}, "rates[0].day"),
        ({"currency": "USD", "day": "soon", "rate": "7"}, "rates[0].day"),
        ({"currency": "USD", "day": "2026-11-01", "rate": "abc"}, "rates[0].rate"),
        ({"currency": "USD", "day": "2026-11-01", "rate": "0"}, "rates[0].rate"),
        ({"currency": "USD", "day": "2026-11-01", "rate": "-7.1"}, "rates[0].rate"),
        ({"currency": "USD", "day": "2026-11-01", "rate": "NaN"}, "rates[0].rate"),
        ({"currency": "USD", "day": "2026-11-01", "rate": "Infinity"}, "rates[0].rate"),
        ({"currency": "USD", "day": "2026-11-01", "rate": "1.12345678901"}, "rates[0].rate"),
        ({"currency": "USD", "day": "2026-11-01", "rate": "1_000"}, "rates[0].rate"),
        ({"currency": "USD", "day": "2026-11-01", "rate": "1e999"}, "rates[0].rate"),
        ({"currency": "USD", "day": "2026-11-01", "rate": True}, "rates[0].rate"),
        ({"currency": "USD", "day": "2026-11-01", "rate": ""}, "rates[0].rate"),
        ({"currency": "USD", "day": "2026-11-01"}, "rates[0].rate"),
        ({"currency": "USD", "day": "2026-11-01", "rate": "7", "x": 1}, "rates[0].x"),
    ],
)
async def test_bad_rates_answer_422_naming_the_field(
    embedded_stack: Stack, rate: dict[str, Any], field: str
) -> None:
    good = {"currency": "EUR", "day": "2026-11-01", "rate": "7.7"}
    resp = await put_rates(embedded_stack, [good, rate])
    assert_invalid(resp, field.replace("rates[0]", "rates[1]"))
    assert await list_rates(embedded_stack) == []  # all or none


async def test_duplicates_and_too_many_rates_answer_422(embedded_stack: Stack) -> None:
    s = embedded_stack
    rate = {"currency": "USD", "day": "2026-11-01", "rate": "7.1"}
    assert_invalid(await put_rates(s, [rate, {**rate, "currency": "usd"}]), "rates[1].day")
    assert_invalid(await put_rates(s, [rate] * 10_001), "rates")
    resp = await s.client.put("/v1/fx-rates", json=[rate], headers=s.auth())
    assert resp.status_code == 422, resp.text


async def test_a_read_key_lists_but_cannot_change_rates(embedded_stack: Stack) -> None:
    s = embedded_stack
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
    assert (await s.client.get("/v1/fx-rates", headers=headers)).status_code == 200
    rates = {"rates": [{"currency": "USD", "day": "2026-11-01", "rate": "7.1"}]}
    resp = await s.client.put("/v1/fx-rates", json=rates, headers=headers)
    assert resp.status_code == 403, resp.text
    resp = await s.client.post(
        "/v1/fx-rates/import",
        content=b"currency,day,rate\nUSD,2026-11-01,7\n",
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert resp.status_code == 403, resp.text
    resp = await s.client.delete("/v1/fx-rates/USD/2026-11-01", headers=headers)
    assert resp.status_code == 403, resp.text
    assert (await s.client.get("/v1/fx-rates")).status_code == 401


# -- CSV import ------------------------------------------------------------------------


async def test_csv_import_keeps_good_rows_and_names_bad_lines(embedded_stack: Stack) -> None:
    s = embedded_stack
    await scored_usd_deal(s)
    # As Excel saves "CSV UTF-8": a BOM, CRLF line ends, its own column names and order.
    text = (
        "Rate,Note,Currency,Date\r\n"  # line 1: header (an extra column, any case/order)
        "7.1,月初,USD,2026-11-01\r\n"  # line 2: good
        "abc,,USD,2026-11-02\r\n"  # line 3: bad rate
        "1,,CNY,2026-11-01\r\n"  # line 4: the tenant currency
        "\r\n"  # line 5: blank, skipped
        "7.7,,eur,2026/11/01\r\n"  # line 6: good (lower case, slashes)
        "7.2,,USD,2026-11-31\r\n"  # line 7: no such day
        ",,,\r\n"  # line 8: an empty row that spreadsheets leave, skipped
        "8,,GBP\r\n"  # line 9: too few cells
        "7.15,,USD,2026-11-01\r\n"  # line 10: the same day as line 2
    )
    resp = await import_csv(s, b"\xef\xbb\xbf" + text.encode())
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["upserted"] == 2
    assert isinstance(body["rebuild_job_id"], int)
    assert [(r["row"], r["field"]) for r in body["rejected"]] == [
        (3, "rate"),
        (4, "currency"),
        (7, "day"),
        (9, "day"),
        (10, "day"),
    ]
    reasons = {r["row"]: r["reason"] for r in body["rejected"]}
    codes = {r["row"]: r["reason_code"] for r in body["rejected"]}
    assert codes == {
        3: "fx.rate_not_decimal",
        4: "fx.tenant_currency",
        7: "fx.day_not_in_calendar",
        9: "fx.cell_empty",
        10: "fx.day_duplicate",
    }
    # In the tenant's language (zh-CN): the currency, the day as Chinese readers write it.
    assert reasons[4] == "是租户的本位币（CNY），不需要汇率"
    assert reasons[9] == "为空"
    assert reasons[10] == "USD 2026年11月1日 已在第 2 行出现"
    rows = await list_rates(s)
    assert [(r["currency"], r["day"], r["rate"]) for r in rows] == [
        ("EUR", "2026-11-01", "7.7"),
        ("USD", "2026-11-01", "7.1"),
    ]
    await wait_revenue(s, Decimal("710"))


async def test_csv_import_with_no_good_row_answers_422(embedded_stack: Stack) -> None:
    s = embedded_stack
    resp = await import_csv(s, b"currency,day,rate\nUSD,2026-11-01,abc\nCNY,2026-11-01,1\n")
    assert_invalid(resp, "line[2].rate", "line[3].currency")
    assert resp.json()["error"]["status"] == 422
    assert_invalid(await import_csv(s, b"currency,rate\nUSD,7\n"), "header")
    assert_invalid(await import_csv(s, b"currency,day,rate\n"), "(body)")
    assert_invalid(await import_csv(s, b""), "(body)")
    assert_invalid(await import_csv(s, "币种,日期\n".encode("gb18030")), "(body)")
    assert await list_rates(s) == []


async def test_csv_import_reads_semicolons_and_a_named_charset(embedded_stack: Stack) -> None:
    s = embedded_stack
    text = "币种;日期;汇率;备注\nUSD;2026-11-01;7,1\nEUR;2026-11-01;7.7;欧元\n"
    resp = await import_csv(s, text.encode("gb18030"), "text/csv; charset=GB18030")
    assert resp.status_code == 200, resp.text
    assert resp.json()["upserted"] == 1
    assert [(r["row"], r["field"]) for r in resp.json()["rejected"]] == [(2, "rate")]


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "text/plain", "application/vnd.ms-excel", "text/csv; charset=klingon"],
)
async def test_csv_import_needs_text_csv(embedded_stack: Stack, content_type: str) -> None:
    resp = await import_csv(embedded_stack, b"currency,day,rate\nUSD,2026-11-01,7\n", content_type)
    assert resp.status_code == 415, resp.text
    assert resp.json()["error"]["code"] == "unsupported_media_type"
