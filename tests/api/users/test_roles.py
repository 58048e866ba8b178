"""Users and roles: what a manager, a rep, a viewer and a BI user may read and do, through
keys that act for them (docs/SECURITY.md, "Users and roles").

One org: north (with north-a below it) and south. A north manager reads north and
north-a and their reps, never south or the company; a rep reads themselves and their
team's aggregates; viewers and BI read everything and act on nothing. Every route that is
not marked for a bounded reach answers a manager 403 (default deny), checked over the
whole OpenAPI document.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from paceline.shared.db.models import Alert
from tests.support import Stack

pytestmark = pytest.mark.dates

TODAY = datetime.fromisoformat("2026-11-18T10:00:00+08:00")
ORG: dict[str, Any] = {
    "teams": [
        {"id": "north", "name": "北区"},
        {"id": "north-a", "name": "北区一组", "parent_id": "north"},
        {"id": "south", "name": "南区"},
    ],
    "reps": [
        {"id": "n1", "name": "张伟", "team_id": "north"},
        {"id": "n2", "name": "王芳", "team_id": "north-a"},
        {"id": "s1", "name": "李强", "team_id": "south"},
    ],
}
TARGETS = [
    ("company", "9000"),
    ("team:north", "6000"),
    ("team:north-a", "2000"),
    ("team:south", "3000"),
    ("rep:n1", "3000"),
    ("rep:n2", "2000"),
    ("rep:s1", "3000"),
]


def deal(entity: str, rep: str, day: str, amount: str) -> dict[str, Any]:
    """A won deal at 10:00 Beijing time."""
    return {
        "event_id": f"{entity}-v1",
        "type": "deal",
        "entity_id": entity,
        "version": 1,
        "occurred_at": f"{day}T10:00:00+08:00",
        "rep_id": rep,
        "customer_id": f"c-{entity}",
        "stage": "won",
        "amount": amount,
    }


async def _user(s: Stack, email: str, role: str, **anchor: str) -> dict[str, Any]:
    resp = await s.client.post(
        "/v1/users",
        json={"email": email, "name": email.split("@")[0], "role": role, **anchor},
        headers=s.auth(),
    )
    assert resp.status_code == 201, resp.text
    user: dict[str, Any] = resp.json()
    return user


async def _key(s: Stack, user_id: str, scopes: list[str]) -> str:
    resp = await s.client.post(
        "/v1/keys",
        json={"name": f"key of {user_id}", "scopes": scopes, "user_id": user_id},
        headers=s.auth(),
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["user_id"] == user_id
    key: str = resp.json()["key"]
    return key


@pytest.fixture
async def org(clocked: tuple[Stack, Any]) -> dict[str, Any]:
    """The org, deals, targets, one user of each kind with a key, and three alerts."""
    s, _clock = clocked
    resp = await s.post_events(
        [
            deal("a", "n1", "2026-11-03", "1000"),
            deal("b", "n2", "2026-11-05", "700"),
            deal("c", "s1", "2026-11-06", "900"),
        ]
    )
    assert resp.status_code == 202, resp.text
    await s.wait_scored()
    targets = {}
    for scope, value in TARGETS:
        made = await s.client.post(
            "/v1/targets",
            json={"kpi": "revenue", "scope": scope, "period": "2026-11", "target": value},
            headers=s.auth(),
        )
        assert made.status_code == 201, made.text
        targets[scope] = made.json()["id"]
    users = {
        "admin": await _user(s, "Admin@Example.cn", "admin"),
        "north": await _user(s, "north@example.cn", "manager", team_id="north"),
        "n1": await _user(s, "n1@example.cn", "rep", rep_id="n1"),
        "viewer": await _user(s, "viewer@example.cn", "viewer"),
        "bi": await _user(s, "bi@example.cn", "bi"),
    }
    keys = {
        name: await _key(s, u["id"], ["admin"] if name == "admin" else ["read"])
        for name, u in users.items()
    }
    async with s.db.transaction() as session:
        for n, scope in enumerate(("team:north-a", "team:south", "rep:s1", "rep:n1")):
            session.add(
                Alert(
                    tenant_id="default",
                    kind="lag",
                    type="lag",
                    dedup_key=f"test:{n}",
                    scope=scope,
                    severity="warning",
                    status="open",
                    title=f"behind {scope}",
                    detail={},
                    occurrences=1,
                    first_seen_at=TODAY,
                    last_seen_at=TODAY,
                )
            )
    return {"stack": s, "users": users, "keys": keys, "targets": targets}


async def _get(s: Stack, key: str, path: str, **params: Any) -> Any:
    return await s.client.get(path, params=params, headers=s.auth(key))


async def test_users_are_people_with_a_role_and_checked_anchors(org: dict[str, Any]) -> None:
    s: Stack = org["stack"]
    assert org["users"]["admin"]["email"] == "admin@example.cn"  # stored lower-case
    dup = await s.client.post(
        "/v1/users",
        json={"email": "NORTH@example.cn", "name": "x", "role": "viewer"},
        headers=s.auth(),
    )
    assert dup.status_code == 409, dup.text
    assert dup.json()["error"]["fields"][0]["field"] == "email"
    for body, field in (
        ({"role": "manager"}, "team_id"),
        ({"role": "manager", "team_id": "nowhere"}, "team_id"),
        ({"role": "rep", "rep_id": "ghost"}, "rep_id"),
        ({"role": "boss"}, "role"),
    ):
        resp = await s.client.post(
            "/v1/users",
            json={"email": "new@example.cn", "name": "New", **body},
            headers=s.auth(),
        )
        assert resp.status_code == 422, resp.text
        assert field in resp.text
    listed = await s.client.get("/v1/users", params={"limit": 2}, headers=s.auth())
    assert listed.status_code == 200
    assert len(listed.json()["items"]) == 2
    assert listed.headers["X-Next-Cursor"] == listed.json()["next_cursor"]
    rest = await s.client.get(
        "/v1/users", params={"cursor": listed.json()["next_cursor"]}, headers=s.auth()
    )
    emails = {u["email"] for u in listed.json()["items"] + rest.json()["items"]}
    assert emails == {u["email"] for u in org["users"].values()}
    # A manager's key cannot hold the admin scope; a manager's read key cannot manage users.
    beyond = await s.client.post(
        "/v1/keys",
        json={"name": "x", "scopes": ["admin"], "user_id": org["users"]["north"]["id"]},
        headers=s.auth(),
    )
    assert beyond.status_code == 422, beyond.text
    assert beyond.json()["error"]["fields"][0]["field"] == "scopes"
    assert (await _get(s, org["keys"]["north"], "/v1/users")).status_code == 403


async def test_a_manager_reads_their_subtree_only(org: dict[str, Any]) -> None:
    s: Stack = org["stack"]
    key = org["keys"]["north"]
    for scope in ("team:north", "team:north-a", "rep:n1", "rep:n2"):
        resp = await _get(s, key, "/v1/progress", kpi="revenue", scope=scope, period="2026-11")
        assert resp.status_code == 200, (scope, resp.text)
        admin = await _get(s, "", "/v1/progress", kpi="revenue", scope=scope, period="2026-11")
        assert resp.json()["actual"] == admin.json()["actual"]
    for scope in ("team:south", "rep:s1", "company"):
        resp = await _get(s, key, "/v1/progress", kpi="revenue", scope=scope, period="2026-11")
        assert resp.status_code == 403, (scope, resp.text)
        assert resp.json()["error"]["fields"][0]["field"] == "scope"
    listed = await _get(s, key, "/v1/targets")
    assert sorted(t["scope"] for t in listed.json()) == [
        "rep:n1",
        "rep:n2",
        "team:north",
        "team:north-a",
    ]
    south = org["targets"]["team:south"]
    assert (await _get(s, key, f"/v1/targets/{south}")).status_code == 404
    alerts = await _get(s, key, "/v1/alerts")
    assert sorted(a["scope"] for a in alerts.json()["items"]) == ["rep:n1", "team:north-a"]
    board = await _get(s, key, "/v1/leaderboard", team="north", period="2026-11", kpi="revenue")
    assert board.status_code == 200, board.text
    assert (
        await _get(s, key, "/v1/leaderboard", team="south", period="2026-11", kpi="revenue")
    ).status_code == 403
    context = (await _get(s, key, "/v1/dashboard/context")).json()
    assert sorted(t["id"] for t in context["teams"]) == ["north", "north-a"]
    assert sorted(r["id"] for r in context["reps"]) == ["n1", "n2"]
    assert context["features"]["alert_acknowledge"] is True  # a manager acts
    viewer = (await _get(s, org["keys"]["viewer"], "/v1/dashboard/context")).json()
    assert len(viewer["teams"]) == 3
    assert viewer["features"]["alert_acknowledge"] is False  # a viewer only reads
    # Whole-tenant routes are refused, not cut silently.
    digests = await _get(s, key, "/v1/alerts/digests")
    assert digests.status_code == 403
    refused = digests.json()["error"]
    assert refused["message"] == "经理只能查看自己团队范围内的数据；此接口显示的是整个租户的数据"
    assert refused["message_params"] == {"role": {"$msg": "users.role.manager", "params": {}}}


async def test_a_rep_reads_themselves_and_their_team(org: dict[str, Any]) -> None:
    s: Stack = org["stack"]
    key = org["keys"]["n1"]
    ok = await _get(s, key, "/v1/progress", kpi="revenue", scope="rep:n1", period="2026-11")
    assert ok.status_code == 200
    assert ok.json()["actual"].startswith("1000")
    team = await _get(s, key, "/v1/progress", kpi="revenue", scope="team:north", period="2026-11")
    assert team.status_code == 200
    for scope in ("rep:n2", "team:north-a", "team:south", "company"):
        resp = await _get(s, key, "/v1/progress", kpi="revenue", scope=scope, period="2026-11")
        assert resp.status_code == 403, scope
    assert sorted(t["scope"] for t in (await _get(s, key, "/v1/targets")).json()) == [
        "rep:n1",
        "team:north",
    ]
    # The tenant keeps reps to their own figures: the team is out of reach too.
    async with s.db.transaction() as session:
        from paceline.shared.db import tenants as tenant_repo

        tenant = await tenant_repo.get_tenant(session, tenant_id="default")
        assert tenant is not None
        tenant.options = {**(tenant.options or {}), "rep_sees_team": False}
    s.app.state.paceline.keys.forget()
    team = await _get(s, key, "/v1/progress", kpi="revenue", scope="team:north", period="2026-11")
    assert team.status_code == 403


async def test_acknowledging_is_the_reps_own_act_or_recorded_on_their_behalf(
    org: dict[str, Any],
) -> None:
    s: Stack = org["stack"]
    users, keys, targets = org["users"], org["keys"], org["targets"]

    async def ack(key: str, scope: str, by: str | None = None) -> Any:
        return await s.client.post(
            f"/v1/targets/{targets[scope]}/acknowledge",
            json={} if by is None else {"by": by},
            headers=s.auth(key),
        )

    own = await ack(keys["n1"], "rep:n1")
    assert own.status_code == 200, own.text
    assert own.json()["acknowledged_by"] == "n1"
    assert own.json()["acknowledged_recorded_by"] == f"user:{users['n1']['id']}"
    assert (await ack(keys["n1"], "rep:n1", by="n2")).status_code == 422  # not theirs
    assert (await ack(keys["n1"], "rep:n2")).status_code == 404  # out of reach
    assert (await ack(keys["n1"], "team:north", by="n1")).status_code == 403  # sees, not acts
    on_behalf = await ack(keys["north"], "rep:n2")
    assert on_behalf.status_code == 200, on_behalf.text
    assert on_behalf.json()["acknowledged_by"] == "n2"
    assert on_behalf.json()["acknowledged_recorded_by"] == f"user:{users['north']['id']}"
    for who in ("viewer", "bi"):
        refused = await ack(keys[who], "rep:s1")
        assert refused.status_code == 403, (who, refused.text)
    # A service key with only the read scope reads, but does not act.
    read_key = await s.client.post(
        "/v1/keys", json={"name": "bi tool", "scopes": ["read"]}, headers=s.auth()
    )
    assert (await ack(read_key.json()["key"], "rep:s1")).status_code == 403
    admin = await ack(keys["admin"], "rep:s1")
    assert admin.status_code == 200
    assert admin.json()["acknowledged_recorded_by"] == f"user:{users['admin']['id']}"
    audit = await s.client.get(
        "/v1/audit", params={"action": "targets.acknowledge"}, headers=s.auth()
    )
    actors = {e["actor"] for e in audit.json()["items"]}
    assert f"user:{users['north']['id']}" in actors


async def test_alerts_are_acted_on_within_reach(org: dict[str, Any]) -> None:
    s: Stack = org["stack"]
    keys = org["keys"]
    every = (await _get(s, "", "/v1/alerts")).json()["items"]
    by_scope = {a["scope"]: a["id"] for a in every}
    # (the engine may raise its own alerts too, e.g. the company's lag)
    assert set(by_scope) >= {"team:north-a", "team:south", "rep:s1", "rep:n1"}

    async def act(key: str, scope: str) -> Any:
        return await s.client.post(
            f"/v1/alerts/{by_scope[scope]}/acknowledge", json={}, headers=s.auth(key)
        )

    assert (await act(keys["north"], "team:south")).status_code == 404
    done = await act(keys["north"], "team:north-a")
    assert done.status_code == 200, done.text
    assert done.json()["history"][-1]["actor"] == f"user:{org['users']['north']['id']}"
    assert (await act(keys["viewer"], "rep:s1")).status_code == 403
    assert (await act(keys["n1"], "rep:n1")).status_code == 200
    viewer = (await _get(s, keys["viewer"], "/v1/alerts")).json()["items"]
    assert len(viewer) == len(every)  # a viewer reads the whole tenant


async def test_people_are_named_in_target_versions_and_audit(org: dict[str, Any]) -> None:
    s: Stack = org["stack"]
    admin_id = org["users"]["admin"]["id"]
    made = await s.client.post(
        "/v1/targets",
        json={"kpi": "visits", "scope": "rep:n1", "period": "2026-11", "target": "40"},
        headers=s.auth(org["keys"]["admin"]),
    )
    assert made.status_code == 201, made.text
    versions = made.json()["versions"]
    assert versions[-1]["author"] == f"user:{admin_id}"
    audit = await s.client.get("/v1/audit", params={"action": "targets.create"}, headers=s.auth())
    assert f"user:{admin_id}" in {e["actor"] for e in audit.json()["items"]}


async def test_a_deactivated_users_keys_stop(org: dict[str, Any]) -> None:
    s: Stack = org["stack"]
    user = org["users"]["viewer"]
    key = org["keys"]["viewer"]
    assert (await _get(s, key, "/v1/kpis")).status_code == 200
    resp = await s.client.put(
        f"/v1/users/{user['id']}",
        json={"email": user["email"], "name": user["name"], "role": "viewer", "active": False},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    assert (await _get(s, key, "/v1/kpis")).status_code == 401


async def test_every_route_not_marked_for_a_reach_refuses_a_manager(
    org: dict[str, Any],
) -> None:
    """Default deny, over the whole document: a GET route without ``x-reach`` answers a
    manager 403 before it reads anything; one with it never answers 403 for lack of a
    mark."""
    s: Stack = org["stack"]
    key = org["keys"]["north"]
    doc = (await s.client.get("/openapi.json")).json()
    walked = refused = 0
    for path, item in doc["paths"].items():
        op = item.get("get")
        if op is None or "x-required-scope" not in op:
            continue
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        resp = await s.client.get(concrete, headers=s.auth(key))
        walked += 1
        if "x-reach" not in op:
            assert resp.status_code == 403, (path, resp.status_code, resp.text[:200])
            assert resp.json()["error"]["message_code"] == "web.auth.out_of_reach", path
            refused += 1
        else:
            assert resp.status_code < 500, (path, resp.text[:200])
            if resp.status_code == 403:
                assert "web.auth.out_of_reach" not in resp.text, path
    assert walked >= 40
    assert refused >= 20


async def test_reviews_and_earnings_within_reach(org: dict[str, Any]) -> None:
    s: Stack = org["stack"]
    keys = org["keys"]
    review = await _get(s, keys["north"], "/v1/reviews", team="north", period="2026-11")
    assert review.status_code == 200, review.text
    admin_review = await _get(s, "", "/v1/reviews", team="north", period="2026-11")
    assert review.json()["rows"] == admin_review.json()["rows"]
    south = await _get(s, keys["north"], "/v1/reviews", team="south", period="2026-11")
    assert south.status_code == 403
    assert south.json()["error"]["fields"][0]["field"] == "team"
    own = await _get(s, keys["n1"], "/v1/earnings", scope="rep:n1", period="2026-11")
    assert own.status_code == 200, own.text
    assert own.json()["scope"] == "rep:n1"
    other = await _get(s, keys["n1"], "/v1/earnings", scope="rep:n2", period="2026-11")
    assert other.status_code == 403
    assert other.json()["error"]["fields"][0]["field"] == "scope"


async def test_the_document_says_which_routes_are_acts(org: dict[str, Any]) -> None:
    s: Stack = org["stack"]
    doc = (await s.client.get("/openapi.json")).json()
    acting = sorted(
        f"{method.upper()} {path}"
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "x-acts" in op
    )
    assert acting == [
        "POST /v1/alerts/{alert_id}/acknowledge",
        "POST /v1/alerts/{alert_id}/resolve",
        "POST /v1/targets/{target_id}/acknowledge",
    ]


async def test_facts_and_exports_within_reach(org: dict[str, Any]) -> None:
    s: Stack = org["stack"]
    key = org["keys"]["north"]
    span = {"kpi": "revenue", "from": "2026-11-01", "to": "2026-11-30"}
    facts = await _get(s, key, "/v1/facts", scope="team:north", group_by="rep", **span)
    assert facts.status_code == 200, facts.text
    assert sorted(r["rep_id"] for r in facts.json()["rows"]) == ["n1", "n2"]
    admin = await _get(s, "", "/v1/facts", scope="team:north", group_by="rep", **span)
    assert facts.json()["rows"] == admin.json()["rows"]
    for scope in ("company", "team:south", "rep:s1"):
        refused = await _get(s, key, "/v1/facts", scope=scope, **span)
        assert refused.status_code == 403, scope
        assert refused.json()["error"]["fields"][0]["field"] == "scope"
    drill = await _get(s, key, "/v1/facts/records", scope="rep:n2", **span)
    assert drill.status_code == 200, drill.text
    assert {r["rep_id"] for r in drill.json()["records"]} == {"n2"}
    assert (await _get(s, key, "/v1/facts/records", scope="rep:s1", **span)).status_code == 403
    # Whole-tenant exports need a filter within reach.
    whole = await _get(s, key, "/v1/exports/progress", period="2026-11")
    assert whole.status_code == 403
    assert whole.json()["error"]["fields"][0]["field"] == "scope"
    mine = await _get(s, key, "/v1/exports/progress", period="2026-11", scope="team:north")
    assert mine.status_code == 200, mine.text
    assert {r["scope"] for r in mine.json()["rows"]} == {"team:north"}
    cards = await _get(s, key, "/v1/exports/scorecards", period="2026-11", team="south")
    assert cards.status_code == 403
    assert cards.json()["error"]["fields"][0]["field"] == "team"
    cards = await _get(s, key, "/v1/exports/scorecards", period="2026-11", team="north")
    assert cards.status_code == 200, cards.text
