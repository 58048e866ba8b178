"""API keys (``/v1/keys``) and tenants (``/v1/tenants``): created once, stored hashed,
scoped, expiring, rotated and revoked; the operator's platform keys above the tenants.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from paceline.shared.auth import PLATFORM_TENANT, generate_key, hash_key
from paceline.shared.clock import FixedClock
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.models import ApiKey
from paceline.shared.web.deps import KeyStore
from tests.ingest.test_events_api import assert_error_shape
from tests.support import Stack, embedded_settings, running_stack

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
Clocked = tuple[Stack, FixedClock]


async def platform_key(stack: Stack) -> str:
    """An operator key, made as ``paceline keys create --scope platform`` does."""
    key = generate_key()
    now = stack.app.state.paceline.clock.now()
    async with stack.db.transaction() as session:
        await tenant_repo.ensure_tenant(
            session, tenant_id=PLATFORM_TENANT, name="Platform", now=now
        )
        await tenant_repo.add_key(
            session, tenant_id=PLATFORM_TENANT, key=key, name="op", scopes=["platform"], now=now
        )
    return key.plaintext


async def create(stack: Stack, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    """POST /v1/keys; the created key's JSON."""
    resp = await stack.client.post("/v1/keys", json=body, headers=stack.auth(key))
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


async def status_with(stack: Stack, key: str, path: str = "/v1/org") -> int:
    """The status of a GET with this key."""
    return (await stack.client.get(path, headers=stack.auth(key))).status_code


# -- create, shown once, stored hashed ------------------------------------------------------


async def test_a_key_is_shown_once_and_stored_as_its_hash(stack: Stack) -> None:
    made = await create(stack, {"name": "superset", "scopes": ["read"]})
    plaintext = made["key"]
    assert plaintext.startswith(made["prefix"] + "_")
    assert made["prefix"].startswith("pl_")
    assert (made["name"], made["scopes"], made["status"]) == ("superset", ["read"], "active")
    assert made["tenant_id"] == stack.settings.default_tenant
    assert made["expires_at"] is None
    assert made["revoked_at"] is None
    assert await status_with(stack, plaintext) == 200
    # The use is recorded in the background (best effort): wait for it, so that the list and
    # the single read below see the same row.
    used = None
    for _ in range(200):
        async with stack.db.transaction(write=False) as session:
            used = await session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == made["id"]))
        if used is not None:
            break
        await asyncio.sleep(0.05)
    assert used is not None
    # Stored: the hash only.
    async with stack.db.transaction(write=False) as session:
        row = await session.scalar(select(ApiKey).where(ApiKey.id == made["id"]))
    assert row is not None
    assert row.key_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in repr(row.__dict__)
    # Listed and read: never the key, never the hash.
    listed = await stack.client.get("/v1/keys", headers=stack.auth())
    one = await stack.client.get(f"/v1/keys/{made['id']}", headers=stack.auth())
    for resp in (listed, one):
        assert resp.status_code == 200
        assert plaintext not in resp.text
        assert row.key_hash not in resp.text
        assert '"key"' not in resp.text
    item = next(k for k in listed.json()["items"] if k["id"] == made["id"])
    assert set(item) == {
        "id",
        "tenant_id",
        "user_id",
        "name",
        "prefix",
        "scopes",
        "status",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    }
    assert one.json() == item


async def test_create_answers_are_not_cached(embedded_stack: Stack) -> None:
    resp = await embedded_stack.client.post(
        "/v1/keys", json={"name": "x", "scopes": ["read"]}, headers=embedded_stack.auth()
    )
    assert resp.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "scopes": ["root"]}, "scopes[0]"),
        ({"name": "", "scopes": ["read"]}, "name"),
        ({"name": "x" * 201, "scopes": ["read"]}, "name"),
        ({"name": "x", "scopes": ["read"], "expires_at": "2026-12-01T00:00:00"}, "expires_at"),
        ({"name": "x", "scopes": ["read"], "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "x", "scopes": ["read"], "tenant_id": "_platform"}, "tenant_id"),
        ({"name": "x", "scopes": ["read"], "extra": 1}, "extra"),
        ({"name": "x", "scopes": ["platform"]}, "scopes"),
    ],
)
async def test_bad_key_requests_answer_422_naming_the_field(
    clocked: Clocked, body: dict[str, Any], field: str
) -> None:
    stack, _ = clocked
    resp = await stack.client.post("/v1/keys", json=body, headers=stack.auth())
    err = assert_error_shape(resp, 422, "invalid_input")
    assert field in [f["field"] for f in err["fields"]], err


async def test_scopes_decide_what_a_key_may_do(embedded_stack: Stack) -> None:
    stack = embedded_stack
    keys = {s: (await create(stack, {"name": s, "scopes": [s]}))["key"] for s in ("read", "ingest")}
    both = (await create(stack, {"name": "both", "scopes": ["ingest", "read"]}))["key"]
    assert await status_with(stack, keys["read"]) == 200
    assert await status_with(stack, keys["ingest"]) == 403
    assert await status_with(stack, both) == 200
    for key in (keys["read"], keys["ingest"], both):
        resp = await stack.client.get("/v1/keys", headers=stack.auth(key))
        err = assert_error_shape(resp, 403, "forbidden")
        assert err["message"] == "此 API 密钥没有 'admin' 或 'platform' 权限范围"
        assert err["message_code"] == "web.auth.missing_scope"


# -- expiry, rotation, revocation, last use --------------------------------------------------


async def test_a_key_stops_working_when_it_expires(clocked: Clocked) -> None:
    stack, clock = clocked
    made = await create(
        stack, {"name": "temp", "scopes": ["read"], "expires_at": "2026-11-20T03:00:00Z"}
    )
    assert await status_with(stack, made["key"]) == 200
    clock.advance(timedelta(minutes=59))
    assert await status_with(stack, made["key"]) == 200  # a cached lookup too
    clock.advance(timedelta(minutes=1))
    resp = await stack.client.get("/v1/org", headers=stack.auth(made["key"]))
    err = assert_error_shape(resp, 401, "unauthorized")
    assert "已过期" in err["message"]
    one = await stack.client.get(f"/v1/keys/{made['id']}", headers=stack.auth())
    assert one.json()["status"] == "expired"
    active = await stack.client.get("/v1/keys?include_inactive=false", headers=stack.auth())
    assert made["id"] not in {k["id"] for k in active.json()["items"]}


async def test_revocation_takes_effect_at_once(stack: Stack) -> None:
    made = await create(stack, {"name": "crm", "scopes": ["read"]})
    assert await status_with(stack, made["key"]) == 200  # now cached by the key store
    resp = await stack.client.delete(f"/v1/keys/{made['id']}", headers=stack.auth())
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "revoked"
    revoked_at = resp.json()["revoked_at"]
    assert revoked_at is not None
    resp = await stack.client.get("/v1/org", headers=stack.auth(made["key"]))
    assert_error_shape(resp, 401, "unauthorized")
    # Revoking again changes nothing; the key stays listed as revoked.
    again = await stack.client.delete(f"/v1/keys/{made['id']}", headers=stack.auth())
    assert again.json()["revoked_at"] == revoked_at
    listed = await stack.client.get("/v1/keys", headers=stack.auth())
    assert {k["id"]: k["status"] for k in listed.json()["items"]}[made["id"]] == "revoked"


async def test_another_process_sees_a_revocation_when_its_cache_entry_ends(
    clocked: Clocked,
) -> None:
    """A second key store on the same database (another replica): it refuses the key as
    soon as it looks the key up again, which happens at most 5 s after it cached it."""
    stack, clock = clocked
    made = await create(stack, {"name": "replica", "scopes": ["read"]})
    other = KeyStore(stack.db, clock)
    assert (await other.principal(made["key"])).key_id == made["id"]
    resp = await stack.client.delete(f"/v1/keys/{made['id']}", headers=stack.auth())
    assert resp.status_code == 200
    other.forget()  # what the cache's 5 s lifetime does there
    with pytest.raises(Exception, match="not valid"):
        await other.principal(made["key"])


async def test_rotation_gives_a_new_key_and_the_old_one_a_grace_period(clocked: Clocked) -> None:
    stack, clock = clocked
    old = await create(
        stack,
        {"name": "hubspot", "scopes": ["ingest", "read"], "expires_at": "2027-02-18T02:00:00Z"},
    )
    resp = await stack.client.post(
        f"/v1/keys/{old['id']}/rotate", json={"grace_period_s": 3600}, headers=stack.auth()
    )
    assert resp.status_code == 201, resp.text
    new = resp.json()
    assert new["key"] != old["key"]
    assert (new["name"], new["scopes"], new["status"]) == ("hubspot", ["ingest", "read"], "active")
    # The new key keeps the old one's lifetime (90 days), counted from now.
    assert datetime.fromisoformat(new["expires_at"]) == NOW + timedelta(days=90)
    assert new["replaced"]["id"] == old["id"]
    assert datetime.fromisoformat(new["replaced"]["expires_at"]) == NOW + timedelta(hours=1)
    assert await status_with(stack, old["key"]) == 200
    assert await status_with(stack, new["key"]) == 200
    clock.advance(timedelta(hours=1))
    assert await status_with(stack, old["key"]) == 401
    assert await status_with(stack, new["key"]) == 200
    # An expired (or revoked) key cannot be rotated.
    resp = await stack.client.post(f"/v1/keys/{old['id']}/rotate", headers=stack.auth())
    err = assert_error_shape(resp, 409, "conflict")
    assert err["message"] == "该密钥已过期，无法轮换；请创建新的密钥"
    assert err["message_params"] == {"state": {"$msg": "keys.state.expired", "params": {}}}


async def test_rotation_without_grace_stops_the_old_key_at_once(clocked: Clocked) -> None:
    stack, _ = clocked
    old = await create(stack, {"name": "n", "scopes": ["read"]})
    assert await status_with(stack, old["key"]) == 200
    resp = await stack.client.post(
        f"/v1/keys/{old['id']}/rotate", json={"grace_period_s": 0}, headers=stack.auth()
    )
    assert resp.status_code == 201
    assert resp.json()["expires_at"] is None  # the old key never expired: neither does this
    assert await status_with(stack, old["key"]) == 401
    assert await status_with(stack, resp.json()["key"]) == 200


async def test_a_far_future_key_rotates_without_expires_at(clocked: Clocked) -> None:
    """Issue 17, hole 5: the new key's default expiry (the old lifetime counted from now)
    overflowed past year 9999: the rotation answered 500. It keeps the old expiry now."""
    stack, _ = clocked
    old = await create(
        stack, {"name": "forever", "scopes": ["read"], "expires_at": "9999-12-30T00:00:00Z"}
    )
    resp = await stack.client.post(
        f"/v1/keys/{old['id']}/rotate", json={"grace_period_s": 60}, headers=stack.auth()
    )
    assert resp.status_code == 201, resp.text
    new = resp.json()
    assert datetime.fromisoformat(new["expires_at"]) == datetime(9999, 12, 30, tzinfo=UTC)
    assert datetime.fromisoformat(new["replaced"]["expires_at"]) == NOW + timedelta(minutes=1)
    assert await status_with(stack, new["key"]) == 200


async def test_last_use_is_recorded(clocked: Clocked) -> None:
    stack, _ = clocked
    made = await create(stack, {"name": "bi", "scopes": ["read"]})
    assert made["last_used_at"] is None
    assert await status_with(stack, made["key"]) == 200
    for _ in range(400):  # recorded in the background, after the answer
        one = await stack.client.get(f"/v1/keys/{made['id']}", headers=stack.auth())
        if one.json()["last_used_at"] is not None:
            break
        await asyncio.sleep(0.025)
    assert datetime.fromisoformat(one.json()["last_used_at"]) == NOW


async def test_keys_list_pages_with_a_cursor(clocked: Clocked) -> None:
    stack, clock = clocked
    made = []
    for i in range(5):
        clock.advance(timedelta(seconds=1))  # after the test's own admin key
        made.append((await create(stack, {"name": f"k{i}", "scopes": ["read"]}))["id"])
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await stack.client.get("/v1/keys", params=params, headers=stack.auth())).json()
        assert len(page["items"]) <= 2
        seen += [k["id"] for k in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen[-5:] == made  # oldest first; the test's own admin key comes before them
    assert len(seen) == len(set(seen)) == 6
    resp = await stack.client.get("/v1/keys?cursor=not-a-cursor", headers=stack.auth())
    assert assert_error_shape(resp, 422, "invalid_input")["fields"][0]["field"] == "cursor"


# -- tenants and the operator ----------------------------------------------------------------


async def test_the_operator_creates_a_tenant_and_its_first_admin_key(stack: Stack) -> None:
    op = await platform_key(stack)
    resp = await stack.client.post(
        "/v1/tenants",
        json={"id": "initech", "name": "Initech", "timezone": "Europe/Berlin", "currency": "eur"},
        headers=stack.auth(op),
    )
    assert resp.status_code == 201, resp.text
    tenant = resp.json()
    assert (tenant["id"], tenant["name"], tenant["timezone"], tenant["currency"]) == (
        "initech",
        "Initech",
        "Europe/Berlin",
        "EUR",
    )
    assert (tenant["fiscal_year_start_month"], tenant["locale"], tenant["active_keys"]) == (
        1,
        "zh-CN",
        0,
    )
    admin = await create(stack, {"name": "first", "scopes": ["admin"], "tenant_id": "initech"}, op)
    assert admin["tenant_id"] == "initech"
    # The new tenant's admin sees its own empty world with the settings given.
    settings = await stack.client.get("/v1/settings", headers=stack.auth(admin["key"]))
    assert (settings.json()["timezone"], settings.json()["currency"]) == ("Europe/Berlin", "EUR")
    org = await stack.client.get("/v1/org", headers=stack.auth(admin["key"]))
    assert org.json()["teams"] == []
    # The operator lists and reads tenants (its own tenant is not among them).
    listed = await stack.client.get("/v1/tenants", headers=stack.auth(op))
    ids = [t["id"] for t in listed.json()["items"]]
    assert ids == sorted(ids)
    assert {"default", "initech"} <= set(ids)
    assert PLATFORM_TENANT not in ids
    one = await stack.client.get("/v1/tenants/initech", headers=stack.auth(op))
    assert one.json()["active_keys"] == 1
    # Taken ids, bad settings, reserved ids.
    again = await stack.client.post(
        "/v1/tenants", json={"id": "initech", "name": "x"}, headers=stack.auth(op)
    )
    assert_error_shape(again, 409, "conflict")
    for body, field in (
        ({"id": "_platform", "name": "x"}, "id"),
        ({"id": "Big Co", "name": "x"}, "id"),
        ({"id": "ok", "name": "x", "timezone": "Mars/Olympus"}, "timezone"),
        ({"id": "ok", "name": "x", "currency": "EURO"}, "currency"),
    ):
        resp = await stack.client.post("/v1/tenants", json=body, headers=stack.auth(op))
        assert field in [
            f["field"] for f in assert_error_shape(resp, 422, "invalid_input")["fields"]
        ]
    resp = await stack.client.get("/v1/tenants/_platform", headers=stack.auth(op))
    assert resp.status_code == 422
    resp = await stack.client.get("/v1/tenants/nobody", headers=stack.auth(op))
    assert_error_shape(resp, 404, "not_found")


async def test_only_the_operator_manages_tenants_and_other_tenants_keys(
    embedded_stack: Stack,
) -> None:
    stack = embedded_stack
    op = await platform_key(stack)
    await stack.client.post(
        "/v1/tenants", json={"id": "other", "name": "O"}, headers=stack.auth(op)
    )
    other_admin = await create(stack, {"name": "a", "scopes": ["admin"], "tenant_id": "other"}, op)
    # A tenant admin: no tenants routes, no other tenant's keys (404: they do not exist).
    for method, path in (("GET", "/v1/tenants"), ("GET", "/v1/tenants/other")):
        resp = await stack.client.request(method, path, headers=stack.auth())
        assert_error_shape(resp, 403, "forbidden")
    resp = await stack.client.get(f"/v1/keys/{other_admin['id']}", headers=stack.auth())
    assert_error_shape(resp, 404, "not_found")
    resp = await stack.client.get("/v1/keys?tenant_id=other", headers=stack.auth())
    assert_error_shape(resp, 404, "not_found")
    resp = await stack.client.delete(f"/v1/keys/{other_admin['id']}", headers=stack.auth())
    assert_error_shape(resp, 404, "not_found")
    assert await status_with(stack, other_admin["key"]) == 200
    # The operator: any tenant's keys; platform keys only in its own tenant.
    listed = await stack.client.get("/v1/keys?tenant_id=other", headers=stack.auth(op))
    assert [k["id"] for k in listed.json()["items"]] == [other_admin["id"]]
    resp = await stack.client.get("/v1/keys?tenant_id=nobody", headers=stack.auth(op))
    assert_error_shape(resp, 404, "not_found")
    resp = await stack.client.post(
        "/v1/keys",
        json={"name": "x", "scopes": ["admin"], "tenant_id": "nobody"},
        headers=stack.auth(op),
    )
    assert_error_shape(resp, 404, "not_found")
    second_op = await create(stack, {"name": "op2", "scopes": ["platform"]}, op)
    assert second_op["tenant_id"] == PLATFORM_TENANT
    assert await status_with(stack, second_op["key"], "/v1/tenants") == 200
    # ...which read no tenant's data.
    assert await status_with(stack, second_op["key"], "/v1/org") == 403
    resp = await stack.client.post(
        "/v1/keys", json={"name": "x", "scopes": ["admin", "platform"]}, headers=stack.auth(op)
    )
    assert_error_shape(resp, 422, "invalid_input")
    resp = await stack.client.delete(f"/v1/keys/{other_admin['id']}", headers=stack.auth(op))
    assert resp.json()["status"] == "revoked"
    assert await status_with(stack, other_admin["key"]) == 401


async def test_key_actions_are_in_the_tenants_audit_log(embedded_stack: Stack) -> None:
    stack = embedded_stack
    op = await platform_key(stack)
    made = await create(stack, {"name": "audited", "scopes": ["read"]})
    await stack.client.post(f"/v1/keys/{made['id']}/rotate", headers=stack.auth())
    await stack.client.delete(f"/v1/keys/{made['id']}", headers=stack.auth())
    await stack.client.post("/v1/tenants", json={"id": "t2", "name": "T2"}, headers=stack.auth(op))
    entries = (await stack.client.get("/v1/audit?action=keys.*", headers=stack.auth())).json()
    actions = [(e["action"], e["target"]) for e in entries["items"]]
    assert actions[:3] == [
        ("keys.revoke", f"key:{made['id']}"),
        ("keys.rotate", f"key:{made['id']}"),
        ("keys.create", f"key:{made['id']}"),
    ]
    created = entries["items"][2]
    assert created["after"]["scopes"] == ["read"]
    assert created["actor"].startswith("key:")
    assert made["key"] not in str(entries)
    # The tenant's creation is in the new tenant's log, by the operator's key.
    op_id = (await stack.client.get("/v1/keys", headers=stack.auth(op))).json()["items"][0]["id"]
    t2_admin = await create(stack, {"name": "a", "scopes": ["admin"], "tenant_id": "t2"}, op)
    log = (await stack.client.get("/v1/audit", headers=stack.auth(t2_admin["key"]))).json()
    assert [(e["action"], e["actor"]) for e in log["items"]] == [
        ("keys.create", f"key:{op_id}"),
        ("tenants.create", f"key:{op_id}"),
    ]


async def test_the_bootstrap_key_id_is_not_taken_from_its_hash(tmp_path: Path) -> None:
    """Issue 17, hole 5: the bootstrap key's id was the first 16 hex digits of its SHA-256
    hash, shown in every key listing and audit entry. Now a random id; a restart keeps it."""
    plaintext = "operator-given-bootstrap-key-0123456789abcdef"
    settings = embedded_settings(tmp_path / "data", bootstrap_api_key=plaintext)
    ids = []
    for _ in range(2):  # the second start finds the key by its hash and adds none
        async with running_stack("embedded", settings) as s:
            listed = await s.client.get("/v1/keys", headers=s.auth(plaintext))
            assert listed.status_code == 200, listed.text
            boot = [k for k in listed.json()["items"] if k["name"] == "bootstrap"]
            assert len(boot) == 1
            ids.append(boot[0]["id"])
    assert ids[0] == ids[1]
    assert ids[0] != hash_key(plaintext)[:16]
    assert ids[0] not in hash_key(plaintext)
