"""Sign-in to the dashboard through OpenID Connect (issue 17, item 1), against a local
provider on loopback (tests/support_oidc.py) and the real app, on a pinned clock.

A browser is an httpx client that follows redirects between the app (in-process) and the
provider (a real HTTP server), keeping cookies as a browser does.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from paceline.shared.clock import FixedClock
from paceline.shared.db.models import AuditEntry, Tenant
from paceline.shared.db.models_users import User, UserSession
from paceline.shared.settings import Settings
from paceline.shared.web import sessions as signin
from tests.support import Stack, distributed_settings, embedded_settings, running_stack
from tests.support_oidc import CLIENT_ID, CLIENT_SECRET, OidcProvider, Person, oidc_provider

pytestmark = pytest.mark.dates

NOW = datetime.fromisoformat("2026-11-26T10:00:00+08:00")
APP = "http://paceline.test"
TENANT = "default"
CALLBACK = f"{APP}/auth/{TENANT}/callback"
ORG = {
    "teams": [
        {"id": "hq", "name": "HQ"},
        {"id": "north", "name": "North", "parent_id": "hq"},
        {"id": "south", "name": "South", "parent_id": "hq"},
    ],
    "reps": [
        {"id": "r1", "name": "Ann", "team_id": "north", "role": "account_manager"},
        {"id": "r2", "name": "Bo", "team_id": "south", "role": "account_manager"},
    ],
}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def provider(clock: FixedClock) -> Iterator[OidcProvider]:
    with oidc_provider(clock.now) as running:
        running.redirect_uris.add(CALLBACK)
        yield running


async def _add_user(stack: Stack, user_id: str, email: str, role: str, **extra: Any) -> None:
    async with stack.db.transaction() as session:
        session.add(
            User(
                tenant_id=TENANT,
                id=user_id,
                email=email,
                name=user_id.title(),
                role=role,
                active=extra.pop("active", True),
                created_at=stack.now(),
                updated_at=stack.now(),
                **extra,
            )
        )


async def _configure(stack: Stack, provider: OidcProvider, **body: Any) -> httpx.Response:
    payload = {"issuer": provider.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    return await stack.client.put("/v1/auth/oidc", json=payload | body, headers=stack.auth())


@pytest.fixture
async def stack(tmp_path: Path, clock: FixedClock, provider: OidcProvider) -> AsyncIterator[Stack]:
    """An embedded stack with the org, the provider configured, and two users."""
    settings = embedded_settings(tmp_path / "data", rate_limit_per_s=0)
    async with _configured("embedded", settings, clock, provider) as running:
        yield running


@pytest.fixture(
    params=["embedded", pytest.param("distributed", marks=[pytest.mark.pg, pytest.mark.kafka])]
)
async def stack_both(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock, provider: OidcProvider
) -> AsyncIterator[Stack]:
    """The same in both run modes (sessions and users on real PostgreSQL too)."""
    if request.param == "embedded":
        settings = embedded_settings(tmp_path / "data", rate_limit_per_s=0)
    else:
        settings = distributed_settings(
            request.getfixturevalue("migrated_database_url"),
            request.getfixturevalue("kafka_bootstrap"),
            data_dir=tmp_path / "data",
            rate_limit_per_s=0,
        )
    async with _configured(request.param, settings, clock, provider) as running:
        yield running


@asynccontextmanager
async def _configured(
    mode: str, settings: Settings, clock: FixedClock, provider: OidcProvider
) -> AsyncIterator[Stack]:
    async with running_stack(mode, settings, clock=clock) as running:
        resp = await running.client.put("/v1/org", json=ORG, headers=running.auth())
        assert resp.status_code == 200, resp.text
        resp = await _configure(running, provider)
        assert resp.status_code == 200, resp.text
        await _add_user(running, "ann", "Ann@Example.com".lower(), "admin")
        await _add_user(running, "mia", "mia@example.com", "manager", team_id="north")
        yield running


def browser(stack: Stack, provider: OidcProvider) -> httpx.AsyncClient:
    """A client that reaches the app in-process and the provider over loopback."""
    return httpx.AsyncClient(
        mounts={
            APP: httpx.ASGITransport(app=stack.app),
            provider.issuer: httpx.AsyncHTTPTransport(),
        },
        base_url=APP,
        follow_redirects=True,
        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},  # as browsers do
    )


async def sign_in(client: httpx.AsyncClient) -> httpx.Response:
    """Press the sign-in button and follow every redirect."""
    return await client.get(f"/auth/{TENANT}/login", params={"next": "/dashboard/#/overview"})


def code_of(resp: httpx.Response) -> str | None:
    """The refusal page's reason code."""
    marker = 'data-code="'
    if marker not in resp.text:
        return None
    return resp.text.split(marker, 1)[1].split('"', 1)[0]


async def _sessions(stack: Stack) -> list[UserSession]:
    async with stack.db.transaction(write=False) as session:
        return list((await session.scalars(select(UserSession))).all())


async def _user(stack: Stack, user_id: str) -> User:
    async with stack.db.transaction(write=False) as session:
        user = await session.get(User, (TENANT, user_id))
        assert user is not None
        return user


# -- configuration -----------------------------------------------------------------------------


async def test_configuration_is_checked_and_its_secret_never_shown(
    stack: Stack, provider: OidcProvider
) -> None:
    resp = await stack.client.get("/v1/auth/oidc", headers=stack.auth())
    assert resp.status_code == 200
    body = resp.json()
    assert body["issuer"] == provider.issuer
    assert body["client_secret_set"] is True
    assert body["redirect_uri"] == CALLBACK
    assert body["scopes"] == ["openid", "email", "profile"]
    assert CLIENT_SECRET not in resp.text
    async with stack.db.transaction(write=False) as session:
        tenant = await session.get(Tenant, TENANT)
        assert tenant is not None
        stored = tenant.options["oidc"]
    assert stored["client_secret_enc"].startswith("enc:v1:")
    assert CLIENT_SECRET not in str(stored)
    audit = await stack.client.get("/v1/audit", headers=stack.auth())
    assert CLIENT_SECRET not in audit.text
    assert "auth.oidc.set" in audit.text

    # Left out, the stored secret stays.
    resp = await stack.client.put(
        "/v1/auth/oidc",
        json={"issuer": provider.issuer, "client_id": CLIENT_ID, "email_claim": "mail"},
        headers=stack.auth(),
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["email_claim"] == "mail"
    assert resp.json()["client_secret_set"] is True

    options = await stack.client.get("/auth/options")
    assert options.json() == {"tenant": TENANT, "oidc": True, "login_url": "/auth/default/login"}
    other = await stack.client.get("/auth/options", params={"tenant": "nobody"})
    assert other.json() == {"tenant": "nobody", "oidc": False, "login_url": None}


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"issuer": "http://127.0.0.1:1"}, "issuer", "无法获取发现文档"),
        ({"issuer": "ftp://example.com"}, "issuer", "http:// 或 https://"),
        ({"scopes": ["email"]}, "scopes", "openid"),
        ({"allowed_email_domains": ["not a domain"]}, "allowed_email_domains", "不是域名"),
        ({"email_claim": "e mail"}, "email_claim", "声明（claim）名称"),
        ({"client_id": ""}, "client_id", ""),
    ],
)
async def test_a_bad_configuration_is_422_naming_the_field(
    stack: Stack, provider: OidcProvider, change: dict[str, Any], field: str, reason: str
) -> None:
    resp = await _configure(stack, provider, **change)
    assert resp.status_code == 422, resp.text
    fields = resp.json()["error"]["fields"]
    assert any(f["field"].endswith(field) and reason in f["reason"] for f in fields), fields


async def test_an_issuer_the_discovery_document_does_not_name_is_refused(
    stack: Stack, provider: OidcProvider
) -> None:
    resp = await _configure(stack, provider, issuer=provider.issuer + "/")
    assert resp.status_code == 422
    [problem] = resp.json()["error"]["fields"]
    assert problem["field"] == "issuer"
    assert "与配置的不一致" in problem["reason"]  # the tenant's locale, zh-CN
    assert problem["reason_code"] == "auth.oidc.provider.issuer_mismatch"
    resp = await stack.client.put(
        "/v1/auth/oidc",
        json={"issuer": provider.issuer + "/", "client_id": CLIENT_ID},
        headers=stack.auth() | {"Accept-Language": "en"},
    )
    [problem] = resp.json()["error"]["fields"]
    assert "not the configured one" in problem["reason"]


async def test_a_first_configuration_needs_a_secret(tmp_path: Path, provider: OidcProvider) -> None:
    settings = embedded_settings(tmp_path / "data")
    async with running_stack("embedded", settings, clock=FixedClock(NOW)) as stack:
        resp = await stack.client.put(
            "/v1/auth/oidc",
            json={"issuer": provider.issuer, "client_id": CLIENT_ID},
            headers=stack.auth(),
        )
        assert resp.status_code == 422
        assert resp.json()["error"]["fields"][0]["field"] == "client_secret"
        login = await stack.client.get(f"/auth/{TENANT}/login", headers={"Accept": "text/html"})
        assert login.status_code == 404
        assert code_of(login) == "not_configured"
        assert "单点登录" in login.text  # the tenant's locale is zh-CN
        # A client that asks for no page gets the API's error shape, with the same words.
        api = await stack.client.get(f"/auth/{TENANT}/login")
        assert api.status_code == 404
        assert api.json()["error"]["code"] == "not_found"
        assert "单点登录" in api.json()["error"]["message"]


# -- the sign-in -----------------------------------------------------------------------------


async def test_sign_in_links_by_verified_email_then_by_subject(
    stack_both: Stack, provider: OidcProvider, caplog: pytest.LogCaptureFixture
) -> None:
    stack = stack_both
    caplog.set_level(logging.DEBUG)
    async with browser(stack, provider) as client:
        resp = await sign_in(client)
        assert resp.status_code == 200, resp.text
        assert resp.url == httpx.URL(f"{APP}/dashboard/#/overview")
        token = client.cookies.get(signin.SESSION_COOKIE, domain="paceline.test")
        assert token
        assert client.cookies.get(signin.CSRF_COOKIE) == signin.csrf_of(token)
        me = await client.get("/v1/me")
        assert me.status_code == 200, me.text
        assert me.json() | {"scopes": None} == {
            "tenant_id": TENANT,
            "kind": "user",
            "via": "session",
            "key_id": None,
            "scopes": None,
            "user": {
                "id": "ann",
                "email": "ann@example.com",
                "name": "Ann",
                "role": "admin",
                "team_id": None,
                "rep_id": None,
            },
            "role": "admin",
            "reach": None,
            "acts": True,
        }
        assert set(me.json()["scopes"]) == {"admin", "read", "ingest"}

    # What the provider was sent: the code with the PKCE verifier and our redirect URI.
    [exchange] = provider.token_requests
    assert exchange["grant_type"] == "authorization_code"
    assert exchange["redirect_uri"] == CALLBACK
    assert len(exchange["code_verifier"]) >= 43
    assert "client_secret" not in exchange  # sent with HTTP Basic, as announced

    ann = await _user(stack, "ann")
    assert (ann.oidc_issuer, ann.oidc_subject) == (provider.issuer, "sub-ann")
    assert ann.last_sign_in_at == NOW
    [row] = await _sessions(stack)
    assert row.token_hash == signin.token_hash(token) != token
    assert row.expires_at == NOW + timedelta(hours=12)
    async with stack.db.transaction(write=False) as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "auth.sign_in"))
    assert entry is not None
    assert (entry.actor, entry.target) == ("user:ann", "user:ann")
    assert entry.after == {"issuer": provider.issuer, "linked": True}

    # The provider now says another address: the subject, linked, still signs Ann in.
    provider.person = Person("sub-ann", "ann.new@example.com", email_verified=False)
    async with browser(stack, provider) as client:
        resp = await sign_in(client)
        assert resp.status_code == 200, resp.text
        assert (await client.get("/v1/me")).json()["user"]["id"] == "ann"
    assert len(await _sessions(stack)) == 2

    # Nothing secret reached the app's log (the test's own browser logs what it fetches).
    logged = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith(("paceline", "uvicorn"))
    )
    assert "GET /auth/default/callback?state=" in logged
    assert "code=REDACTED" in logged
    for secret in (CLIENT_SECRET, token, exchange["code"], exchange["code_verifier"]):
        assert secret not in logged


@pytest.mark.parametrize(
    "tamper",
    [
        {"aud": "someone-else"},
        {"nonce": "not-the-nonce"},
        {"exp_in": -61},  # expired a second past the leeway
        {"iat_shift": 3600},  # issued in the future
        {"iss": "http://127.0.0.1:9"},
        {"forged": True},
        {"payload": True},
    ],
    ids=["audience", "nonce", "expired", "future", "issuer", "forged", "tampered"],
)
async def test_an_id_token_that_fails_a_check_is_refused(
    stack: Stack, provider: OidcProvider, tamper: dict[str, Any]
) -> None:
    provider.tamper = tamper
    async with browser(stack, provider) as client:
        resp = await sign_in(client)
        assert resp.status_code == 401
        assert code_of(resp) == "token_refused"
        assert signin.SESSION_COOKIE not in client.cookies
        assert (await client.get("/v1/me")).status_code == 401
    assert await _sessions(stack) == []
    assert (await _user(stack, "ann")).oidc_subject is None


async def test_within_the_leeway_a_token_is_taken(stack: Stack, provider: OidcProvider) -> None:
    provider.tamper = {"exp_in": -59}
    async with browser(stack, provider) as client:
        assert (await sign_in(client)).status_code == 200
    assert len(await _sessions(stack)) == 1


@pytest.mark.parametrize(
    ("person", "code"),
    [
        (Person("sub-x", "stranger@example.com"), "unknown_user"),
        (Person("sub-x", "ann@example.com", email_verified=False), "email_unverified"),
        (Person("sub-x", "zoe@example.com"), "inactive_user"),
    ],
)
async def test_who_cannot_sign_in_is_told_why(
    stack: Stack, provider: OidcProvider, person: Person, code: str
) -> None:
    await _add_user(stack, "zoe", "zoe@example.com", "viewer", active=False)
    provider.person = person
    async with browser(stack, provider) as client:
        resp = await sign_in(client)
    assert resp.status_code == 403
    assert code_of(resp) == code
    assert await _sessions(stack) == []
    assert (await _user(stack, "ann")).oidc_subject is None


async def test_allowed_domains_and_subjects_linked_elsewhere(
    stack: Stack, provider: OidcProvider
) -> None:
    resp = await _configure(stack, provider, allowed_email_domains=["corp.example"])
    assert resp.status_code == 200
    async with browser(stack, provider) as client:
        assert code_of(await sign_in(client)) == "domain_refused"
    resp = await _configure(stack, provider, allowed_email_domains=[])
    async with browser(stack, provider) as client:
        assert (await sign_in(client)).status_code == 200
    # Another account of the provider with Ann's address cannot take her user over.
    provider.person = Person("sub-impostor", "ann@example.com")
    async with browser(stack, provider) as client:
        resp = await sign_in(client)
    assert (resp.status_code, code_of(resp)) == (403, "linked_elsewhere")


async def test_a_callback_without_its_request_is_refused(
    stack: Stack, provider: OidcProvider, clock: FixedClock
) -> None:
    async with browser(stack, provider) as client:
        client.follow_redirects = False
        to_provider = await client.get(f"/auth/{TENANT}/login")
        assert to_provider.status_code == 302
        back = await client.get(to_provider.headers["location"])
        assert back.status_code == 302
        callback = back.headers["location"]
        wrong_state = httpx.URL(callback).copy_set_param("state", "forged")
        resp = await client.get(wrong_state)
        assert (resp.status_code, code_of(resp)) == (400, "expired_request")

        # The same answer after the sign-in request's ten minutes is refused too.
        to_provider = await client.get(f"/auth/{TENANT}/login")
        back = await client.get(to_provider.headers["location"])
        clock.advance(timedelta(minutes=11))
        resp = await client.get(back.headers["location"])
        assert (resp.status_code, code_of(resp)) == (400, "expired_request")
    async with browser(stack, provider) as fresh:
        fresh.follow_redirects = False
        resp = await fresh.get(back.headers["location"])  # no cookie of the request at all
        assert (resp.status_code, code_of(resp)) == (400, "expired_request")
    assert await _sessions(stack) == []


async def test_a_provider_that_refuses_is_told_as_such(
    stack: Stack, provider: OidcProvider
) -> None:
    """The provider answers ``error=access_denied`` (OpenID Connect Core 3.1.2.6)."""
    async with browser(stack, provider) as client:
        client.follow_redirects = False
        to_provider = await client.get(f"/auth/{TENANT}/login")
        state = httpx.URL(to_provider.headers["location"]).params["state"]
        resp = await client.get(
            f"/auth/{TENANT}/callback", params={"error": "access_denied", "state": state}
        )
    assert (resp.status_code, code_of(resp)) == (401, "provider_error")
    assert provider.token_requests == []
    assert await _sessions(stack) == []


# -- the session -----------------------------------------------------------------------------


async def test_cookie_writes_need_the_csrf_token_and_keys_do_not(
    stack: Stack, provider: OidcProvider
) -> None:
    body = {"issuer": provider.issuer, "client_id": CLIENT_ID}
    async with browser(stack, provider) as client:
        await sign_in(client)
        csrf = client.cookies.get(signin.CSRF_COOKIE)
        assert csrf
        refused = await client.put("/v1/auth/oidc", json=body)
        assert refused.status_code == 403
        assert "X-CSRF-Token" in refused.json()["error"]["message"]
        wrong = await client.put("/v1/auth/oidc", json=body, headers={"X-CSRF-Token": "x" * 64})
        assert wrong.status_code == 403
        ok = await client.put("/v1/auth/oidc", json=body, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 200, ok.text
        # A key in the header is the caller, whatever cookies the browser also sends.
        keyed = await client.put("/v1/auth/oidc", json=body, headers=stack.auth())
        assert keyed.status_code == 200
        me = await client.get("/v1/me", headers=stack.auth())
        assert (me.json()["kind"], me.json()["via"]) == ("key", "key")
    async with stack.db.transaction(write=False) as session:
        actors = (
            await session.scalars(
                select(AuditEntry.actor)
                .where(AuditEntry.action == "auth.oidc.set")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert actors[-2].startswith("user:ann")
    assert actors[-1].startswith("key:")


async def test_logout_ends_the_session(stack_both: Stack, provider: OidcProvider) -> None:
    stack = stack_both
    async with browser(stack, provider) as client:
        await sign_in(client)
        csrf = client.cookies.get(signin.CSRF_COOKIE)
        assert (await client.post("/auth/logout")).status_code == 403
        assert (await client.get("/v1/me")).status_code == 200
        token = client.cookies.get(signin.SESSION_COOKIE)
        resp = await client.post("/auth/logout", headers={"X-CSRF-Token": csrf or ""})
        assert resp.status_code == 204
        assert signin.SESSION_COOKIE not in client.cookies
        # The old cookie, replayed, is refused.
        client.cookies.set(signin.SESSION_COOKIE, token or "", domain="paceline.test")
        replay = await client.get("/v1/me")
        assert replay.status_code == 401
    [row] = await _sessions(stack)
    assert row.revoked_at == NOW


async def test_sessions_expire_and_stop_with_their_user(
    stack: Stack, provider: OidcProvider, clock: FixedClock
) -> None:
    async with browser(stack, provider) as client:
        await sign_in(client)
        assert (await client.get("/v1/me")).status_code == 200
        clock.advance(timedelta(hours=12))
        assert (await client.get("/v1/me")).status_code == 401
    clock.set(NOW)
    async with browser(stack, provider) as client:
        await sign_in(client)
        assert (await client.get("/v1/me")).status_code == 200
        async with stack.db.transaction() as session:
            ann = await session.get(User, (TENANT, "ann"))
            assert ann is not None
            ann.active = False
        stack.app.state.paceline.keys.forget()  # the cache's 5 s have passed
        resp = await client.get("/v1/me")
        assert resp.status_code == 401
        assert resp.json()["error"]["message_code"] == "web.auth.session_invalid"
        assert "请重新登录" in resp.json()["error"]["message"]


async def test_a_managers_session_reads_only_their_teams(
    stack_both: Stack, provider: OidcProvider
) -> None:
    stack = stack_both
    provider.person = Person("sub-mia", "mia@example.com")
    query = {"kpi": "revenue", "period": "2026-11"}
    async with browser(stack, provider) as client:
        assert (await sign_in(client)).status_code == 200
        me = (await client.get("/v1/me")).json()
        assert me["role"] == "manager"
        assert me["reach"] == {"company": False, "teams": ["north"], "reps": ["r1"]}
        assert me["scopes"] == ["read"]
        own = await client.get("/v1/progress", params=query | {"scope": "team:north"})
        assert own.status_code == 200, own.text
        assert own.json()["scope"] == "team:north"
        other = await client.get("/v1/progress", params=query | {"scope": "team:south"})
        assert other.status_code == 403
        company = await client.get("/v1/progress", params=query | {"scope": "company"})
        assert company.status_code == 403
        # A route not marked for bounded callers stays closed to the manager.
        assert (await client.get("/v1/org")).status_code == 403


async def test_sessions_are_rate_limited_per_session(
    tmp_path: Path, provider: OidcProvider
) -> None:
    settings = embedded_settings(tmp_path / "data", rate_limit_per_s=1, rate_limit_burst=3)
    async with running_stack("embedded", settings, clock=FixedClock(NOW)) as stack:
        assert (await _configure(stack, provider)).status_code == 200
        await _add_user(stack, "ann", "ann@example.com", "admin")
        async with browser(stack, provider) as client:
            assert (await sign_in(client)).status_code == 200
            codes = [(await client.get("/v1/me")).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        async with browser(stack, provider) as other:  # another sign-in, its own bucket
            assert (await sign_in(other)).status_code == 200
            assert (await other.get("/v1/me")).status_code == 200
