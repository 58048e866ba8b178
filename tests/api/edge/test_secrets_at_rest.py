"""Secrets given to Paceline (API keys, subscription signing secrets and URLs with
tokens, CRM connector secrets, the OpenID Connect client secret) are stored encrypted or
hashed, never logged, and never shown again after the answer that created them: not by
any GET of the OpenAPI document, not in the audit log, not in any column of any table.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

import paceline.migrations.models  # noqa: F401  # every model, so every table is dumped
from paceline.shared.db.base import Base
from tests.support import Stack
from tests.support_oidc import CLIENT_ID, oidc_provider

SUB_SECRET = "SECdingtalk0123456789abcdefSECRET"
URL_TOKEN = "urltoken0123456789SECRET"
CRM_SECRET = "hubspot-client-secret-0123456789-SECRET"
OIDC_SECRET = "oidc-client-secret-of-the-tenant-SECRET"


async def _dump_database(stack: Stack) -> str:
    """Every value of every table, as text."""
    out = []
    async with stack.db.transaction(write=False) as session:
        for table in Base.metadata.sorted_tables:
            rows = await session.execute(text(f'SELECT * FROM "{table.name}"'))  # noqa: S608  # our own table names
            out += [json.dumps(list(r), default=str) for r in rows.all()]
    return "\n".join(out)


async def _every_get(stack: Stack) -> list[tuple[str, str]]:
    """Every GET of the document without path parameters, and each listed item's GET."""
    answers = []
    paths = stack.app.openapi()["paths"]
    for path, item in paths.items():
        if "get" not in item or "{" in path:
            continue
        resp = await stack.client.get(path, headers=stack.auth())
        answers.append((path, resp.text))
        body: Any = resp.json() if "json" in resp.headers.get("content-type", "") else None
        items = body if isinstance(body, list) else (body or {}).get("items")
        for child, child_item in paths.items():
            if (
                not child.startswith(path + "/{")
                or child.count("{") != 1
                or "get" not in child_item
            ):
                continue
            name = child[child.index("{") + 1 : child.index("}")]
            for entry in items or []:
                if isinstance(entry, dict):
                    ident = entry.get(name, entry.get("id", entry.get("source")))
                    url = child.replace("{" + name + "}", str(ident))
                    resp = await stack.client.get(url, headers=stack.auth())
                    answers.append((url, resp.text))
    return answers


async def test_secrets_are_shown_once_and_kept_only_encrypted_or_hashed(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    key = await stack.client.post(
        "/v1/keys", json={"name": "bi", "scopes": ["read"]}, headers=stack.auth()
    )
    assert key.status_code == 201, key.text
    plaintext_key = key.json()["key"]
    sub = await stack.client.post(
        "/v1/subscriptions",
        json={
            "name": "ding",
            "url": f"https://oapi.dingtalk.test/robot/send?access_token={URL_TOKEN}",
            "format": "dingtalk",
            "secret": SUB_SECRET,
        },
        headers=stack.auth(),
    )
    assert sub.status_code == 201, sub.text
    assert URL_TOKEN not in sub.text  # the URL comes back redacted at once
    connector = await stack.client.put(
        "/v1/connectors/hubspot",
        json={"secrets": {"client_secret": CRM_SECRET}},
        headers=stack.auth(),
    )
    assert connector.status_code in {200, 201}, connector.text
    assert CRM_SECRET not in connector.text
    secrets = [plaintext_key, SUB_SECRET, URL_TOKEN, CRM_SECRET, OIDC_SECRET]

    with oidc_provider(stack.now) as provider:  # its discovery document is read at the PUT
        oidc = await stack.client.put(
            "/v1/auth/oidc",
            json={"issuer": provider.issuer, "client_id": CLIENT_ID, "client_secret": OIDC_SECRET},
            headers=stack.auth(),
        )
    assert oidc.status_code == 200, oidc.text
    assert OIDC_SECRET not in oidc.text

    answers = await _every_get(stack)
    assert any(path == "/v1/auth/oidc" for path, _ in answers)
    assert any(path.startswith("/v1/subscriptions/") for path, _ in answers)
    assert any(path.startswith("/v1/connectors/") for path, _ in answers)
    for path, body in answers:
        for secret in secrets:
            assert secret not in body, f"GET {path} shows a secret"
    stored = await _dump_database(stack)
    tables = {t.name for t in Base.metadata.sorted_tables}
    assert {"api_keys", "audit_log", "alert_subscriptions"} <= tables, tables
    for secret in secrets:
        assert secret not in stored, "a secret is stored in plaintext"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in secrets:
        assert secret not in logged
