"""The audit log (``GET /v1/audit``): every admin change of the existing domains is
recorded with who, when, what, before and after, in the change's own transaction, and
read back filtered and paginated, per tenant.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from paceline.shared.clock import FixedClock
from tests.ingest.test_events_api import assert_error_shape, make_key
from tests.support import Stack

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
Clocked = tuple[Stack, FixedClock]


async def audit(stack: Stack, key: str | None = None, **params: Any) -> list[dict[str, Any]]:
    """Every entry of GET /v1/audit with these filters, following the cursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        resp = await stack.client.get("/v1/audit", params=query, headers=stack.auth(key))
        assert resp.status_code == 200, resp.text
        items += resp.json()["items"]
        cursor = resp.json()["next_cursor"]
        if cursor is None:
            return items


async def ok(stack: Stack, method: str, path: str, body: Any = None, **kw: Any) -> Any:
    """An admin request that must succeed; its JSON."""
    resp = await stack.client.request(method, path, json=body, headers=stack.auth(), **kw)
    assert resp.status_code < 300, resp.text
    return resp.json() if resp.content else None


async def test_every_admin_change_is_recorded_with_before_and_after(clocked: Clocked) -> None:
    stack, _clock = clocked
    org = {
        "teams": [{"id": "north", "name": "North"}],
        "reps": [{"id": "r1", "name": "Ann", "team_id": "north"}],
    }
    await ok(stack, "PUT", "/v1/org", org)
    await ok(stack, "PUT", "/v1/teams/south", {"id": "south", "name": "South"})
    await ok(stack, "PUT", "/v1/teams/south", {"id": "south", "name": "South II"})
    await ok(stack, "DELETE", "/v1/teams/south")
    await ok(stack, "PUT", "/v1/reps/r2", {"id": "r2", "name": "Bo", "team_id": "north"})
    await ok(stack, "DELETE", "/v1/reps/r2")
    await ok(stack, "PUT", "/v1/settings", {"locale": "en"})
    kpi = {
        "key": "site_visits",
        "name_zh": "现场拜访",
        "name_en": "Site visits",
        "unit": "count",
        "category": "process",
        "formula": 'count(visit where channel == "onsite")',
    }
    await ok(stack, "POST", "/v1/kpis", kpi)
    await ok(stack, "PUT", "/v1/kpis/site_visits", {"name_en": "Onsite visits"})
    await ok(stack, "DELETE", "/v1/kpis/site_visits")
    target = await ok(
        stack,
        "POST",
        "/v1/targets",
        {"kpi": "visits", "scope": "team:north", "period": "2026-12", "target": "100"},
    )
    await ok(stack, "PUT", f"/v1/targets/{target['id']}", {"target": "120"})
    resp = await stack.client.post(
        f"/v1/targets/{target['id']}/acknowledge", json={"by": "r1"}, headers=stack.auth()
    )
    assert resp.status_code == 200, resp.text
    await ok(
        stack,
        "PUT",
        "/v1/fx-rates",
        {"rates": [{"currency": "USD", "day": "2026-11-02", "rate": "7.1"}]},
    )
    resp = await stack.client.post(
        "/v1/fx-rates/import",
        content=b"currency,day,rate\nEUR,2026-11-02,7.7\n",
        headers={**stack.auth(), "Content-Type": "text/csv"},
    )
    assert resp.status_code == 200, resp.text
    await ok(stack, "DELETE", "/v1/fx-rates/USD/2026-11-02")
    await ok(stack, "PUT", "/v1/calendar/days/2026-11-16", {"kind": "holiday", "name": "Founders"})
    await ok(stack, "DELETE", "/v1/calendar/days/2026-11-16")
    template = {"name_zh": "模板", "name_en": "T", "items": [{"kpi": "visits", "weight": 100}]}
    await ok(stack, "PUT", "/v1/role-templates/field_rep", template)
    await ok(stack, "DELETE", "/v1/role-templates/field_rep")

    entries = list(reversed(await audit(stack)))  # oldest first
    admin_id = next(
        k["id"] for k in (await ok(stack, "GET", "/v1/keys"))["items"] if k["scopes"] == ["admin"]
    )
    assert [(e["action"], e["target"]) for e in entries] == [
        ("org.replace", "org"),
        ("teams.put", "team:south"),
        ("teams.put", "team:south"),
        ("teams.deactivate", "team:south"),
        ("reps.put", "rep:r2"),
        ("reps.deactivate", "rep:r2"),
        ("settings.update", "settings"),
        ("kpis.create", "kpi:site_visits"),
        ("kpis.update", "kpi:site_visits"),
        ("kpis.retire", "kpi:site_visits"),
        ("targets.create", f"target:{target['id']}"),
        ("targets.revise", f"target:{target['id']}"),
        ("targets.acknowledge", f"target:{target['id']}"),
        ("fx_rates.put", "fx-rates"),
        ("fx_rates.import", "fx-rates"),
        ("fx_rates.delete", "fx-rate:USD:2026-11-02"),
        ("calendar.put_day", "day:2026-11-16"),
        ("calendar.delete_day", "day:2026-11-16"),
        ("role_templates.put", "role-template:field_rep"),
        ("role_templates.delete", "role-template:field_rep"),
    ]
    by = {(e["action"], e["target"]): e for e in entries}
    assert {e["actor"] for e in entries} == {f"key:{admin_id}"}
    assert all(datetime.fromisoformat(e["at"]) == NOW for e in entries)
    assert all(e["request_id"] for e in entries)
    # Before and after, as the API shows them.
    replace = by[("org.replace", "org")]
    assert replace["before"]["teams"] == []
    assert [t["id"] for t in replace["after"]["teams"]] == ["north"]
    put_south = [e for e in entries if e["target"] == "team:south"]
    assert put_south[0]["before"] is None
    assert put_south[0]["after"]["name"] == "South"
    assert (put_south[1]["before"]["name"], put_south[1]["after"]["name"]) == ("South", "South II")
    assert (put_south[2]["before"]["active"], put_south[2]["after"]["active"]) == (True, False)
    settings = by[("settings.update", "settings")]
    assert (settings["before"]["locale"], settings["after"]["locale"]) == ("zh-CN", "en")
    update = by[("kpis.update", "kpi:site_visits")]
    assert (update["before"]["names"]["en"], update["after"]["names"]["en"]) == (
        "Site visits",
        "Onsite visits",
    )
    revise = by[("targets.revise", f"target:{target['id']}")]
    assert (revise["before"]["target"], revise["after"]["target"]) == ("100", "120")
    assert by[("targets.acknowledge", f"target:{target['id']}")]["after"]["by"] == "r1"
    assert by[("fx_rates.put", "fx-rates")]["after"]["rates"] == [
        {"currency": "USD", "day": "2026-11-02", "rate": "7.1"}
    ]
    deleted = by[("fx_rates.delete", "fx-rate:USD:2026-11-02")]
    assert deleted["before"]["rate"] == "7.1"
    day = by[("calendar.delete_day", "day:2026-11-16")]
    assert day["before"] == {"day": "2026-11-16", "kind": "holiday", "name": "Founders"}
    gone = by[("role_templates.delete", "role-template:field_rep")]
    assert gone["before"]["names"]["en"] == "T"
    assert gone["after"] is None


async def test_filters_and_pages(clocked: Clocked) -> None:
    stack, clock = clocked
    for i in range(5):
        await ok(stack, "PUT", f"/v1/teams/t{i}", {"id": f"t{i}", "name": f"T{i}"})
        clock.advance(timedelta(hours=1))
    await ok(stack, "PUT", "/v1/settings", {"locale": "en"})
    other_admin = await make_key(stack, ["admin"])
    await stack.client.put(
        "/v1/teams/t9", json={"id": "t9", "name": "T9"}, headers=stack.auth(other_admin)
    )
    everything = await audit(stack)
    assert len(everything) == 7
    assert [e["id"] for e in everything] == sorted((e["id"] for e in everything), reverse=True)
    paged = await audit(stack, limit=2)
    assert [e["id"] for e in paged] == [e["id"] for e in everything]
    assert [e["target"] for e in await audit(stack, action="teams.put")][-1] == "team:t0"
    assert len(await audit(stack, action="teams.*")) == 6
    assert len(await audit(stack, action="settings.update")) == 1
    assert await audit(stack, action="team") == []
    assert [e["target"] for e in await audit(stack, target="team:t3")] == ["team:t3"]
    other_id = everything[0]["actor"]
    assert [e["target"] for e in await audit(stack, actor=other_id)] == ["team:t9"]
    window = await audit(stack, **{"from": "2026-11-20T03:00:00Z", "to": "2026-11-20T05:00:00Z"})
    assert [e["target"] for e in window] == ["team:t2", "team:t1"]
    for params, field in (
        ({"cursor": "abc"}, "cursor"),
        ({"from": "2026-11-20T05:00:00Z", "to": "2026-11-20T03:00:00Z"}, "to"),
        ({"from": "2026-11-20T05:00:00"}, "from"),
        ({"limit": 0}, "limit"),
    ):
        resp = await stack.client.get("/v1/audit", params=params, headers=stack.auth())
        err = assert_error_shape(resp, 422, "invalid_input")
        assert field in [f["field"] for f in err["fields"]], err


async def test_the_log_is_the_tenants_own_and_for_admins(embedded_stack: Stack) -> None:
    stack = embedded_stack
    await ok(stack, "PUT", "/v1/teams/mine", {"id": "mine", "name": "Mine"})
    other = await make_key(stack, ["admin"], tenant_id="other-co")
    resp = await stack.client.put(
        "/v1/teams/theirs", json={"id": "theirs", "name": "Theirs"}, headers=stack.auth(other)
    )
    assert resp.status_code == 200
    assert [e["target"] for e in await audit(stack)] == ["team:mine"]
    assert [e["target"] for e in await audit(stack, other)] == ["team:theirs"]
    for scopes in (["read"], ["ingest"]):
        key = await make_key(stack, scopes)
        resp = await stack.client.get("/v1/audit", headers=stack.auth(key))
        assert_error_shape(resp, 403, "forbidden")


async def test_a_failed_change_leaves_no_entry(embedded_stack: Stack) -> None:
    stack = embedded_stack
    resp = await stack.client.put(
        "/v1/reps/r1", json={"id": "r1", "name": "Ann", "team_id": "nowhere"}, headers=stack.auth()
    )
    assert resp.status_code >= 400
    resp = await stack.client.delete("/v1/teams/nowhere", headers=stack.auth())
    assert resp.status_code == 404
    assert await audit(stack) == []


async def test_bulk_changes_keep_an_outline_not_megabytes(embedded_stack: Stack) -> None:
    stack = embedded_stack
    org = {
        "teams": [{"id": "t", "name": "T"}],
        "reps": [{"id": f"r{i:04d}", "name": f"Rep {i}", "team_id": "t"} for i in range(2000)],
    }
    await ok(stack, "PUT", "/v1/org", org)
    (entry,) = await audit(stack)
    assert entry["after"]["truncated"] is True
    assert entry["after"]["outline"]["reps"] == "2000 items"
    assert entry["after"]["bytes"] > 64 * 1024
