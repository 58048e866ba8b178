"""ASGI middleware: security headers on every response, and requests the stores cannot hold.

Headers (docs/SECURITY.md): ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``
with ``frame-ancestors 'none'`` in the Content-Security-Policy, ``Referrer-Policy:
no-referrer``, ``Cross-Origin-Opener-Policy: same-origin``, ``Strict-Transport-Security``
when configured (behind TLS), and ``Cache-Control: no-store`` on answers to authenticated
requests that set no caching of their own. A header the route set itself is kept.

Every response gets the configured policy (``'self'`` only: the dashboard serves its own
files, no CDN), except the API docs pages (``/docs``, ``/redoc``): they too load only this
process's files and no inline script, but also need data: images, and ReDoc inline styles
and a blob: worker (``DOCS_POLICIES``).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paceline.shared.errors import error_body

# The API docs pages (shared/web/docs.py) load only this process's files, and no inline
# script. Swagger UI's stylesheet draws icons as data: images; ReDoc styles itself by adding
# <style> elements (styled-components) and runs its search index in a blob: worker.
_DOCS_BASE = "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
DOCS_POLICIES: dict[str, str] = {
    "/docs": f"default-src 'self'; img-src 'self' data:; {_DOCS_BASE}",
    "/redoc": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        f"worker-src 'self' blob:; {_DOCS_BASE}"
    ),
}


class SecurityHeadersMiddleware:
    """Add the security headers to every HTTP response."""

    def __init__(self, app: ASGIApp, *, csp: str, hsts_max_age_s: int = 0) -> None:
        self.app = app
        common: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if hsts_max_age_s > 0:
            common.append(
                (
                    b"strict-transport-security",
                    f"max-age={hsts_max_age_s}; includeSubDomains".encode(),
                )
            )
        self._headers = [*common, (b"content-security-policy", csp.encode())]
        self._docs_headers = {
            path: [*common, (b"content-security-policy", policy.encode())]
            for path, policy in DOCS_POLICIES.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._docs_headers.get(scope.get("path", ""), self._headers)
        authenticated = any(
            name in (b"authorization", b"x-api-key") for name, _ in scope.get("headers", ())
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in extra if n not in present]
                if authenticated and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _has_nul(scope: Scope) -> bool:
    raw_path: bytes = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "replace")
    query: bytes = scope.get("query_string", b"")
    return any(b"\x00" in part or b"%00" in part for part in (raw_path, query)) or (
        "\x00" in scope.get("path", "")
    )


class RequestGuardMiddleware:
    """Answer 400 to a path or query string holding a NUL character.

    No route has a use for one, and PostgreSQL cannot store or even compare text that holds
    it: refusing it here keeps every lookup from failing deep inside the database.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_nul(scope):
            await self.app(scope, receive, send)
            return
        body = orjson.dumps(
            error_body(
                status=400,
                code="bad_request",
                message="the path or query string contains a NUL character (%00)",
                request_id=scope.get("state", {}).get("request_id"),
            )
        )
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


CORS_METHODS: Sequence[str] = ("GET", "POST", "PUT", "PATCH", "DELETE")
CORS_HEADERS: Sequence[str] = (
    "Authorization",
    "X-API-Key",
    "Content-Type",
    "X-Request-ID",
    "If-None-Match",
)
CORS_EXPOSE: Sequence[str] = (
    "X-Request-ID",
    "Retry-After",
    "Link",
    "X-Next-Cursor",
    "ETag",
    "Location",
)
