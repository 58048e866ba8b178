"""The org chart: ``PUT /v1/org``, per-item routes, memberships over time, team roll-ups."""

from __future__ import annotations

import copy
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from paceline.shared.auth import generate_key
from paceline.shared.clock import Clock, FixedClock
from paceline.shared.db import tenants as tenant_repo
from tests.support import Stack

pytestmark = pytest.mark.dates

TODAY = datetime.fromisoformat("2026-11-26T10:00:00+08:00")
LATE_AS_OF = "2027-06-01T00:00:00+08:00"
CHANGE_KEYS = (
    "teams_added",
    "teams_updated",
    "teams_deactivated",
    "reps_added",
    "reps_updated",
    "reps_deactivated",
    "reps_moved",
)

ORG: dict[str, Any] = {
    "teams": [
        {"id": "hq", "name": "HQ"},
        {"id": "north", "name": "North", "parent_id": "hq"},
        {"id": "east", "name": "East", "parent_id": "hq"},
    ],
    "reps": [
        {"id": "r-n", "name": "Nina", "team_id": "north"},
        {"id": "r-e", "name": "Eli", "team_id": "east", "role": "account_manager"},
        {"id": "r-m", "name": "Max", "team_id": "north"},
    ],
}


@pytest.fixture
def stack_clock() -> Clock:
    """The stacks of these tests run on a fixed clock (tests/conftest.py)."""
    return FixedClock(TODAY)


def org(**changes: Any) -> dict[str, Any]:
    """A deep copy of ORG with top-level keys replaced."""
    body = copy.deepcopy(ORG)
    body.update(changes)
    return body


async def put_org(stack: Stack, body: dict[str, Any]) -> httpx.Response:
    """PUT /v1/org with the admin key."""
    return await stack.client.put("/v1/org", json=body, headers=stack.auth())


async def get(stack: Stack, path: str) -> httpx.Response:
    """GET with the admin key."""
    return await stack.client.get(path, headers=stack.auth())


def spans(rep: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """A rep's memberships as (team, valid_from, valid_to)."""
    return [(m["team_id"], m["valid_from"], m["valid_to"]) for m in rep["memberships"]]


def team_of(data: dict[str, Any]) -> tuple[str, str, str | None, bool]:
    """A team as (id, name, parent_id, active)."""
    return (data["id"], data["name"], data["parent_id"], data["active"])


def assert_error(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The stable error shape with this status and code; returns the ``error`` object."""
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


async def progress_actual(
    stack: Stack, *, scope: str, kpi: str = "revenue", period: str = "2026-11"
) -> Decimal:
    """The ``actual`` of GET /v1/progress."""
    resp = await stack.client.get(
        "/v1/progress",
        params={"kpi": kpi, "period": period, "scope": scope, "as_of": LATE_AS_OF},
        headers=stack.auth(),
    )
    assert resp.status_code == 200, resp.text
    return Decimal(resp.json()["actual"])


async def make_key(stack: Stack, scopes: list[str]) -> str:
    """A new API key of the default tenant with these scopes."""
    key = generate_key()
    async with stack.db.transaction() as session:
        await tenant_repo.add_key(
            session,
            tenant_id=stack.settings.default_tenant,
            key=key,
            name="test",
            scopes=scopes,
            now=stack.now(),
        )
    return key.plaintext


def won_deal(deal_id: str, *, rep: str, day: str, amount: str) -> dict[str, Any]:
    """A deal won on a day (10:00 Beijing time)."""
    return {
        "event_id": f"{deal_id}-won",
        "type": "deal",
        "entity_id": deal_id,
        "occurred_at": f"{day}T10:00:00+08:00",
        "rep_id": rep,
        "stage": "won",
        "amount": amount,
    }


# -- the whole chart -----------------------------------------------------------------------


async def test_put_org_lists_teams_and_reps_and_counts_changes(embedded_stack: Stack) -> None:
    resp = await put_org(embedded_stack, org())
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert {k: body["changes"][k] for k in CHANGE_KEYS} == {
        "teams_added": 3,
        "teams_updated": 0,
        "teams_deactivated": 0,
        "reps_added": 3,
        "reps_updated": 0,
        "reps_deactivated": 0,
        "reps_moved": 0,
    }
    assert {(t["id"], t["parent_id"], t["active"]) for t in body["teams"]} == {
        ("hq", None, True),
        ("north", "hq", True),
        ("east", "hq", True),
    }
    assert {(r["id"], r["team_id"], r["role"], r["active"]) for r in body["reps"]} == {
        ("r-n", "north", None, True),
        ("r-e", "east", "account_manager", True),
        ("r-m", "north", None, True),
    }
    got = await get(embedded_stack, "/v1/org")
    assert got.status_code == 200, got.text
    assert got.json()["teams"] == body["teams"]
    assert got.json()["reps"] == body["reps"]


async def test_put_org_twice_changes_nothing(embedded_stack: Stack) -> None:
    first = await put_org(embedded_stack, org())
    assert first.status_code == 200, first.text
    again = await put_org(embedded_stack, org())
    assert again.status_code == 200, again.text
    assert set(again.json()["changes"].values()) == {0}
    assert again.json()["teams"] == first.json()["teams"]
    assert again.json()["reps"] == first.json()["reps"]
    moved = org(effective_from="2026-11-15")
    moved["reps"][2]["team_id"] = "east"
    resp = await put_org(embedded_stack, moved)
    assert resp.json()["changes"]["reps_moved"] == 1
    resp = await put_org(embedded_stack, moved)
    assert set(resp.json()["changes"].values()) == {0}
    rep = (await get(embedded_stack, "/v1/reps/r-m")).json()
    assert len(rep["memberships"]) == 2


async def test_put_org_counts_updates(embedded_stack: Stack) -> None:
    await put_org(embedded_stack, org())
    changed = org()
    changed["teams"][1]["name"] = "North & Co"
    changed["reps"][0]["role"] = "presales"
    resp = await put_org(embedded_stack, changed)
    assert resp.status_code == 200, resp.text
    changes = resp.json()["changes"]
    assert (changes["teams_updated"], changes["reps_updated"]) == (1, 1)
    assert changes["teams_added"] == changes["reps_added"] == changes["reps_moved"] == 0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"teams": [{"id": "a", "name": "A", "parent_id": "nope"}]},
            [("teams[0].parent_id", "团队 'nope' 不存在")],
        ),
        (
            {
                "teams": [
                    {"id": "a", "name": "A", "parent_id": "b"},
                    {"id": "b", "name": "B", "parent_id": "a"},
                ]
            },
            [
                ("teams[0].parent_id", "上级团队关系形成了循环"),
                ("teams[1].parent_id", "上级团队关系形成了循环"),
            ],
        ),
        (
            {"teams": [{"id": "a", "name": "A"}, {"id": "a", "name": "A again"}]},
            [("teams[1].id", "与 teams[0] 重复")],
        ),
        (
            {"reps": [{"id": "x", "name": "X"}, {"id": "x", "name": "X again"}]},
            [("reps[1].id", "与 reps[0] 重复")],
        ),
        (
            {
                "teams": [{"id": "a", "name": "A"}],
                "reps": [{"id": "x", "name": "X", "team_id": "z"}],
            },
            [("reps[0].team_id", "团队 'z' 不存在")],
        ),
    ],
    ids=["unknown-parent", "cycle", "duplicate-team", "duplicate-rep", "unknown-team"],
)
async def test_invalid_org_answers_422_naming_fields(
    embedded_stack: Stack, body: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    resp = await put_org(embedded_stack, body)
    err = assert_error(resp, 422, "invalid_input")
    # The reasons in the tenant's language (zh-CN), each naming its field.
    assert [(f["field"], f["reason"]) for f in err["fields"]] == expected
    assert all(f["reason_code"].startswith("org.") for f in err["fields"])
    assert err["message"].startswith("组织架构无效：" + expected[0][0] + "：")
    # Nothing was stored.
    assert (await get(embedded_stack, "/v1/teams")).json() == []


async def test_longer_cycle_is_reported(embedded_stack: Stack) -> None:
    body = {
        "teams": [
            {"id": "a", "name": "A", "parent_id": "c"},
            {"id": "b", "name": "B", "parent_id": "a"},
            {"id": "c", "name": "C", "parent_id": "b"},
            {"id": "root", "name": "Root"},
        ]
    }
    err = assert_error(await put_org(embedded_stack, body), 422, "invalid_input")
    assert [f["field"] for f in err["fields"]] == [
        "teams[0].parent_id",
        "teams[1].parent_id",
        "teams[2].parent_id",
    ]
    assert all(f["reason_code"] == "org.team.cycle" for f in err["fields"])


async def test_schema_errors_name_the_field(embedded_stack: Stack) -> None:
    body = {"teams": [{"id": "a"}], "reps": [{"id": " ", "name": "X", "extra": 1}]}
    err = assert_error(await put_org(embedded_stack, body), 422, "invalid_input")
    fields = {f["field"] for f in err["fields"]}
    assert "teams[0].name" in fields
    assert "reps[0].extra" in fields


async def test_moved_rep_has_old_membership_closed_and_new_one_open(
    embedded_stack: Stack,
) -> None:
    await put_org(embedded_stack, org())
    moved = org(effective_from="2026-11-15")
    moved["reps"][2]["team_id"] = "east"
    resp = await put_org(embedded_stack, moved)
    assert resp.status_code == 200, resp.text
    assert resp.json()["changes"]["reps_moved"] == 1
    rep = await get(embedded_stack, "/v1/reps/r-m")
    assert rep.status_code == 200, rep.text
    body = rep.json()
    assert body["team_id"] == "east"
    # valid_to is exclusive: the first day the membership no longer applies.
    assert spans(body) == [
        ("north", "1970-01-01", "2026-11-15"),
        ("east", "2026-11-15", None),
    ]
    unmoved = (await get(embedded_stack, "/v1/reps/r-n")).json()
    assert spans(unmoved) == [
        ("north", "1970-01-01", None),
    ]


async def test_teams_and_reps_left_out_become_inactive(embedded_stack: Stack) -> None:
    await put_org(embedded_stack, org())
    smaller = {
        "teams": ORG["teams"][:2],
        "reps": [ORG["reps"][0], ORG["reps"][2]],
        "effective_from": "2026-11-20",
    }
    resp = await put_org(embedded_stack, smaller)
    assert resp.status_code == 200, resp.text
    changes = resp.json()["changes"]
    assert (changes["teams_deactivated"], changes["reps_deactivated"]) == (1, 1)
    team = (await get(embedded_stack, "/v1/teams/east")).json()
    assert team_of(team) == ("east", "East", "hq", False)
    rep = (await get(embedded_stack, "/v1/reps/r-e")).json()
    assert (rep["active"], rep["team_id"]) == (False, None)
    assert spans(rep) == [
        ("east", "1970-01-01", "2026-11-20"),
    ]
    # Still listed (history is kept), and the same smaller chart again changes nothing.
    assert {t["id"] for t in (await get(embedded_stack, "/v1/teams")).json()} == {
        "hq",
        "north",
        "east",
    }
    again = await put_org(embedded_stack, smaller)
    assert set(again.json()["changes"].values()) == {0}
    # Listing them again reactivates them.
    back = await put_org(embedded_stack, org(effective_from="2026-11-25"))
    assert back.json()["changes"]["teams_updated"] == 1
    assert back.json()["changes"]["reps_updated"] == 1
    rep = (await get(embedded_stack, "/v1/reps/r-e")).json()
    assert (rep["active"], rep["team_id"]) == (True, "east")


async def test_read_key_cannot_change_the_org(embedded_stack: Stack) -> None:
    key = await make_key(embedded_stack, ["read"])
    resp = await embedded_stack.client.put("/v1/org", json=org(), headers=embedded_stack.auth(key))
    assert_error(resp, 403, "forbidden")
    resp = await embedded_stack.client.get("/v1/org", headers=embedded_stack.auth(key))
    assert resp.status_code == 200, resp.text


# -- per-item routes -----------------------------------------------------------------------


async def test_team_routes(embedded_stack: Stack) -> None:
    s = embedded_stack
    resp = await s.client.put("/v1/teams/hq", json={"id": "hq", "name": "HQ"}, headers=s.auth())
    assert resp.status_code == 200, resp.text
    assert team_of(resp.json()) == ("hq", "HQ", None, True)
    resp = await s.client.put(
        "/v1/teams/west", json={"id": "west", "name": "West", "parent_id": "hq"}, headers=s.auth()
    )
    assert resp.status_code == 200, resp.text
    resp = await s.client.put(
        "/v1/teams/west", json={"id": "west", "name": "West 2", "parent_id": "hq"}, headers=s.auth()
    )
    assert resp.json()["name"] == "West 2"
    assert team_of((await get(s, "/v1/teams/west")).json()) == ("west", "West 2", "hq", True)
    assert [t["id"] for t in (await get(s, "/v1/teams")).json()] == ["hq", "west"]


async def test_team_route_validation(embedded_stack: Stack) -> None:
    s = embedded_stack
    await put_org(s, org())
    cases = [
        ("/v1/teams/west", {"id": "other", "name": "W"}, "id"),
        ("/v1/teams/west", {"id": "west", "name": "W", "parent_id": "nope"}, "parent_id"),
        ("/v1/teams/hq", {"id": "hq", "name": "HQ", "parent_id": "north"}, "parent_id"),
        ("/v1/teams/hq", {"id": "hq", "name": "HQ", "parent_id": "hq"}, "parent_id"),
        ("/v1/teams/west", {"name": "W"}, "id"),
    ]
    for path, body, field in cases:
        resp = await s.client.put(path, json=body, headers=s.auth())
        err = assert_error(resp, 422, "invalid_input")
        assert field in [f["field"] for f in err["fields"]], (body, err)


async def test_unknown_team_and_rep_answer_404(embedded_stack: Stack) -> None:
    s = embedded_stack
    for method, path in [
        ("GET", "/v1/teams/nope"),
        ("DELETE", "/v1/teams/nope"),
        ("GET", "/v1/reps/nope"),
        ("DELETE", "/v1/reps/nope"),
    ]:
        resp = await s.client.request(method, path, headers=s.auth())
        err = assert_error(resp, 404, "not_found")
        assert "nope" in err["message"]


async def test_deleting_a_team_with_active_reps_or_sub_teams_answers_409(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    await put_org(s, org())
    for team in ("north", "hq"):
        resp = await s.client.delete(f"/v1/teams/{team}", headers=s.auth())
        err = assert_error(resp, 409, "conflict")
        # The team by its name, in the tenant's language.
        name = (await get(s, f"/v1/teams/{team}")).json()["name"]
        assert err["message"] == f"团队“{name}”下仍有在职的子团队或销售代表，请先将其调走"
        assert (await get(s, f"/v1/teams/{team}")).json()["active"] is True
    # Move the reps out: then north can go.
    for rep in ("r-n", "r-m"):
        resp = await s.client.put(
            f"/v1/reps/{rep}?effective_from=2026-11-15",
            json={"id": rep, "name": rep, "team_id": "east"},
            headers=s.auth(),
        )
        assert resp.status_code == 200, resp.text
    resp = await s.client.delete("/v1/teams/north", headers=s.auth())
    assert resp.status_code == 200, resp.text
    assert resp.json()["active"] is False


async def test_rep_routes_keep_membership_history(embedded_stack: Stack) -> None:
    s = embedded_stack
    await put_org(s, org())
    resp = await s.client.put(
        "/v1/reps/r-new", json={"id": "r-new", "name": "New", "team_id": "north"}, headers=s.auth()
    )
    assert resp.status_code == 200, resp.text
    # A rep's first team applies to all their history.
    assert spans(resp.json()) == [
        ("north", "1970-01-01", None),
    ]
    resp = await s.client.put(
        "/v1/reps/r-new?effective_from=2026-11-10",
        json={"id": "r-new", "name": "New", "team_id": "east", "role": "presales"},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    assert (resp.json()["team_id"], resp.json()["role"]) == ("east", "presales")
    resp = await s.client.delete("/v1/reps/r-new?effective_from=2026-11-20", headers=s.auth())
    assert resp.status_code == 200, resp.text
    got = (await get(s, "/v1/reps/r-new")).json()
    assert (got["active"], got["team_id"]) == (False, None)
    assert spans(got) == [
        ("north", "1970-01-01", "2026-11-10"),
        ("east", "2026-11-10", "2026-11-20"),
    ]
    assert "r-new" in {r["id"] for r in (await get(s, "/v1/reps")).json()}


async def test_rep_route_validation(embedded_stack: Stack) -> None:
    s = embedded_stack
    await put_org(s, org())
    cases = [
        ({"id": "other", "name": "X"}, "id"),
        ({"id": "r-x", "name": "X", "team_id": "nope"}, "team_id"),
        ({"id": "r-x"}, "name"),
    ]
    for body, field in cases:
        resp = await s.client.put("/v1/reps/r-x", json=body, headers=s.auth())
        err = assert_error(resp, 422, "invalid_input")
        assert field in [f["field"] for f in err["fields"]], (body, err)
    resp = await s.client.put(
        "/v1/reps/r-n?effective_from=someday",
        json={"id": "r-n", "name": "Nina"},
        headers=s.auth(),
    )
    err = assert_error(resp, 422, "invalid_input")
    assert [f["field"] for f in err["fields"]] == ["effective_from"]


# -- roll-ups ------------------------------------------------------------------------------


async def test_team_roll_up_follows_nesting_and_membership_over_time(stack: Stack) -> None:
    resp = await put_org(stack, org())
    assert resp.status_code == 200, resp.text
    moved = org(effective_from="2026-11-15")
    moved["reps"][2]["team_id"] = "east"
    resp = await put_org(stack, moved)
    assert resp.status_code == 200, resp.text
    events = [
        won_deal("dn", rep="r-n", day="2026-11-05", amount="1000"),
        won_deal("de", rep="r-e", day="2026-11-06", amount="20000"),
        won_deal("dm1", rep="r-m", day="2026-11-10", amount="300"),  # still in north
        won_deal("dm2", rep="r-m", day="2026-11-20", amount="4000"),  # moved to east
        won_deal("dg", rep="ghost", day="2026-11-12", amount="50000"),  # not in the chart
    ]
    resp = await stack.post_events(events)
    assert resp.status_code == 202, resp.text
    assert resp.json()["accepted"] == 5
    await stack.wait_scored()
    assert await progress_actual(stack, scope="team:north") == Decimal("1300")
    assert await progress_actual(stack, scope="team:east") == Decimal("24000")
    assert await progress_actual(stack, scope="team:hq") == Decimal("25300")
    assert await progress_actual(stack, scope="rep:r-m") == Decimal("4300")
    assert await progress_actual(stack, scope="rep:ghost") == Decimal("50000")
    assert await progress_actual(stack, scope="company") == Decimal("75300")
    # Counts roll up the same way.
    assert await progress_actual(stack, scope="team:north", kpi="deals_won") == 2
    assert await progress_actual(stack, scope="team:east", kpi="deals_won") == 2


async def test_back_dated_correction_leaves_no_overlapping_memberships(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    body = org()
    body["teams"].append({"id": "west", "name": "West", "parent_id": "hq"})
    await put_org(s, body)
    body["effective_from"] = "2026-11-15"
    body["reps"][2]["team_id"] = "east"  # r-m: north -> east from 15 November
    await put_org(s, body)
    body["effective_from"] = "2026-11-10"
    body["reps"][2]["team_id"] = "west"  # correction: actually west, from 10 November
    # This used to delete the east membership but leave north closed on 15 November, so
    # the rep was in north and west at once and the deal below counted for both.
    resp = await put_org(s, body)
    assert resp.status_code == 200, resp.text
    resp = await s.post_events(won_deal("dm", rep="r-m", day="2026-11-12", amount="5"))
    assert resp.status_code == 202, resp.text
    await s.wait_scored()
    assert await progress_actual(s, scope="team:west") == 5
    assert await progress_actual(s, scope="team:north") == 0
    rep = (await get(s, "/v1/reps/r-m")).json()
    assert spans(rep) == [
        ("north", "1970-01-01", "2026-11-10"),
        ("west", "2026-11-10", None),
    ]
