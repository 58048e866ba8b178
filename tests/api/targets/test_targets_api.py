"""Targets: ``POST/GET/PUT /v1/targets`` and ``POST /v1/targets/{id}/acknowledge``.

The stacks here run on a :class:`FixedClock`, so "the period has started", the time a
version is recorded and the version in force at ``as_of`` do not depend on the wall clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from paceline.shared.auth import generate_key
from paceline.shared.clock import FixedClock
from paceline.shared.db import tenants as tenant_repo
from tests.support import Stack, distributed_settings, running_stack

pytestmark = pytest.mark.dates

# "Today" for these tests: Thursday 26 November 2026, 10:00 in Beijing.
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


async def load_org(s: Stack) -> None:
    """PUT /v1/org with two teams and three reps."""
    resp = await s.client.put("/v1/org", json=ORG, headers=s.auth())
    assert resp.status_code == 200, resp.text


def body(
    kpi: str = "revenue", scope: str = "rep:r1", period: str = "2026-12", **kw: Any
) -> dict[str, Any]:
    """A POST /v1/targets body."""
    return {"kpi": kpi, "scope": scope, "period": period, "target": "10000", **kw}


async def create(s: Stack, payload: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/targets, 201 required."""
    resp = await s.client.post("/v1/targets", json=payload, headers=s.auth())
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


async def revise(s: Stack, target_id: int, payload: dict[str, Any]) -> httpx.Response:
    """PUT /v1/targets/{id}."""
    return await s.client.put(f"/v1/targets/{target_id}", json=payload, headers=s.auth())


async def get_target(s: Stack, target_id: int) -> dict[str, Any]:
    """GET /v1/targets/{id}, 200 required."""
    resp = await s.client.get(f"/v1/targets/{target_id}", headers=s.auth())
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


async def list_ids(s: Stack, **params: str) -> list[int]:
    """Ids from GET /v1/targets with filters."""
    resp = await s.client.get("/v1/targets", params=params, headers=s.auth())
    assert resp.status_code == 200, resp.text
    return [t["id"] for t in resp.json()]


async def progress(s: Stack, *, kpi: str, scope: str, period: str, as_of: str) -> dict[str, Any]:
    """GET /v1/progress, 200 required."""
    resp = await s.client.get(
        "/v1/progress",
        params={"kpi": kpi, "scope": scope, "period": period, "as_of": as_of},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


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


def assert_invalid(resp: httpx.Response, *fields: str) -> dict[str, Any]:
    """422 naming exactly these fields."""
    err = assert_error(resp, 422, "invalid_input")
    assert sorted(f["field"] for f in err["fields"]) == sorted(fields), err
    return err


def instants(target: dict[str, Any]) -> dict[str, Any]:
    """A target with its timestamps parsed (the same instant may come in another offset)."""
    out = dict(target)
    out["versions"] = [
        v | {"recorded_at": datetime.fromisoformat(v["recorded_at"])} for v in target["versions"]
    ]
    if out["acknowledged_at"] is not None:
        out["acknowledged_at"] = datetime.fromisoformat(out["acknowledged_at"])
    return out


def dec(value: str | None) -> Decimal | None:
    """A JSON decimal (a string) as a Decimal."""
    return None if value is None else Decimal(value)


async def key_id(s: Stack) -> str:
    """The id of the admin key the tests use (targets record it as the author)."""
    principal = await s.app.state.paceline.keys.principal(s.admin_key)
    return str(principal.key_id)


# -- create ---------------------------------------------------------------------------------


async def test_create_with_baseline_target_stretch(clocked_both: Clocked) -> None:
    s, _clock = clocked_both
    t = await create(s, body(target="10000", baseline="8000", stretch="12500.50", reason="plan"))
    assert isinstance(t["id"], int)
    assert (t["kpi"], t["scope"], t["period"], t["period_kind"]) == (
        "revenue",
        "rep:r1",
        "2026-12",
        "month",
    )
    assert (t["start"], t["end"], t["parent_id"], t["direction"]) == (
        "2026-12-01",
        "2027-01-01",
        None,
        "higher",
    )
    assert (dec(t["target"]), dec(t["baseline"]), dec(t["stretch"])) == (
        Decimal(10000),
        Decimal(8000),
        Decimal("12500.5"),
    )
    assert (t["version"], t["acknowledged"], t["acknowledged_at"], t["acknowledged_by"]) == (
        1,
        False,
        None,
        None,
    )
    [v1] = t["versions"]
    assert v1["version"] == 1
    assert (v1["reason"], v1["author"]) == ("plan", f"key:{await key_id(s)}")
    assert datetime.fromisoformat(v1["recorded_at"]) == TODAY
    assert instants(await get_target(s, t["id"])) == instants(t)
    # Equal values are in order too.
    same = await create(s, body(period="2027-01", baseline="10000", stretch="10000"))
    assert dec(same["baseline"]) == dec(same["stretch"]) == Decimal(10000)
    # Team and company scopes, a quarter and a week; baseline and stretch are optional.
    team = await create(s, body(scope="team:north", period="2026-q4"))
    assert (team["scope"], team["period"], team["period_kind"]) == (
        "team:north",
        "2026-Q4",
        "quarter",
    )
    assert (team["baseline"], team["stretch"]) == (None, None)
    week = await create(s, body(kpi="visits", scope="company", period="2026-W49", target="50"))
    assert (week["start"], week["end"]) == ("2026-11-30", "2026-12-07")


async def test_lower_is_better_orders_the_other_way(clocked: Clocked) -> None:
    s, _clock = clocked
    # response_hours: lower is better, so baseline >= target >= stretch.
    t = await create(s, body(kpi="response_hours", target="4", baseline="6", stretch="3"))
    assert t["direction"] == "lower"
    assert (dec(t["baseline"]), dec(t["target"]), dec(t["stretch"])) == (6, 4, 3)
    # The higher-is-better order is wrong here.
    resp = await s.client.post(
        "/v1/targets",
        json=body(kpi="response_hours", period="2027-01", target="4", baseline="3", stretch="6"),
        headers=s.auth(),
    )
    err = assert_invalid(resp, "baseline", "stretch")
    reasons = {f["field"]: f["reason"] for f in err["fields"]}
    assert reasons == {
        "baseline": "不能低于目标值（越低越好）",
        "stretch": "不能高于目标值（越低越好）",
    }
    codes = {f["field"]: f["reason_code"] for f in err["fields"]}
    assert codes == {
        "baseline": "targets.order.baseline_at_least",
        "stretch": "targets.order.stretch_at_most",
    }
    assert err["message_code"] == "targets.errors.out_of_order"


@pytest.mark.parametrize(
    ("values", "fields"),
    [
        ({"baseline": "10001"}, ["baseline"]),
        ({"stretch": "9999.99"}, ["stretch"]),
        ({"baseline": "12000", "stretch": "8000"}, ["baseline", "stretch"]),
    ],
)
async def test_wrong_order_answers_422_naming_the_field(
    clocked: Clocked, values: dict[str, str], fields: list[str]
) -> None:
    s, _clock = clocked
    resp = await s.client.post("/v1/targets", json=body(**values), headers=s.auth())
    assert_invalid(resp, *fields)
    assert await list_ids(s) == []


async def test_duplicate_answers_409(clocked: Clocked) -> None:
    s, _clock = clocked
    first = await create(s, body())
    resp = await s.client.post("/v1/targets", json=body(target="5"), headers=s.auth())
    err = assert_error(resp, 409, "conflict")
    assert err["message_code"] == "targets.errors.exists"
    assert err["message"].startswith("Ann在2026年12月的销售额目标已存在")
    # The same period written differently is the same target.
    resp = await s.client.post(
        "/v1/targets", json=body(scope=" rep:r1 ", period="2026-12"), headers=s.auth()
    )
    assert_error(resp, 409, "conflict")
    assert dec((await get_target(s, first["id"]))["target"]) == 10000


async def test_unknown_or_bad_references(clocked: Clocked) -> None:
    s, _clock = clocked
    post = s.client.post
    resp = await post("/v1/targets", json=body(kpi="happiness"), headers=s.auth())
    assert "happiness" in assert_invalid(resp, "kpi")["fields"][0]["reason"]
    resp = await post("/v1/targets", json=body(scope="team:nowhere"), headers=s.auth())
    assert "nowhere" in assert_error(resp, 404, "not_found")["message"]
    resp = await post("/v1/targets", json=body(scope="rep:ghost"), headers=s.auth())
    assert "ghost" in assert_error(resp, 404, "not_found")["message"]
    assert_invalid(
        await post("/v1/targets", json=body(scope="everyone"), headers=s.auth()), "scope"
    )
    assert_invalid(
        await post("/v1/targets", json=body(period="2026-13"), headers=s.auth()), "period"
    )
    assert_invalid(await post("/v1/targets", json=body(target="-1"), headers=s.auth()), "target")
    assert_invalid(
        await post("/v1/targets", json=body(parent_id=99999), headers=s.auth()), "parent_id"
    )
    assert_invalid(await post("/v1/targets", json=body(extra=1), headers=s.auth()), "extra")
    assert await list_ids(s) == []
    # A parent that exists is recorded.
    parent = await create(s, body(scope="team:north"))
    child = await create(s, body(parent_id=parent["id"]))
    assert child["parent_id"] == parent["id"]
    assert await list_ids(s, parent_id=str(parent["id"])) == [child["id"]]
    # Unknown targets.
    assert_error(await s.client.get("/v1/targets/99999", headers=s.auth()), 404, "not_found")
    assert_error(await revise(s, 99999, {"target": "1"}), 404, "not_found")


# -- revise -------------------------------------------------------------------------------


async def test_revise_before_the_period_starts_needs_no_reason(clocked: Clocked) -> None:
    s, clock = clocked
    t = await create(s, body(period="2026-12", baseline="9000"))
    # 23:59 on 30 November in Beijing: December has not started.
    clock.set(datetime.fromisoformat("2026-11-30T23:59:00+08:00"))
    resp = await revise(s, t["id"], {"target": "11000", "baseline": "9500", "stretch": "13000"})
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["version"] == 2
    assert (dec(out["target"]), dec(out["baseline"]), dec(out["stretch"])) == (11000, 9500, 13000)
    assert [v["reason"] for v in out["versions"]] == ["", ""]
    # 00:00 on 1 December in Beijing (still 30 November in UTC): December has started.
    clock.set(datetime.fromisoformat("2026-11-30T16:00:00+00:00"))
    resp = await revise(s, t["id"], {"target": "12000"})
    err = assert_invalid(resp, "reason")
    assert err["message"] == "2026年12月已经开始：请说明目标为何变更"
    assert err["fields"][0]["reason_code"] == "targets.errors.reason_required"
    assert (await get_target(s, t["id"]))["version"] == 2


async def test_revise_after_the_period_started_needs_a_reason(clocked: Clocked) -> None:
    s, clock = clocked
    # Created on 26 November for November: the period has started.
    t = await create(s, body(period="2026-11", target="10000", baseline="8000", stretch="12000"))
    clock.set(datetime.fromisoformat("2026-11-27T09:30:00+08:00"))
    resp = await revise(s, t["id"], {"target": "9000", "baseline": "7000"})
    assert_invalid(resp, "reason")
    resp = await revise(s, t["id"], {"target": "9000", "baseline": "7000", "reason": "   "})
    assert_invalid(resp, "reason")  # blank is no reason
    # Out of order is refused before anything else.
    resp = await revise(s, t["id"], {"target": "9000", "baseline": "9500", "reason": "x"})
    assert_invalid(resp, "baseline")
    resp = await revise(
        s, t["id"], {"target": "9000", "baseline": "7000", "reason": "key account lost"}
    )
    assert resp.status_code == 200, resp.text
    revised = resp.json()
    assert revised["version"] == 2
    assert (dec(revised["target"]), dec(revised["baseline"]), revised["stretch"]) == (
        9000,
        7000,
        None,
    )
    # The history: who, when, why, and the old and new values.
    history = (await get_target(s, t["id"]))["versions"]
    author = f"key:{await key_id(s)}"
    assert [
        (v["version"], dec(v["target"]), dec(v["baseline"]), dec(v["stretch"]), v["reason"])
        for v in history
    ] == [
        (1, 10000, 8000, 12000, ""),
        (2, 9000, 7000, None, "key account lost"),
    ]
    assert [v["author"] for v in history] == [author, author]
    assert [datetime.fromisoformat(v["recorded_at"]) for v in history] == [
        TODAY,
        datetime.fromisoformat("2026-11-27T09:30:00+08:00"),
    ]


async def test_progress_uses_the_version_in_force_at_as_of(clocked: Clocked) -> None:
    s, clock = clocked
    # Set on 25 October for November; revised on 15 November with a reason.
    clock.set(datetime.fromisoformat("2026-10-25T10:00:00+08:00"))
    t = await create(s, body(period="2026-11", target="10000", baseline="8000"))
    clock.set(datetime.fromisoformat("2026-11-15T12:00:00+08:00"))
    resp = await revise(s, t["id"], {"target": "6000", "baseline": "5000", "reason": "re-plan"})
    assert resp.status_code == 200, resp.text
    clock.set(TODAY)

    before = await progress(
        s, kpi="revenue", scope="rep:r1", period="2026-11", as_of="2026-11-10T12:00:00+08:00"
    )
    assert (dec(before["target"]), dec(before["baseline"]), before["target_version"]) == (
        10000,
        8000,
        1,
    )
    assert before["target_id"] == t["id"]
    # One second before the revision: still version 1; at the revision: version 2.
    edge = await progress(
        s, kpi="revenue", scope="rep:r1", period="2026-11", as_of="2026-11-15T03:59:59Z"
    )
    assert edge["target_version"] == 1
    after = await progress(
        s, kpi="revenue", scope="rep:r1", period="2026-11", as_of="2026-11-15T12:00:00+08:00"
    )
    assert (dec(after["target"]), dec(after["baseline"]), after["target_version"]) == (
        6000,
        5000,
        2,
    )
    # Before the target was set there was none: progress as it stood then has no target.
    earlier = await progress(
        s, kpi="revenue", scope="rep:r1", period="2026-11", as_of="2026-10-20T12:00:00+08:00"
    )
    assert (earlier["target"], earlier["target_version"], earlier["status"]) == (
        None,
        None,
        "no_target",
    )
    # Another scope has no target at all.
    other = await progress(
        s, kpi="revenue", scope="rep:r2", period="2026-11", as_of="2026-11-20T12:00:00+08:00"
    )
    assert (other["target"], other["status"]) == (None, "no_target")


# -- acknowledge ----------------------------------------------------------------------------


async def test_acknowledge_records_who_when_and_version(clocked: Clocked) -> None:
    s, clock = clocked
    t = await create(s, body(period="2026-11"))
    clock.set(datetime.fromisoformat("2026-11-26T11:00:00+08:00"))
    resp = await s.client.post(
        f"/v1/targets/{t['id']}/acknowledge", json={"by": "r1"}, headers=s.auth()
    )
    assert resp.status_code == 200, resp.text
    acked = resp.json()
    assert (acked["acknowledged"], acked["acknowledged_by"], acked["acknowledged_version"]) == (
        True,
        "r1",
        1,
    )
    assert datetime.fromisoformat(acked["acknowledged_at"]) == clock.now()
    assert (await get_target(s, t["id"]))["acknowledged"] is True

    # A revision asks for a new acknowledgement; the old one stays on record.
    clock.set(datetime.fromisoformat("2026-11-27T09:00:00+08:00"))
    resp = await revise(s, t["id"], {"target": "12000", "reason": "new product line"})
    assert resp.status_code == 200, resp.text
    assert (resp.json()["acknowledged"], resp.json()["acknowledged_version"]) == (False, 1)
    listed = await s.client.get("/v1/targets", params={"period": "2026-11"}, headers=s.auth())
    assert [x["acknowledged"] for x in listed.json()] == [False]

    clock.set(datetime.fromisoformat("2026-11-27T10:00:00+08:00"))
    # Recorded on the rep's behalf (here by a service key): ``by`` is still the rep, and
    # ``acknowledged_recorded_by`` says who recorded it.
    resp = await s.client.post(f"/v1/targets/{t['id']}/acknowledge", json={}, headers=s.auth())
    assert resp.status_code == 200, resp.text
    again = resp.json()
    assert (again["acknowledged"], again["acknowledged_by"], again["acknowledged_version"]) == (
        True,
        "r1",
        2,
    )
    assert again["acknowledged_recorded_by"].startswith("key:")
    assert datetime.fromisoformat(again["acknowledged_at"]) == clock.now()

    # Only the target's rep acknowledges it; unknown targets.
    resp = await s.client.post(
        f"/v1/targets/{t['id']}/acknowledge", json={"by": "manager-m1"}, headers=s.auth()
    )
    assert_invalid(resp, "by")
    resp = await s.client.post("/v1/targets/99999/acknowledge", json={"by": "r1"}, headers=s.auth())
    assert_error(resp, 404, "not_found")


# -- list -------------------------------------------------------------------------------------


async def test_list_filters_and_paginates(clocked: Clocked) -> None:
    s, _clock = clocked
    ids = {}
    for name, kpi, scope, period in [
        ("rev_r1_nov", "revenue", "rep:r1", "2026-11"),
        ("rev_r2_nov", "revenue", "rep:r2", "2026-11"),
        ("vis_r1_nov", "visits", "rep:r1", "2026-11"),
        ("rev_r1_dec", "revenue", "rep:r1", "2026-12"),
        ("rev_co_nov", "revenue", "company", "2026-11"),
        ("rev_north_nov", "revenue", "team:north", "2026-11"),
        ("rev_r1_q4", "revenue", "rep:r1", "2026-Q4"),
    ]:
        ids[name] = (await create(s, body(kpi=kpi, scope=scope, period=period, target="10")))["id"]
    everything = sorted(ids.values())
    assert await list_ids(s) == everything
    assert await list_ids(s, kpi="visits") == [ids["vis_r1_nov"]]
    assert await list_ids(s, scope="rep:r1") == sorted(
        [ids["rev_r1_nov"], ids["vis_r1_nov"], ids["rev_r1_dec"], ids["rev_r1_q4"]]
    )
    assert await list_ids(s, scope="company") == [ids["rev_co_nov"]]
    assert await list_ids(s, period="2026-12") == [ids["rev_r1_dec"]]
    assert await list_ids(s, kpi="revenue", scope="rep:r1", period="2026-11") == [ids["rev_r1_nov"]]
    assert await list_ids(s, kpi="csat") == []
    assert_invalid(
        await s.client.get("/v1/targets", params={"scope": "nobody"}, headers=s.auth()), "scope"
    )
    # The list shows current values, without the history.
    resp = await s.client.get("/v1/targets", params={"kpi": "visits"}, headers=s.auth())
    [row] = resp.json()
    assert (row["kpi"], row["scope"], dec(row["target"]), row["version"]) == (
        "visits",
        "rep:r1",
        10,
        1,
    )

    # Pages of 2 by after_id walk every target exactly once, in id order.
    seen: list[int] = []
    after: int | None = None
    pages = 0
    while True:
        params = {"limit": "2"} | ({"after_id": str(after)} if after is not None else {})
        page = await list_ids(s, **params)
        pages += 1
        if not page:
            break
        assert len(page) <= 2
        seen += page
        after = page[-1]
    assert seen == everything
    assert pages == 5  # 2 + 2 + 2 + 1, then an empty page
    # Filters and the cursor together.
    assert await list_ids(s, scope="rep:r1", after_id=str(ids["vis_r1_nov"]), limit="1") == [
        ids["rev_r1_dec"]
    ]
    assert_invalid(await s.client.get("/v1/targets?limit=0", headers=s.auth()), "limit")


async def test_list_pages_by_cursor_with_the_next_page_headers(clocked_both: Clocked) -> None:
    """More targets than ``limit``: the pages, followed by ``X-Next-Cursor`` or by the
    ``Link: <...>; rel="next"`` URL, hold every target once, in id order; the last page has
    neither header (issue 18)."""
    s, _clock = clocked_both
    created = []
    for kpi in ("revenue", "visits"):
        for scope in ("company", "team:north", "rep:r1", "rep:r2"):
            created.append((await create(s, body(kpi=kpi, scope=scope, target="10")))["id"])
    everything = sorted(created)
    assert len(everything) == 8

    by_header: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        resp = await s.client.get("/v1/targets", params=params, headers=s.auth())
        assert resp.status_code == 200, resp.text
        pages += 1
        page = [t["id"] for t in resp.json()]
        by_header += page
        cursor = resp.headers.get("X-Next-Cursor")
        if cursor is None:
            assert "Link" not in resp.headers
            break
        assert len(page) == 3
        assert cursor == str(page[-1])
        assert resp.headers["Link"] == (f'</v1/targets?limit=3&cursor={cursor}>; rel="next"')
    assert pages == 3  # 3 + 3 + 2: the last page says it is the last
    assert by_header == everything

    # The Link URL as given, filters kept.
    by_link: list[int] = []
    url: str | None = "/v1/targets?kpi=revenue&limit=2"
    while url:
        resp = await s.client.get(url, headers=s.auth())
        assert resp.status_code == 200, resp.text
        by_link += [t["id"] for t in resp.json()]
        link = resp.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
        assert link is None or "kpi=revenue" in link
    assert by_link == everything[:4]

    # A full last page (exactly limit items left) is the last one too.
    resp = await s.client.get("/v1/targets", params={"limit": "8"}, headers=s.auth())
    assert len(resp.json()) == 8
    assert "X-Next-Cursor" not in resp.headers
    # The older after_id still pages, and cursor wins over it.
    resp = await s.client.get(
        "/v1/targets", params={"after_id": str(everything[5]), "limit": "5"}, headers=s.auth()
    )
    assert [t["id"] for t in resp.json()] == everything[6:]
    resp = await s.client.get(
        "/v1/targets",
        params={"cursor": str(everything[6]), "after_id": "0", "limit": "5"},
        headers=s.auth(),
    )
    assert [t["id"] for t in resp.json()] == everything[7:]
    assert_invalid(await s.client.get("/v1/targets?cursor=abc", headers=s.auth()), "cursor")
    for cursor in ("-1", "9" * 20, "١٢"):  # negative, past BIGINT, not ASCII digits
        resp = await s.client.get("/v1/targets", params={"cursor": cursor}, headers=s.auth())
        assert_invalid(resp, "cursor")
    assert_invalid(await s.client.get("/v1/targets?limit=1001", headers=s.auth()), "limit")


async def test_list_normalises_the_period_filter(clocked: Clocked) -> None:
    s, _clock = clocked
    t = await create(s, body(period="2026-q4"))
    assert t["period"] == "2026-Q4"
    assert await list_ids(s, period="2026-q4") == [t["id"]]
    assert await list_ids(s, period="2026-Q4") == [t["id"]]
    resp = await s.client.get("/v1/targets", params={"period": "2026-Q5"}, headers=s.auth())
    assert_invalid(resp, "period")


@pytest.fixture
async def clocked_distributed(
    migrated_database_url: str, kafka_bootstrap: str, tmp_path: Path
) -> AsyncIterator[Clocked]:
    """A PostgreSQL + Kafka stack on a fixed clock, with the org chart loaded."""
    clock = FixedClock(TODAY)
    settings = distributed_settings(migrated_database_url, kafka_bootstrap, data_dir=tmp_path / "d")
    async with running_stack("distributed", settings, clock=clock) as s:
        await load_org(s)
        yield s, clock


async def test_concurrent_writes_do_not_fail_on_postgres(clocked_distributed: Clocked) -> None:
    s, _clock = clocked_distributed
    creates = await asyncio.gather(
        *[
            s.client.post("/v1/targets", json=body(target=str(100 + i)), headers=s.auth())
            for i in range(8)
        ],
        return_exceptions=True,
    )
    # One is created, the others are told it exists.
    statuses = [getattr(r, "status_code", type(r).__name__) for r in creates]
    assert sorted(statuses, key=str) == [201] + [409] * 7, statuses
    [t] = [r.json() for r in creates if isinstance(r, httpx.Response) and r.status_code == 201]
    revisions = await asyncio.gather(
        *[revise(s, t["id"], {"target": str(200 + i)}) for i in range(8)],
        return_exceptions=True,
    )
    statuses = [getattr(r, "status_code", type(r).__name__) for r in revisions]
    assert set(statuses) <= {200, 409}, statuses
    versions = (await get_target(s, t["id"]))["versions"]
    assert [v["version"] for v in versions] == list(range(1, 2 + statuses.count(200)))


async def test_a_read_key_cannot_create_or_revise(clocked: Clocked) -> None:
    s, clock = clocked
    key = generate_key()
    async with s.db.transaction() as session:
        await tenant_repo.add_key(
            session,
            tenant_id=s.settings.default_tenant,
            key=key,
            name="reader",
            scopes=["read"],
            now=clock.now(),
        )
    reader = s.auth(key.plaintext)
    assert_error(await s.client.post("/v1/targets", json=body(), headers=reader), 403, "forbidden")
    t = await create(s, body())
    resp = await s.client.put(f"/v1/targets/{t['id']}", json={"target": "1"}, headers=reader)
    assert_error(resp, 403, "forbidden")
    # A read-only service key reads but does not act: acknowledging is the rep's own act
    # (a key that acts for the rep's user, tests/api/users) or an admin's on their behalf.
    resp = await s.client.post(
        f"/v1/targets/{t['id']}/acknowledge", json={"by": "r1"}, headers=reader
    )
    assert_error(resp, 403, "forbidden")
    assert "admin" in resp.json()["error"]["message"]


# -- words ---------------------------------------------------------------------------------


async def test_errors_in_the_callers_language_with_names(clocked: Clocked) -> None:
    """zh-CN (the tenant's default) with the rep's name and the period as people write it;
    en through Accept-Language; the catalog code and parameters beside each text."""
    s, _clock = clocked
    missing = assert_error(
        await s.client.get("/v1/targets/99999", headers=s.auth()), 404, "not_found"
    )
    assert (missing["message"], missing["message_code"]) == ("没有目标 #99999", "targets.not_found")
    rep = await create(s, body())
    team = await create(s, body(scope="team:north"))
    post = s.client.post
    resp = await post(f"/v1/targets/{rep['id']}/acknowledge", json={"by": "r2"}, headers=s.auth())
    err = assert_invalid(resp, "by")
    assert err["message"] == f"目标 #{rep['id']} 属于Ann：只能由Ann本人确认"
    assert (err["fields"][0]["reason"], err["fields"][0]["reason_code"]) == (
        "必须是 r1",
        "targets.errors.ack_must_be",
    )
    resp = await post(f"/v1/targets/{team['id']}/acknowledge", json={}, headers=s.auth())
    assert assert_invalid(resp, "by")["message"] == "团队或公司目标需要写明由谁确认"
    resp = await post(
        f"/v1/targets/{team['id']}/acknowledge",
        json={},
        headers={**s.auth(), "Accept-Language": "en"},
    )
    assert assert_invalid(resp, "by")["message"] == "name who acknowledges a team or company target"
    resp = await revise(s, rep["id"], {"target": "1", "recursive": True})
    err = assert_invalid(resp, "recursive")
    assert err["message"] == "修订无效"
    assert err["fields"][0]["reason"] == "需要同时设置 children: resplit"
    resp = await post("/v1/targets", json=body(parent_id=99999, period="2027-01"), headers=s.auth())
    err = assert_invalid(resp, "parent_id")
    assert (err["message"], err["fields"][0]["reason"]) == (
        "上级目标 #99999 不存在",
        "没有这个目标",
    )
