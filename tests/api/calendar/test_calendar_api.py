"""The work calendar: ``GET /v1/calendar``, its base, the tenant's days, the settings switch."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import httpx
import pytest

from paceline.shared.auth import generate_key
from paceline.shared.clock import Clock, FixedClock
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.models import Tenant
from tests.support import Stack

pytestmark = pytest.mark.dates

TODAY = datetime.fromisoformat("2026-11-26T10:00:00+08:00")


@pytest.fixture
def stack_clock() -> Clock:
    """The stacks of these tests run on a fixed clock (tests/conftest.py)."""
    return FixedClock(TODAY)


async def get_calendar(stack: Stack, start: str, end: str) -> dict[str, Any]:
    """GET /v1/calendar over [start, end)."""
    resp = await stack.client.get(
        "/v1/calendar", params={"from": start, "to": end}, headers=stack.auth()
    )
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def by_day(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The days of a calendar answer, by ISO day."""
    return {d["day"]: d for d in body["days"]}


async def tenant_updated_at(stack: Stack) -> datetime:
    """The tenant row's updated_at."""
    async with stack.db.transaction(write=False) as session:
        tenant = await session.get(Tenant, stack.settings.default_tenant)
        assert tenant is not None
        return tenant.updated_at


def assert_invalid(resp: httpx.Response, field: str) -> None:
    """422 in the stable shape, naming the field."""
    assert resp.status_code == 422, resp.text
    err = resp.json()["error"]
    assert err["code"] == "invalid_input"
    assert field in [f["field"] for f in err["fields"]], err


async def test_national_day_and_its_make_up_days(embedded_stack: Stack) -> None:
    body = await get_calendar(embedded_stack, "2026-09-14", "2026-10-19")
    assert body["base"] == "cn"
    days = by_day(body)
    assert len(days) == 35  # `to` is exclusive
    assert (body["days"][0]["day"], body["days"][-1]["day"]) == ("2026-09-14", "2026-10-18")
    sunday = days["2026-09-20"]
    assert date.fromisoformat(sunday["day"]).weekday() == 6
    assert (sunday["kind"], sunday["source"]) == ("workday", "builtin")
    assert sunday["name"].startswith("国庆节调休")
    for d in range(1, 8):
        day = days[f"2026-10-0{d}"]
        assert (day["kind"], day["source"]) == ("holiday", "builtin"), day
        assert day["name"].startswith("国庆节")
    saturday = days["2026-10-10"]
    assert date.fromisoformat(saturday["day"]).weekday() == 5
    assert (saturday["kind"], saturday["source"]) == ("workday", "builtin")
    assert days["2026-09-25"]["name"].startswith("中秋节")
    assert days["2026-09-14"] == {
        "day": "2026-09-14",
        "kind": "workday",
        "name": "",
        "source": "weekday",
    }
    assert (days["2026-10-17"]["kind"], days["2026-10-17"]["source"]) == ("weekend", "weekday")
    # 2026-09-14 (Mon) to 2026-10-18 (Sun) is 5 whole weeks: 5 x 5 = 25 weekdays.
    # Holidays on weekdays: 09-25 (Fri, 中秋节), 10-01 (Thu), 10-02 (Fri), 10-05 (Mon),
    # 10-06 (Tue), 10-07 (Wed) = 6 (10-03, 10-04 and 09-26, 09-27 are weekend days anyway).
    # Make-up working days on weekends: 09-20 (Sun), 10-10 (Sat) = 2.
    # 25 - 6 + 2 = 21.
    assert body["working_days"] == 21
    assert body["working_days"] == sum(d["kind"] == "workday" for d in body["days"])


async def test_a_tenant_holiday_shows_and_can_be_removed(stack: Stack) -> None:
    s = stack
    before = await get_calendar(s, "2026-11-01", "2026-12-01")
    assert by_day(before)["2026-11-11"]["kind"] == "workday"
    updated_at = await tenant_updated_at(s)

    resp = await s.client.put(
        "/v1/calendar/days/2026-11-11", json={"kind": "holiday", "name": "公司日"}, headers=s.auth()
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "day": "2026-11-11",
        "kind": "holiday",
        "name": "公司日",
        "source": "tenant",
    }
    after = await get_calendar(s, "2026-11-01", "2026-12-01")
    assert by_day(after)["2026-11-11"] == resp.json()
    assert after["working_days"] == before["working_days"] - 1
    # Working days are read-time only: nothing to rebuild, the tenant row is untouched.
    assert await tenant_updated_at(s) == updated_at

    resp = await s.client.delete("/v1/calendar/days/2026-11-11", headers=s.auth())
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"day": "2026-11-11", "kind": "workday", "name": "", "source": "weekday"}
    assert await get_calendar(s, "2026-11-01", "2026-12-01") == before
    resp = await s.client.delete("/v1/calendar/days/2026-11-11", headers=s.auth())
    assert resp.status_code == 404, resp.text
    assert resp.json()["error"]["code"] == "not_found"


async def test_a_tenant_change_overrides_the_base(embedded_stack: Stack) -> None:
    s = embedded_stack
    base = await get_calendar(s, "2026-10-01", "2026-10-12")
    # The company works on 10-07 (a built-in holiday) and takes the make-up Saturday
    # 10-10 off.
    for day, change in [
        ("2026-10-07", {"kind": "workday", "name": "值班 on duty"}),
        ("2026-10-10", {"kind": "holiday"}),
    ]:
        resp = await s.client.put(f"/v1/calendar/days/{day}", json=change, headers=s.auth())
        assert resp.status_code == 200, resp.text
    # Putting the same day again replaces the change.
    resp = await s.client.put(
        "/v1/calendar/days/2026-10-10", json={"kind": "holiday", "name": "团建"}, headers=s.auth()
    )
    assert resp.status_code == 200, resp.text
    body = await get_calendar(s, "2026-10-01", "2026-10-12")
    days = by_day(body)
    assert days["2026-10-07"] == {
        "day": "2026-10-07",
        "kind": "workday",
        "name": "值班 on duty",
        "source": "tenant",
    }
    assert days["2026-10-10"] == {
        "day": "2026-10-10",
        "kind": "holiday",
        "name": "团建",
        "source": "tenant",
    }
    assert days["2026-10-06"]["source"] == "builtin"
    assert body["working_days"] == base["working_days"]  # one day gained, one lost

    resp = await s.client.delete("/v1/calendar/days/2026-10-10", headers=s.auth())
    assert resp.status_code == 200, resp.text
    assert (resp.json()["kind"], resp.json()["source"]) == ("workday", "builtin")
    assert resp.json()["name"].startswith("国庆节调休")


async def test_base_none_is_monday_to_friday(embedded_stack: Stack) -> None:
    s = embedded_stack
    resp = await s.client.get("/v1/settings", headers=s.auth())
    assert resp.json()["calendar"] == "cn"
    resp = await s.client.put("/v1/settings", json={"calendar": "none"}, headers=s.auth())
    assert resp.status_code == 200, resp.text
    assert resp.json()["calendar"] == "none"
    assert resp.json()["rebuild_job_id"] is None
    body = await get_calendar(s, "2026-10-01", "2026-10-02")
    assert body == {
        "base": "none",
        "working_days": 1,
        "days": [{"day": "2026-10-01", "kind": "workday", "name": "", "source": "weekday"}],
    }
    # 2026-09-14..2026-10-18 is 5 whole weeks: 25 weekdays, no holidays, no make-up days.
    assert (await get_calendar(s, "2026-09-14", "2026-10-19"))["working_days"] == 25
    # The tenant's own days still apply on top of the base.
    resp = await s.client.put(
        "/v1/calendar/days/2026-10-01", json={"kind": "holiday", "name": "x"}, headers=s.auth()
    )
    assert resp.status_code == 200, resp.text
    assert (await get_calendar(s, "2026-10-01", "2026-10-02"))["working_days"] == 0
    resp = await s.client.get("/v1/calendar/base", headers=s.auth())
    assert resp.json() == {
        "name": "none",
        "title": "周一至周五工作",
        "title_code": "calendar.base.none",
        "years": [],
        "available": ["cn", "none"],
    }
    # Back to cn.
    resp = await s.client.put("/v1/settings", json={"calendar": "cn"}, headers=s.auth())
    assert resp.status_code == 200, resp.text
    days = by_day(await get_calendar(s, "2026-10-01", "2026-10-03"))
    assert days["2026-10-01"]["source"] == "tenant"
    assert days["2026-10-02"]["kind"] == "holiday"
    # A built-in day's name: its Chinese part for a zh-CN reader, the whole name in English.
    assert days["2026-10-02"]["name"] == "国庆节"
    resp = await s.client.get(
        "/v1/calendar",
        params={"from": "2026-10-02", "to": "2026-10-03"},
        headers={**s.auth(), "Accept-Language": "en"},
    )
    assert resp.json()["days"][0]["name"] == "国庆节 National Day"
    assert_invalid(
        await s.client.put("/v1/settings", json={"calendar": "us"}, headers=s.auth()), "calendar"
    )


async def test_the_base_calendar_lists_its_years(embedded_stack: Stack) -> None:
    resp = await embedded_stack.client.get("/v1/calendar/base", headers=embedded_stack.auth())
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["name"] == "cn"
    assert body["available"] == ["cn", "none"]
    years = {y["year"]: y for y in body["years"]}
    assert years[2026]["status"] == "official"
    assert "2026" in years[2026]["source"]
    assert years[2026]["makeup_workdays"] == 6
    assert years[2027]["status"] == "provisional"
    assert years[2027]["holidays"] > 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-01-01", "to": "2027-01-03"}, "to"),  # 367 days
        ({"from": "2026-01-02", "to": "2026-01-01"}, "to"),
        ({"from": "2026-01-01", "to": "2026-01-01"}, "to"),
        ({"to": "2026-01-01"}, "from"),
        ({"from": "2026-01-01"}, "to"),
        ({"from": "2026-02-30", "to": "2026-03-01"}, "from"),
    ],
)
async def test_bad_ranges_answer_422(
    embedded_stack: Stack, params: dict[str, str], field: str
) -> None:
    resp = await embedded_stack.client.get(
        "/v1/calendar", params=params, headers=embedded_stack.auth()
    )
    assert_invalid(resp, field)


async def test_a_leap_year_fits_in_one_request(embedded_stack: Stack) -> None:
    body = await get_calendar(embedded_stack, "2028-01-01", "2029-01-01")  # 366 days
    assert len(body["days"]) == 366
    # 2028 is beyond the built-in data: the Monday-to-Friday rule (2028 has 260 weekdays).
    assert body["working_days"] == 260
    assert {d["source"] for d in body["days"]} == {"weekday"}


@pytest.mark.parametrize(
    "body",
    [{"kind": "weekend"}, {"name": "x"}, {"kind": "holiday", "name": "x" * 201}, {"kind": 1}],
)
async def test_bad_day_changes_answer_422(embedded_stack: Stack, body: dict[str, Any]) -> None:
    s = embedded_stack
    resp = await s.client.put("/v1/calendar/days/2026-11-11", json=body, headers=s.auth())
    assert resp.status_code == 422, resp.text
    resp = await s.client.put(
        "/v1/calendar/days/2026-11-31", json={"kind": "holiday"}, headers=s.auth()
    )
    assert_invalid(resp, "day")


async def test_a_read_key_reads_but_cannot_change_the_calendar(embedded_stack: Stack) -> None:
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
    params = {"from": "2026-11-01", "to": "2026-11-02"}
    assert (await s.client.get("/v1/calendar", params=params, headers=headers)).status_code == 200
    assert (await s.client.get("/v1/calendar/base", headers=headers)).status_code == 200
    resp = await s.client.put(
        "/v1/calendar/days/2026-11-11", json={"kind": "holiday"}, headers=headers
    )
    assert resp.status_code == 403, resp.text
    resp = await s.client.delete("/v1/calendar/days/2026-11-11", headers=headers)
    assert resp.status_code == 403, resp.text
    assert (await s.client.get("/v1/calendar", params=params)).status_code == 401
