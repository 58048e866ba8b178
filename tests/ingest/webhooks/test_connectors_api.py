"""The connector configuration API: endpoints, sealed secrets, mappings, audit, scopes."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from sqlalchemy import select, text

from paceline.shared.db.models import AuditEntry
from tests.ingest.test_events_api import make_key
from tests.ingest.webhooks.support import (
    hubspot_v3_headers,
    now,
    post_webhook,
    put_connector,
    webhook_url,
)
from tests.ingest.webhooks.test_generic import sw_headers
from tests.support import Stack


async def audit_entries(stack: Stack) -> list[AuditEntry]:
    """The default tenant's audit log, oldest first."""
    async with stack.db.transaction(write=False) as session:
        rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return list(rows.all())


async def test_create_read_update_rotate_delete(embedded_stack: Stack) -> None:
    s = embedded_stack
    resp = await s.client.put(
        "/v1/connectors/pipedrive",
        json={"settings": {"username": "pd-hook"}},
        headers=s.auth(),
    )
    assert resp.status_code == 201, resp.text
    created = resp.json()
    password = created["generated_secrets"]["password"]
    assert len(password) >= 32
    assert created["secrets"] == {"password": "[redacted]"}
    assert created["webhook_path"] == f"/v1/webhooks/pipedrive?endpoint={created['endpoint_id']}"
    assert len(created["endpoint_id"]) >= 32
    assert created["mapping"]["objects"]["deal"]["values"]["stage"]["won"] == ["won"]

    got = (await s.client.get("/v1/connectors/pipedrive", headers=s.auth())).json()
    assert got["generated_secrets"] is None
    assert password not in json.dumps(got)
    listed = (await s.client.get("/v1/connectors", headers=s.auth())).json()
    assert [c["source"] for c in listed] == ["pipedrive"]

    # replacing settings keeps the stored secret and the endpoint
    resp = await s.client.put(
        "/v1/connectors/pipedrive",
        json={"settings": {"username": "pd-hook-2"}},
        headers=s.auth(),
    )
    assert resp.status_code == 200
    assert resp.json()["endpoint_id"] == created["endpoint_id"]
    assert resp.json()["generated_secrets"] is None
    assert resp.json()["revision"] == 2

    rotated = await s.client.post(
        "/v1/connectors/pipedrive/rotate", json={"secrets": ["password"]}, headers=s.auth()
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["endpoint_id"] != created["endpoint_id"]
    new_password = rotated.json()["generated_secrets"]["password"]
    assert new_password != password

    # the stored secret is ciphertext, never the plaintext
    async with s.db.transaction(write=False) as session:
        stored = (
            await session.execute(text("SELECT secrets FROM webhook_connectors"))
        ).scalar_one()
    stored_text = stored if isinstance(stored, str) else json.dumps(stored)
    assert "enc:v1:" in stored_text
    assert new_password not in stored_text

    assert (await s.client.delete("/v1/connectors/pipedrive", headers=s.auth())).status_code == 204
    assert (await s.client.get("/v1/connectors/pipedrive", headers=s.auth())).status_code == 404

    entries = await audit_entries(s)
    assert [e.action for e in entries] == [
        "connectors.create",
        "connectors.update",
        "connectors.rotate",
        "connectors.delete",
    ]
    assert all(e.target == "connector:pipedrive" for e in entries)
    assert all(e.request_id and e.actor.startswith("key:") for e in entries)
    assert entries[0].after is not None
    assert entries[0].after["secrets"] == "[redacted]"
    dumped = json.dumps([[e.before, e.after] for e in entries])
    assert password not in dumped
    assert new_password not in dumped


@pytest.mark.parametrize(
    ("source", "body", "field"),
    [
        ("pipedrive", {"settings": {}}, "settings.username"),
        ("salesforce", {"settings": {}}, "settings.organization_id"),
        ("hubspot", {"settings": {}}, "secrets.client_secret"),
        (
            "hubspot",
            {"secrets": {"client_secret": "x"}, "settings": {"colour": "red"}},
            "settings.colour",
        ),
        ("crm9", {"adapter": "nope"}, "adapter"),
        ("crm9", {"settings": {"signature": "md5"}}, "settings.signature"),
    ],
)
async def test_invalid_connectors_name_the_field(
    embedded_stack: Stack, source: str, body: dict[str, Any], field: str
) -> None:
    resp = await embedded_stack.client.put(
        f"/v1/connectors/{source}", json=body, headers=embedded_stack.auth()
    )
    assert resp.status_code == 422, resp.text
    assert field in [f["field"] for f in resp.json()["error"]["fields"]]


async def test_an_invalid_mapping_is_refused_naming_the_problem(embedded_stack: Stack) -> None:
    s = embedded_stack
    await put_connector(s, "crm9")
    bad = {"objects": {"meeting": {"type": "visit", "fields": {"rep_id": "owner", "stage": "x"}}}}
    resp = await s.client.put("/v1/connectors/crm9/mapping", json=bad, headers=s.auth())
    assert resp.status_code == 422
    assert "stage" in resp.text
    no_owner = {"objects": {"deal": {"type": "deal", "fields": {"stage": "s"}}}}
    resp = await s.client.put("/v1/connectors/crm9/mapping", json=no_owner, headers=s.auth())
    assert resp.status_code == 422
    assert "rep_id" in resp.text


async def test_scopes_and_tenants(embedded_stack: Stack) -> None:
    s = embedded_stack
    await put_connector(s, "hubspot", secrets={"client_secret": "cs"})
    reader = await make_key(s, ["read"])
    ingest = await make_key(s, ["ingest"])
    other = await make_key(s, ["admin"], tenant_id="other-co")
    assert (await s.client.get("/v1/connectors/hubspot", headers=s.auth(reader))).status_code == 200
    assert (await s.client.get("/v1/quarantine", headers=s.auth(reader))).status_code == 200
    put = await s.client.put("/v1/connectors/hubspot/mapping", json={}, headers=s.auth(reader))
    assert put.status_code == 403
    replay = await s.client.post("/v1/quarantine/replay?source=hubspot", headers=s.auth(reader))
    assert replay.status_code == 403
    assert (await s.client.get("/v1/connectors", headers=s.auth(ingest))).status_code == 403
    assert (await s.client.get("/v1/connectors/hubspot", headers=s.auth(other))).status_code == 404
    assert (await s.client.get("/v1/connectors", headers=s.auth(other))).json() == []


async def test_secrets_never_reach_the_logs(
    embedded_stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    s = embedded_stack
    secret = "hs-secret-never-logged-4411"
    out = await put_connector(s, "hubspot", secrets={"client_secret": secret})
    caplog.set_level(logging.DEBUG)
    body = b"[]"
    bad = hubspot_v3_headers("wrong", webhook_url("hubspot", out["endpoint_id"]), body, now())
    resp = await post_webhook(s, "hubspot", out["endpoint_id"], body, bad)
    assert resp.status_code == 401
    assert "refused" in caplog.text
    assert secret not in caplog.text


async def test_adapters_are_listed_with_their_defaults(embedded_stack: Stack) -> None:
    s = embedded_stack
    resp = await s.client.get("/v1/connector-adapters", headers=s.auth())
    assert resp.status_code == 200
    by_name = {a["name"]: a for a in resp.json()}
    assert sorted(by_name) == ["generic", "hubspot", "pipedrive", "salesforce", "zoho"]
    hubspot = by_name["hubspot"]
    assert hubspot["default_mapping"]["objects"]["deal"]["values"]["stage"]["won"] == ["closedwon"]
    assert {o["name"] for o in hubspot["options"] if o["secret"]} == {
        "client_secret",
        "access_token",
    }


async def test_the_endpoint_id_can_be_in_the_path_or_an_api_key_can_name_the_tenant(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    out = await put_connector(s, "crm9")
    secret = out["generated_secrets"]["secret"]
    body = (
        b'{"event_id": "p-1", "type": "visit", '
        b'"occurred_at": "2026-11-10T10:00:00+08:00", "rep_id": "u"}'
    )
    resp = await s.client.post(
        f"/v1/webhooks/crm9/{out['endpoint_id']}",
        content=body,
        headers={"Content-Type": "application/json", **sw_headers(secret, body, "a")},
    )
    assert resp.status_code == 200, resp.text
    ingest = await make_key(s, ["ingest"])
    resp = await s.client.post(
        "/v1/webhooks/crm9",
        content=body,
        headers={
            "Content-Type": "application/json",
            **s.auth(ingest),
            **sw_headers(secret, body, "b"),
        },
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["results"][0]["event_ids"] == ["p-1"]
    reader = await make_key(s, ["read"])
    resp = await s.client.post(
        "/v1/webhooks/crm9",
        content=body,
        headers={
            "Content-Type": "application/json",
            **s.auth(reader),
            **sw_headers(secret, body, "c"),
        },
    )
    # The key is known but lacks the scope: 403 naming it, as on every keyed route.
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"]["message"] == "this API key lacks the 'ingest' scope"
    resp = await s.client.post(
        "/v1/webhooks/crm9",
        content=body,
        headers={
            "Content-Type": "application/json",
            "Authorization": "Bearer " + "k" * 513,
            **sw_headers(secret, body, "d"),
        },
    )
    assert resp.status_code == 401, resp.text  # the length guard, before any look-up
    assert resp.json()["error"]["message"].startswith("the API key is not valid")
