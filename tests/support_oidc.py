"""A local OpenID Connect provider on loopback, answering as OpenID Connect Core 1.0 and
Discovery 1.0 document (and RFC 6749 / RFC 7636 for the code and PKCE).

* ``GET /.well-known/openid-configuration``: the discovery document (issuer =
  ``http://127.0.0.1:<port>``).
* ``GET /jwks``: the public half of an RSA key made once per test session.
* ``GET /authorize``: approves at once, as the configured :class:`Person`: checks
  ``response_type=code``, the client id, a registered redirect URI and a PKCE S256
  challenge, then redirects to ``redirect_uri?code=...&state=...`` (Core 3.1.2.5).
* ``POST /token``: checks client authentication (``client_secret_basic``), the code (once),
  the redirect URI and the PKCE verifier, then answers the tokens with an ``id_token``
  signed RS256 carrying iss, sub, aud, exp, iat, nonce, email, email_verified (3.1.3.3).

Times in the token come from the test's clock. :attr:`OidcProvider.tamper` changes the next
ID tokens (another audience, nonce, an expired token, another signing key, a changed
payload) for the refusal tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "paceline-test"
CLIENT_SECRET = "oidc-client-secret-0123456789-SECRET"


@cache
def signing_key() -> RSAKey:
    """The provider's RSA key: one per test session."""
    return RSAKey.generate_key(2048, parameters={"kid": "test-1", "use": "sig", "alg": "RS256"})


@cache
def other_key() -> RSAKey:
    """A key the provider does not publish (a forger's)."""
    return RSAKey.generate_key(2048, parameters={"kid": "test-1", "use": "sig", "alg": "RS256"})


@dataclass
class Person:
    """Who the provider signs in."""

    sub: str
    email: str
    email_verified: bool = True


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    person: Person


@dataclass
class OidcProvider:
    """The running provider and its knobs."""

    port: int
    now: Callable[[], datetime]
    person: Person = field(default_factory=lambda: Person("sub-ann", "ann@example.com"))
    redirect_uris: set[str] = field(default_factory=set)
    tamper: dict[str, Any] = field(default_factory=dict)
    codes: dict[str, _Grant] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        """The issuer identifier."""
        return f"http://127.0.0.1:{self.port}"

    def discovery(self) -> dict[str, Any]:
        """The discovery document."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "email"],
        }

    def id_token(self, grant: _Grant) -> str:
        """An ID token for a grant, as tampered with."""
        iat = int(self.now().timestamp())
        claims: dict[str, Any] = {
            "iss": self.tamper.get("iss", self.issuer),
            "sub": grant.person.sub,
            "aud": self.tamper.get("aud", grant.client_id),
            "exp": iat + int(self.tamper.get("exp_in", 300)),
            "iat": iat + int(self.tamper.get("iat_shift", 0)),
            "email": grant.person.email,
            "email_verified": grant.person.email_verified,
        }
        nonce = self.tamper.get("nonce", grant.nonce)
        if nonce is not None:
            claims["nonce"] = nonce
        key = other_key() if self.tamper.get("forged") else signing_key()
        token = jwt.encode({"alg": "RS256", "kid": "test-1"}, claims, key)
        if self.tamper.get("payload"):  # change a claim after signing
            head, body, sig = token.split(".")
            changed = dict(claims, email="boss@example.com")
            raw = base64.urlsafe_b64encode(json.dumps(changed).encode()).rstrip(b"=").decode()
            token = f"{head}.{raw}.{sig}"
            assert body != raw
        return token


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _handler(provider: OidcProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _json(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # http.server's method name
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/.well-known/openid-configuration":
                self._json(200, provider.discovery())
            elif parts.path == "/jwks":
                self._json(200, {"keys": [signing_key().as_dict(private=False)]})
            elif parts.path == "/authorize":
                self._authorize(query)
            else:
                self._json(404, {"error": "not_found"})

        def _authorize(self, query: dict[str, str]) -> None:
            redirect_uri = query.get("redirect_uri", "")
            if query.get("client_id") != CLIENT_ID or redirect_uri not in provider.redirect_uris:
                self._json(400, {"error": "invalid_request"})  # never redirect to unknown URIs
                return
            problem = None
            if query.get("response_type") != "code":
                problem = "unsupported_response_type"
            elif query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
                problem = "invalid_request"
            elif "openid" not in query.get("scope", "").split():
                problem = "invalid_scope"
            params = {"state": query["state"]} if "state" in query else {}
            if problem is not None:
                params["error"] = problem
            else:
                code = secrets.token_urlsafe(16)
                provider.codes[code] = _Grant(
                    client_id=CLIENT_ID,
                    redirect_uri=redirect_uri,
                    challenge=query["code_challenge"],
                    nonce=query.get("nonce"),
                    person=provider.person,
                )
                params["code"] = code
            self.send_response(302)
            self.send_header("Location", f"{redirect_uri}?{urlencode(params)}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:  # http.server's method name
            if urlsplit(self.path).path != "/token":
                self._json(404, {"error": "not_found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            provider.token_requests.append(form)
            auth = self.headers.get("Authorization", "")
            expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if auth != f"Basic {expected}":
                self._json(401, {"error": "invalid_client"})
                return
            grant = provider.codes.pop(form.get("code", ""), None)
            if (
                form.get("grant_type") != "authorization_code"
                or grant is None
                or grant.redirect_uri != form.get("redirect_uri")
                or _s256(form.get("code_verifier", "")) != grant.challenge
            ):
                self._json(400, {"error": "invalid_grant"})
                return
            self._json(
                200,
                {
                    "access_token": secrets.token_urlsafe(16),
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": provider.id_token(grant),
                },
            )

        def log_message(self, format: str, *args: Any) -> None:  # http.server's
            return

    return Handler


@contextmanager
def oidc_provider(now: Callable[[], datetime]) -> Iterator[OidcProvider]:
    """A provider on a free loopback port, stopped afterwards."""
    provider = OidcProvider(port=0, now=now)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    provider.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
