"""The cross-tenant walk with every role and key kind (issue 17, item 3; docs/SECURITY.md,
"Threat model").

The world of ``test_route_rules`` (acme and globex, each with an org of two teams, north
and south, KPIs, targets, FX, calendar, plans, statements, events), plus, in each tenant:

- south data with distinctive markers: a rep ``<t>-southrep`` named ``SOUTHMARK-<t> Zed``,
  targets of ``team:<t>-south`` and of that rep, the rep's events, an open alert on the
  south team titled with the marker (and one on north);
- users of each role with a key acting for them: admin, manager of ``<t>-north``, rep
  ``<t>-rep-1`` (north), viewer, BI; beside the service keys admin, read and ingest.

For every operation of the OpenAPI document:

- **scope**: a key without the operation's scope gets 403;
- **reach**: a manager's or a rep's key gets 403 ("the whole tenant") on every operation
  without ``x-reach``; on those with it, its answers never hold the south team's markers
  (ids, names, scopes, alert titles), and aimed at the south team (its scope, its target,
  its alert) it gets 403 or 404, never the data. Whole-tenant roles do see the markers
  (the control: the markers are there to be leaked);
- **tenancy**: globex's keys of every kind, aimed at acme's ids, never see acme's markers
  and get 404 (never 403) on an acme object that acme reads; their writes (every non-GET
  operation, valid bodies naming acme's ids) change nothing of acme's;
- no 5xx, no key or hash in any answer (``World.call``).

Both run modes; one world per mode.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from paceline.shared.db.models import Alert
from tests.api.edge.test_route_rules import (
    ACME,
    ACME_MARKERS,
    GLOBEX,
    NOW,
    Key,
    Operation,
    World,
    discover,
    granted,
    is_public,
    normalized,
    operations,
    path_values,
    query_values,
    schema_value,
    url_of,
    world_in,
    write_bodies,
)
from tests.support import distributed_settings, embedded_settings

TENANTS = ((ACME, "acme", "ACME-PRIVATE"), (GLOBEX, "globex", "GLOBEX-PRIVATE"))
ROLES = ("admin", "manager", "rep", "viewer", "bi")
BOUNDED = frozenset({"manager", "rep"})
ACTS = frozenset({"admin", "manager", "rep"})  # acknowledge alerts and targets


@dataclass
class RoleKey:
    """A key and the kind it is: ``service:<scope>`` or ``user:<role>``."""

    kind: str
    key: Key

    @property
    def bounded(self) -> bool:
        """A manager's or a rep's: a reach smaller than the tenant."""
        return self.kind.removeprefix("user:") in BOUNDED

    @property
    def acts(self) -> bool:
        """May acknowledge (a person of an acting role, or an admin service key)."""
        if self.kind.startswith("user:"):
            return self.kind.removeprefix("user:") in ACTS
        return self.kind == "service:admin"


ACTING_PATHS = frozenset(
    {
        "/v1/targets/{target_id}/acknowledge",
        "/v1/alerts/{alert_id}/acknowledge",
        "/v1/alerts/{alert_id}/resolve",
    }
)  # ``require_acting``: declared ``admin`` (a service key's need), open to acting persons


def allowed(rk: RoleKey, op: Operation) -> bool:
    """Whether the key passes the operation's scope check."""
    if op.method != "GET" and op.path in ACTING_PATHS:
        return rk.acts
    return granted(rk.key.scopes, op.scope or "")


def south_markers(short: str, marker: str) -> tuple[str, ...]:
    """What only the south team of a tenant holds."""
    return (
        f"{short}-south",
        f"{short}-rep-2",
        f"{marker} South",
        f"{marker} Bo",
        f"SOUTHMARK-{short}",
    )


async def _seed_roles(world: World, tenant: str, short: str, marker: str) -> None:
    admin = world.keys[f"{short}-admin"]

    async def call(method: str, url: str, body: Any, expect: int) -> httpx.Response:
        return await world.call(method, url, admin, json_body=body, expect=expect)

    rep = f"{short}-southrep"
    await call(
        "PUT",
        f"/v1/reps/{rep}",
        {"id": rep, "name": f"SOUTHMARK-{short} Zed", "team_id": f"{short}-south"},
        200,
    )
    south = {}
    for scope in (f"team:{short}-south", f"rep:{rep}"):
        made = await call(
            "POST",
            "/v1/targets",
            {"kpi": "visits", "scope": scope, "period": "2026-11", "target": "77"},
            201,
        )
        south[scope] = made.json()["id"]
    events = [
        {
            "event_id": f"{short}-south-ev-{i}",
            "type": "visit",
            "occurred_at": "2026-11-11T10:00:00+08:00",
            "rep_id": rep,
            "customer_id": f"{short}-south-cust-{i}",
        }
        for i in range(2)
    ]
    await world.call(
        "POST", "/v1/events", world.keys[f"{short}-ingest"], json_body=events, expect=202
    )
    async with world.stack.db.transaction() as session:
        for n, (scope, title) in enumerate(
            (
                (f"team:{short}-south", f"SOUTHMARK-{short} south is behind"),
                (f"team:{short}-north", f"{short} north is behind"),
            )
        ):
            session.add(
                Alert(
                    tenant_id=tenant,
                    kind="lag",
                    type="lag",
                    dedup_key=f"walk:{n}",
                    scope=scope,
                    severity="warning",
                    status="open",
                    title=title,
                    detail={},
                    occurrences=1,
                    first_seen_at=NOW,
                    last_seen_at=NOW,
                )
            )
    alerts = await world.call("GET", "/v1/alerts", admin, expect=200)
    south_alert = next(
        a["id"] for a in alerts.json()["items"] if a["scope"] == f"team:{short}-south"
    )
    anchors = {
        "admin": {},
        "manager": {"team_id": f"{short}-north"},
        "rep": {"rep_id": f"{short}-rep-1"},
        "viewer": {},
        "bi": {},
    }
    for role in ROLES:
        user = await call(
            "POST",
            "/v1/users",
            {"email": f"{role}@{short}.example", "name": role, "role": role, **anchors[role]},
            201,
        )
        scopes = ["admin"] if role == "admin" else ["read"]
        made = await call(
            "POST",
            "/v1/keys",
            {"name": f"{short}-{role}-user", "scopes": scopes, "user_id": user.json()["id"]},
            201,
        )
        body = made.json()
        world.plaintexts.add(body["key"])
        world.keys[f"{short}-user-{role}"] = Key(
            f"{short}-user-{role}", body["key"], body["id"], tenant, frozenset(scopes)
        )
    world.ids[tenant] |= {
        "south_target": south[f"team:{short}-south"],
        "south_alert": south_alert,
        "south_team": f"{short}-south",
    }


def role_keys(world: World, short: str) -> list[RoleKey]:
    """Every key kind of one tenant."""
    service = [
        RoleKey(f"service:{s}", world.keys[f"{short}-{s}"]) for s in ("admin", "read", "ingest")
    ]
    users = [RoleKey(f"user:{r}", world.keys[f"{short}-user-{r}"]) for r in ROLES]
    return service + users


@pytest.fixture(
    params=["embedded", pytest.param("distributed", marks=[pytest.mark.pg, pytest.mark.kafka])]
)
async def role_world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    """The two-tenant world with south data and a user of every role in each tenant."""
    if request.param == "embedded":
        settings = embedded_settings(tmp_path / "data", rate_limit_per_s=0)
    else:
        settings = distributed_settings(
            request.getfixturevalue("migrated_database_url"),
            request.getfixturevalue("kafka_bootstrap"),
            data_dir=tmp_path / "data",
            rate_limit_per_s=0,
        )
    async with world_in(request.param, settings) as world:
        for tenant, short, marker in TENANTS:
            await _seed_roles(world, tenant, short, marker)
        await world.stack.wait_scored()
        world.stack.app.state.paceline.keys.forget()
        yield world


def south_url(op: Operation, ids: dict[str, Any], north_url: str) -> str | None:
    """The operation aimed at the south team (its scope, target or alert), if it names one."""
    south = ids["south_team"]
    if "{target_id}" in op.path:
        return url_of(op, {"target_id": ids["south_target"]}, {})
    if "{alert_id}" in op.path:
        return url_of(op, {"alert_id": ids["south_alert"]}, {})
    north = ids["team_id"]
    if north in north_url:
        return north_url.replace(north, south)
    return None


async def test_every_role_and_key_kind_keeps_reach_and_tenancy(role_world: World) -> None:
    world = role_world
    ops = [op for op in operations(world.stack.app.openapi()) if not is_public(op.method, op.path)]
    acme_ids = world.ids[ACME]
    acme_admin, platform = world.keys["acme-admin"], world.keys["platform"]
    targets: dict[Operation, str] = {}
    for op in ops:
        values = path_values(op, acme_ids)
        if values is None:
            values = await discover(world, op, platform if op.scope == "platform" else acme_admin)
        if values is None:
            values = {p["name"]: schema_value(p.get("schema", {})) for p in op.params("path")}
        targets[op] = url_of(op, values, query_values(op, acme_ids))
    gets = [op for op in ops if op.method == "GET"]
    south = south_markers("acme", "ACME-PRIVATE")
    globex_markers = ("GLOBEX-PRIVATE", "globex-north", "globex-rep-1", GLOBEX)
    acme_markers = (*ACME_MARKERS, ACME, *south)
    seen_by_viewer = 0
    refused_by_reach = 0

    # 1. Acme's keys of every kind over acme's own data.
    acme_status: dict[Operation, int] = {}
    for rk in role_keys(world, "acme"):
        for op in gets:
            url = targets[op]
            resp = await world.call("GET", url, rk.key, scope=op.scope)
            where = f"{op} with {rk.kind}"
            assert resp.status_code != 401, f"{where}: {resp.text[:200]}"
            if not granted(rk.key.scopes, op.scope or ""):
                assert resp.status_code == 403, f"{where}: {resp.status_code}"
                continue
            if rk.kind == "service:admin":
                acme_status[op] = resp.status_code
            leaked = [m for m in globex_markers if m in resp.text and m not in url]
            assert not leaked, f"{where} shows globex's {leaked}"
            if rk.bounded and "x-reach" not in op.spec:
                assert resp.status_code == 403, f"{where}: {resp.status_code} {resp.text[:200]}"
                assert resp.json()["error"]["message_code"] == "web.auth.out_of_reach", where
                refused_by_reach += 1
                continue
            if resp.status_code == 403:
                assert "web.auth.out_of_reach" not in resp.text, (
                    f"{where}: refused for lack of a mark"
                )
            if rk.bounded:
                leaked = [m for m in south if m in resp.text and m not in url]
                assert not leaked, f"{where} shows the south team's {leaked}: {resp.text[:300]}"
                aimed = south_url(op, acme_ids, url)
                if aimed is not None:
                    resp = await world.call("GET", aimed, rk.key, scope=op.scope)
                    aimed_at = f"{op} at the south team with {rk.kind}: {resp.status_code}"
                    if op.spec["x-reach"] == "scope" or "{" not in op.path:
                        # One scope read: refused. A list filtered by a south scope: refused
                        # or empty (never the south's items, whose names the URL holds).
                        body = resp.json() if resp.status_code == 200 else None
                        items = body.get("items") if isinstance(body, dict) else body
                        empty = op.spec["x-reach"] == "filtered" and items == []
                        assert resp.status_code == 403 or empty, f"{aimed_at} {resp.text[:200]}"
                    else:
                        assert resp.status_code == 404, f"{aimed_at} {resp.text[:200]}"
                    leaked = [m for m in south if m in resp.text and m not in aimed]
                    assert not leaked, f"{op} at the south team with {rk.kind}: {leaked}"
            elif rk.kind == "user:viewer" and any(m in resp.text for m in south):
                seen_by_viewer += 1
    # The control: the south markers are there to be seen by whole-tenant roles, on
    # routes marked for a reach too (alerts, targets, the dashboard's context).
    assert seen_by_viewer >= 3, seen_by_viewer
    assert refused_by_reach >= 40, refused_by_reach

    # 2. Acme's manager and rep act only within reach: the south team's target and alert.
    for kind in ("manager", "rep"):
        key = world.keys[f"acme-user-{kind}"]
        for url in (
            f"/v1/targets/{acme_ids['south_target']}/acknowledge",
            f"/v1/alerts/{acme_ids['south_alert']}/acknowledge",
        ):
            resp = await world.call("POST", url, key, json_body={})
            assert resp.status_code == 404, f"{url} by {kind}: {resp.status_code} {resp.text}"

    # 3. Globex's keys of every kind read acme's ids: never acme's data, 404 not 403.
    async def snapshot() -> dict[str, Any]:
        out = {}
        for op in gets:
            if not granted(acme_admin.scopes, op.scope or ""):
                continue
            resp = await world.call("GET", targets[op], acme_admin, scope=op.scope)
            body = resp.json() if "json" in resp.headers.get("content-type", "") else resp.text
            out[str(op)] = (resp.status_code, normalized(body))
        return out

    before = await snapshot()
    for _ in range(20):
        again = await snapshot()
        if again == before:
            break
        before = again
    for rk in role_keys(world, "globex"):
        for op in gets:
            if not granted(rk.key.scopes, op.scope or ""):
                continue
            url = targets[op]
            resp = await world.call("GET", url, rk.key, scope=op.scope)
            where = f"{op} at acme with globex's {rk.kind}"
            leaked = [m for m in acme_markers if m in resp.text and m not in url]
            assert not leaked, f"{where} shows acme's {leaked}: {resp.text[:300]}"
            if rk.bounded and "x-reach" not in op.spec:
                assert resp.status_code == 403, where
                continue
            if op.params("path") and acme_status.get(op) == 200 and "{" in op.path:
                assert resp.status_code in {403, 404} if rk.bounded else resp.status_code == 404, (
                    f"{where}: {resp.status_code} {resp.text[:200]}"
                )
                if resp.status_code == 403:
                    assert "web.auth.out_of_reach" not in resp.text, where

    # 4. Globex's keys of every kind write at acme's ids: nothing of acme's changes.
    bodies = write_bodies(acme_ids)
    writes = sorted((op for op in ops if op.method != "GET"), key=lambda op: op.method == "PUT")
    for rk in role_keys(world, "globex"):
        for op in writes:
            resp = await world.call(
                op.method, targets[op], rk.key, scope=op.scope, json_body=bodies.get(str(op))
            )
            where = f"{op} at acme by globex's {rk.kind}"
            refused = rk.bounded and "x-reach" not in op.spec
            if refused or not allowed(rk, op):
                assert resp.status_code == 403, f"{where}: {resp.status_code}"
            else:
                assert resp.status_code != 403, f"{where}: 403 reveals existence {resp.text}"
    after = await snapshot()
    changed = [k for k in before if before[k] != after.get(k)]
    assert not changed, f"globex's keys changed acme's data: {changed}"
    assert not world.problems, "\n".join(world.problems[:40])
