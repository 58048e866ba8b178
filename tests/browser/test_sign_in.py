"""Sign-in to the dashboard through OpenID Connect in a real browser: the sign-in button,
the provider's round trip (tests/support_oidc.py on loopback), the dashboard working on
the session cookie alone, and sign-out.

The demo server's clock starts at its ``--today``; the provider issues its tokens on the
same time line (read from the server's own ``as_of``), so the checks of ``exp`` and
``iat`` hold whatever the wall clock says.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime

import httpx

from tests.browser.conftest import DemoServer, Tab
from tests.support_oidc import CLIENT_ID, CLIENT_SECRET, Person, oidc_provider


def _add_user(server: DemoServer, tenant: str, email: str) -> None:
    """A viewer in the demo's database (the users API is another branch's)."""
    assert server.data is not None
    now = "2026-11-01T00:00:00+00:00"  # a creation time; nothing reads it
    with closing(sqlite3.connect(server.data / "paceline.db", timeout=30)) as db, db:
        db.execute(
            "INSERT INTO users (tenant_id, id, email, name, role, active, created_at, "
            "updated_at) VALUES (?, 'lin', ?, 'Lin', 'viewer', 1, ?, ?)",
            (tenant, email, now, now),
        )


def test_sign_in_with_single_sign_on(
    tab_factory: Callable[..., Tab], demo_server: DemoServer
) -> None:
    with demo_server.api() as api:
        _sign_in_and_out(tab_factory, demo_server, api)


def _sign_in_and_out(
    tab_factory: Callable[..., Tab], demo_server: DemoServer, api: httpx.Client
) -> None:
    # The demo server's time line (its clock started at --today): from an answer's as_of.
    tenant = api.get("/v1/me").json()["tenant_id"]
    month = api.get("/v1/dashboard/context").json()["periods"]["month"][0]
    progress = api.get("/v1/progress", params={"kpi": "revenue", "period": month})
    as_of = datetime.fromisoformat(progress.json()["as_of"])
    offset = as_of - datetime.now(UTC)
    with oidc_provider(lambda: datetime.now(UTC) + offset) as provider:
        callback = f"{demo_server.base}/auth/{tenant}/callback"
        provider.redirect_uris.add(callback)
        provider.person = Person("sub-lin", "lin@example.com")
        body = {"issuer": provider.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        resp = api.put("/v1/auth/oidc", json=body)
        assert resp.status_code == 200, resp.text
        assert resp.json()["redirect_uri"] == callback
        _add_user(demo_server, tenant, "lin@example.com")

        tab = tab_factory(with_key=False)
        page = tab.page
        button = page.locator("#signin-link")
        button.wait_for(state="visible", timeout=30_000)
        assert button.inner_text() in ("单点登录", "Sign in with single sign-on")
        button.click()
        tab.wait("() => Number(document.body.dataset.renders || 0) > 0")
        assert page.url.startswith(f"{demo_server.base}/dashboard/")
        assert page.evaluate("() => localStorage.getItem('paceline.key')") is None
        cookies = {c["name"]: c for c in page.context.cookies()}
        assert cookies["paceline_session"]["httpOnly"] is True
        assert cookies["paceline_session"]["sameSite"] == "Lax"
        assert cookies["paceline_csrf"]["httpOnly"] is False
        me = page.evaluate("() => fetch('/v1/me').then((r) => r.json())")
        assert (me["via"], me["user"]["email"]) == ("session", "lin@example.com")

        page.locator("#signout").click()
        page.locator("#keydialog").wait_for(state="visible", timeout=30_000)
        # (Through Playwright's request context, with the page's cookies: a 401 fetched by
        # the page itself would be a console error.)
        assert page.context.request.get(f"{demo_server.base}/v1/me").status == 401
        assert "paceline_session" not in {c["name"] for c in page.context.cookies()}
