"""The request edge in one place: every route of the app takes keys the same one way.

The test walks ``app.routes`` (every served route, the ones the OpenAPI document hides
included), not the document. Each route (method and path) is one of:

- **public by design**, on ``PUBLIC_ROUTES`` with the reason;
- **keyed**, declaring its scope with a dependency (``require``, ``require_any``:
  shared/web/deps.py), which the OpenAPI document shows as ``x-required-scope``;
- **keyed by its own handler**, on ``SELF_KEYED`` with its scope and the reason: it calls
  ``principal_of_request``, the same steps the dependencies take.

A route that is none of these fails ``edge_problems``, so a new route that forgets its
key check is caught. Every keyed route is then called on a running stack whose keys may
each make one request (a token comes back after a second; the clock stands still):

- a key of the tenant whose scopes do not grant the route's scope gets 403 ``forbidden``,
  and the message names each scope that would do;
- a key that has the scope but spent its one request gets 429 ``rate_limited`` with
  ``Retry-After: 1``.

Fresh keys for every call (made in the database, as the CLI makes them), so each starts
with a full bucket. Embedded mode only: the edge runs before any storage is touched but
the key look-up, which tests/api/edge/test_route_rules.py walks in both modes.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from paceline.cli.stack import build_app
from paceline.shared.auth import PLATFORM_TENANT, generate_key
from paceline.shared.clock import FixedClock
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.settings import Settings
from paceline.shared.web.app import required_scopes
from paceline.shared.web.deps import require
from tests.api.edge.test_route_rules import granted, schema_value
from tests.ingest.test_events_api import assert_error_shape
from tests.support import Stack, embedded_settings, running_stack

NOW = datetime.fromisoformat("2026-11-20T10:00:00+08:00")

# -- the allow-lists -------------------------------------------------------------------------

PUBLIC_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "liveness probe for the orchestrator; answers only 'ok'",
    ("GET", "/readyz"): "readiness probe; names only the state of the database and event log",
    ("GET", "/metrics"): "Prometheus scrape target; process-wide counters, no tenant's data "
    "(restricted at the network, docs/SECURITY.md)",
    ("GET", "/openapi.json"): "the API description (public, like the docs)",
    ("GET", "/docs"): "Swagger UI, reads /openapi.json",
    ("GET", "/redoc"): "ReDoc, reads /openapi.json",
    ("GET", "/docs/assets/{name}"): "the docs pages' scripts and styles (shared/web/docs.py)",
    ("GET", "/"): "redirects to the dashboard page",
    ("GET", "/dashboard"): "redirects to /dashboard/",
    ("GET", "/dashboard/"): "the dashboard page (static HTML); its reads go through "
    "/v1/dashboard with a read key",
    ("GET", "/dashboard/{name}"): "the dashboard's static files (JS, CSS)",
    ("POST", "/v1/webhooks/{source}/{endpoint_id}"): "a CRM's webhook named by the "
    "connector's unguessable endpoint id and authenticated by the vendor's signature; "
    "a CRM cannot send our key",
    ("GET", "/auth/options"): "whether a tenant offers sign-in, for the dashboard's button",
    ("GET", "/auth/{tenant}/login"): "redirects to the tenant's OpenID Connect provider",
    ("GET", "/auth/{tenant}/callback"): "the provider's answer, proved by the state, PKCE "
    "and the signed ID token (docs/SECURITY.md, Sign-in)",
    ("POST", "/auth/logout"): "ends the caller's own sign-in (CSRF token required)",
}

# Routes that read the key in their handler (no dependency declares it): scope, reason.
SELF_KEYED: dict[tuple[str, str], tuple[str, str]] = {
    ("POST", "/v1/webhooks/{source}"): (
        "ingest",
        "a key is one of two ways to name the connector; with ?endpoint= (or the "
        "X-Paceline-Endpoint header) instead it is public like the path form above",
    ),
}

# The scopes keys are made with: the first one that does not grant a route's scope is the
# wrong key for it, the first one that does is the right key.
WRONG_FIRST = ("read", "ingest", "admin", "platform")
RIGHT_FIRST = ("ingest", "read", "admin", "platform")


@dataclass(frozen=True)
class KeyedRoute:
    """A route that needs a key, with the scope expression it needs and a URL to call."""

    method: str
    path: str
    scope: str
    url: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _url(app: FastAPI, method: str, path: str) -> str:
    """The path with a plausible value for each parameter (from the document's schema)."""
    spec = app.openapi().get("paths", {}).get(path, {}).get(method.lower(), {})
    values = {
        p["name"]: schema_value(p.get("schema", {}))
        for p in spec.get("parameters", [])
        if p.get("in") == "path"
    }
    return re.sub(r"{(\w+)}", lambda m: values.get(m.group(1), "x"), path)


def edge_problems(app: FastAPI) -> tuple[list[KeyedRoute], list[str]]:
    """The keyed routes of the app, and every route that is neither keyed nor public
    (and allow-list entries that name no route)."""
    keyed: list[KeyedRoute] = []
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        path = route.path_format or route.path
        methods = sorted(set(route.methods or ()) - {"HEAD"})
        if not methods:
            problems.append(f"{path}: not an HTTP route (no methods); this test knows none")
        dependant = route.dependant if isinstance(route.original_route, APIRoute) else None
        declared = " and ".join(required_scopes(dependant))
        for method in methods:
            ident = (method, path)
            seen.add(ident)
            if ident in PUBLIC_ROUTES:
                if declared or ident in SELF_KEYED:
                    problems.append(f"{method} {path}: on the public allow-list but keyed")
                continue
            scope = declared or SELF_KEYED.get(ident, ("", ""))[0]
            if not scope:
                problems.append(
                    f"{method} {path}: declares no scope, is not on SELF_KEYED and not on "
                    "the public allow-list"
                )
                continue
            keyed.append(KeyedRoute(method, path, scope, _url(app, method, path)))
    for ident in sorted((set(PUBLIC_ROUTES) | set(SELF_KEYED)) - seen):
        problems.append(f"{ident[0]} {ident[1]}: allow-listed but not served")
    return keyed, problems


def _first(candidates: tuple[str, ...], expression: str, *, grants: bool) -> str:
    return next(s for s in candidates if granted(frozenset({s}), expression) is grants)


# -- the stack -------------------------------------------------------------------------------


@dataclass
class Edge:
    """A stack whose keys may each make one request: a token comes back after a second,
    and the clock stands still."""

    stack: Stack
    clock: FixedClock

    async def keys(self, scopes: list[str]) -> list[str]:
        """New keys, one per scope given, in the default tenant (platform keys in the
        operator's); their plaintexts."""
        now = self.clock.now()
        out = []
        async with self.stack.db.transaction() as session:
            await tenant_repo.ensure_tenant(
                session, tenant_id=PLATFORM_TENANT, name="Platform", now=now
            )
            for i, scope in enumerate(scopes):
                key = generate_key()
                tenant = (
                    PLATFORM_TENANT if scope == "platform" else self.stack.settings.default_tenant
                )
                await tenant_repo.add_key(
                    session, tenant_id=tenant, key=key, name=f"edge-{i}", scopes=[scope], now=now
                )
                out.append(key.plaintext)
        return out


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    """An embedded stack on a fixed clock; one request per key and second."""
    clock = FixedClock(NOW)
    settings = embedded_settings(tmp_path / "data", rate_limit_per_s=1, rate_limit_burst=1)
    async with running_stack("embedded", settings, clock=clock) as stack:
        yield Edge(stack, clock)


# -- the tests -------------------------------------------------------------------------------


def test_every_route_is_keyed_or_public_by_design() -> None:
    keyed, problems = edge_problems(build_app(Settings(environment="test")))
    assert problems == []
    by_route = {str(r): r.scope for r in keyed}
    # The routes of issue 20 are walked with the scope they need.
    assert by_route["POST /v1/webhooks/{source}"] == "ingest"
    assert by_route["POST /v1/events"] == "ingest"
    assert by_route["POST /v1/imports"] == "ingest"
    assert by_route["POST /v1/keys"] == "admin or platform"
    assert "POST /v1/webhooks/{source}/{endpoint_id}" not in by_route
    assert len(keyed) >= 90


def test_a_new_route_that_forgets_its_key_is_caught() -> None:
    app = build_app(Settings(environment="test"))
    extra = APIRouter()

    @extra.post("/v1/forgetful")
    async def forgetful() -> dict[str, str]:
        return {"secret": "data"}

    @extra.get("/v1/hidden", include_in_schema=False)
    async def hidden() -> dict[str, str]:
        return {"secret": "data"}

    @extra.get("/v1/careful", dependencies=[Depends(require("read"))])
    async def careful() -> dict[str, str]:
        return {"fine": "yes"}

    app.include_router(extra)
    app.openapi_schema = None
    keyed, problems = edge_problems(app)
    assert [p.split(":")[0] for p in problems] == ["POST /v1/forgetful", "GET /v1/hidden"]
    assert "GET /v1/careful" in {str(r) for r in keyed}


async def test_every_keyed_route_refuses_a_wrong_scope_and_an_exhausted_key(edge: Edge) -> None:
    keyed, problems = edge_problems(edge.stack.app)
    assert problems == []
    client = edge.stack.client
    failures: list[str] = []
    wrong_scopes = [_first(WRONG_FIRST, r.scope, grants=False) for r in keyed]
    right_scopes = [_first(RIGHT_FIRST, r.scope, grants=True) for r in keyed]
    wrong_keys = await edge.keys(wrong_scopes)
    right_keys = await edge.keys(right_scopes)

    def auth(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    for route, wrong_scope, wrong, right_scope, right in zip(
        keyed, wrong_scopes, wrong_keys, right_scopes, right_keys, strict=True
    ):
        # A key without the scope: 403, naming every scope that would do.
        resp = await client.request(route.method, route.url, headers=auth(wrong))
        body: Any = resp.json() if "json" in resp.headers.get("content-type", "") else None
        error = body.get("error", {}) if isinstance(body, dict) else {}
        wanted = [f"'{s.strip()}'" for s in re.split(r" or | and ", route.scope)]
        if resp.status_code != 403 or error.get("code") != "forbidden":
            failures.append(f"{route} with a {wrong_scope} key: {resp.status_code} {resp.text}")
        elif not all(s in error["message"] for s in wanted):
            failures.append(f"{route}: the 403 does not name {wanted}: {error['message']}")
        # A key with the scope, its one request spent (on any route: the budget is the
        # key's): 429 with Retry-After, before anything else is looked at.
        spent = await client.get("/v1/org", headers=auth(right))
        if spent.status_code in {401, 429}:
            failures.append(f"spending a {right_scope} key: {spent.status_code} {spent.text}")
            continue
        resp = await client.request(route.method, route.url, headers=auth(right))
        if resp.status_code != 429:
            failures.append(f"{route} with an exhausted {right_scope} key: {resp.status_code}")
            continue
        err = assert_error_shape(resp, 429, "rate_limited")
        if resp.headers.get("retry-after") != "1" or err["message_params"] != {"seconds": 1}:
            failures.append(f"{route}: 429 without Retry-After 1: {resp.headers} {err}")
    assert not failures, "\n".join(failures)


async def test_a_webhook_key_gets_the_same_answers_as_on_events(edge: Edge) -> None:
    """The webhook receiver's key path is the events route's, answer for answer."""
    client = edge.stack.client
    answers: dict[str, list[tuple[int, str]]] = {}
    for url in ("/v1/events", "/v1/webhooks/crm9"):
        # Fresh keys for each call: every request, refused or not, takes the key's token.
        bearer, header, spent = await edge.keys(["read", "read", "ingest"])
        await client.get("/v1/org", headers={"X-API-Key": spent})  # its one request
        answers[url] = []
        for headers in (
            {"Authorization": f"Bearer {bearer}"},
            {"X-API-Key": header},
            {"Authorization": "Bearer " + "k" * 513},  # the length guard
            {"Authorization": "Bearer pl_00000000_not-a-key"},
            {"X-API-Key": spent},
        ):
            resp = await client.post(
                url, content=b"[]", headers={"Content-Type": "application/json", **headers}
            )
            answers[url].append((resp.status_code, resp.json()["error"]["message"]))
    assert answers["/v1/webhooks/crm9"] == answers["/v1/events"]
    assert answers["/v1/events"] == [
        (403, "此 API 密钥没有 'ingest' 权限范围"),
        (403, "此 API 密钥没有 'ingest' 权限范围"),
        (401, "API 密钥无效（未知、已过期或已吊销）"),
        (401, "API 密钥无效（未知、已过期或已吊销）"),
        (429, "此 API 密钥的请求过于频繁，请在 1 秒后重试"),
    ]
    # A right key gets past the edge: the webhook route then finds no connector of that
    # name in the key's tenant.
    (ingest,) = await edge.keys(["ingest"])
    resp = await client.post("/v1/webhooks/crm9", content=b"[]", headers={"X-API-Key": ingest})
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"]["message_code"] == "webhooks.endpoint.unknown"
