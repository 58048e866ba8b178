"""Dashboard sign-in cookies: names, tokens and the CSRF token that goes with them.

A sign-in (services/api/auth) sets two cookies:

* ``paceline_session``: 32 random bytes; HttpOnly, SameSite=Lax, Secure over https (or
  when ``PACELINE_SESSION_COOKIE_SECURE``); the database stores only its SHA-256.
* ``paceline_csrf``: readable by the dashboard's script, which sends it back in the
  ``X-CSRF-Token`` header on every unsafe request (double submit). Its value is derived
  from the session token (an HMAC-like SHA-256 of it), so a cookie planted by a sibling
  sub-domain cannot be paired with a header the attacker chose: the server recomputes it.

Keys in headers are unaffected: a request that presents a key is authenticated by the
key alone and never by a cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

SESSION_COOKIE: Final = "paceline_session"
CSRF_COOKIE: Final = "paceline_csrf"
CSRF_HEADER: Final = "X-CSRF-Token"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_KEY_PREFIX: Final = "session:"  # Principal.key_id of a sign-in (its rate bucket)


def new_token() -> str:
    """A new session token (the cookie's value)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The stored form of a session token."""
    return hashlib.sha256(b"paceline-session:" + token.encode()).hexdigest()


def csrf_of(token: str) -> str:
    """The CSRF token that belongs to a session token."""
    return hashlib.sha256(b"paceline-csrf:" + token.encode()).hexdigest()


def csrf_matches(token: str, header: str | None, cookie: str | None) -> bool:
    """Whether the header and the cookie both carry the session's CSRF token."""
    expected = csrf_of(token)
    return (
        header is not None
        and cookie is not None
        and hmac.compare_digest(header, expected)
        and hmac.compare_digest(cookie, expected)
    )


def session_key_id(digest: str) -> str:
    """The key id a sign-in's principal carries (its rate-limit bucket, its denial)."""
    return SESSION_KEY_PREFIX + digest[:16]


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two tokens."""
    return hmac.compare_digest(a.encode(), b.encode())
