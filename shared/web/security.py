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
from typing import Final

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paceline.shared.errors import error_body
from paceline.shared.i18n import L10n, Msg, msg
from paceline.shared.outbound import literal_private_host, url_problem
from paceline.shared.web.middleware import scope_locale

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


def _json_charset(scope: Scope) -> str | None:
    """The request's charset if its Content-Type is JSON ("" when JSON without one)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media, _, params = value.decode("latin-1").partition(";")
            media = media.strip().lower()
            if media != "application/json" and not (
                media.startswith("application/") and media.endswith("+json")
            ):
                return None
            for param in params.split(";"):
                key, _, val = param.partition("=")
                if key.strip().lower() == "charset":
                    return str(val).strip().strip('"').lower()
            return ""
    return None


def _looks_utf16_or_32(head: bytes) -> bool:
    """Whether a JSON body's first bytes are UTF-16 or UTF-32 (a BOM, or the NUL bytes that
    RFC 4627's encoding detection reads): valid UTF-8 JSON never starts with a NUL."""
    return head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:4]


async def _refuse(send: Send, scope: Scope, status: int, code: str, message: Msg) -> None:
    body = orjson.dumps(
        error_body(
            status=status,
            code=code,
            message=message,
            request_id=scope.get("state", {}).get("request_id"),
            locale=scope_locale(scope),
        )
    )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestGuardMiddleware:
    """Answer 400 to a path or query string holding a NUL character, and 415 to a JSON
    body that is not UTF-8.

    No route has a use for a NUL, and PostgreSQL cannot store or even compare text that
    holds it: refusing it here keeps every lookup from failing deep inside the database.
    JSON exchanged between systems is UTF-8 (RFC 8259); Python's parser would also read
    UTF-16 and UTF-32, so a body in those (or a ``charset`` other than UTF-8) is refused
    before any route reads it: the first bytes of the body are looked at, then handed on.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _has_nul(scope):
            await _refuse(send, scope, 400, "bad_request", msg("web.request.nul"))
            return
        charset = _json_charset(scope)
        if charset is None:
            await self.app(scope, receive, send)
            return
        if charset not in ("", "utf-8", "utf8"):
            refusal = msg("web.body.not_utf8", charset=repr(charset[:40]))
            await _refuse(send, scope, 415, "unsupported_media_type", refusal)
            return
        buffered: list[Message] = []
        head = b""
        more = True
        while more and len(head) < 4:
            received = await receive()
            buffered.append(received)
            if received["type"] != "http.request":
                break
            head += bytes(received.get("body", b""))
            more = bool(received.get("more_body", False))
        if _looks_utf16_or_32(head):
            await _refuse(send, scope, 415, "unsupported_media_type", msg("web.body.utf16_or_32"))
            return

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)


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


# -- URLs a tenant gives Paceline to call ----------------------------------------------------
#
# shared/outbound.py says why a URL is refused in English words (for logs); the caller
# reads the reason from the catalog (``web.url.*``), the outbound module's words kept in
# the message's ``detail`` parameter for machines.

_URL_REASONS: Final = (
    ("must not contain control characters", "web.url.control_characters"),
    ("has unbalanced or repeated brackets", "web.url.brackets"),
    ("the port must be in", "web.url.port_range"),
    ("has an empty port", "web.url.port_range"),
    ("has characters after the IPv6 address", "web.url.port_range"),
    ("must be an ", "web.url.scheme"),
    ("has no host", "web.url.no_host"),
    ("host ", "web.url.bad_host"),
)


def url_refusal(
    url: str, *, allow_private: bool, schemes: tuple[str, ...] = ("http", "https")
) -> Msg | None:
    """Why Paceline must not call ``url`` as a catalog message (None if it may): not a
    well-formed absolute URL of ``schemes``, or (unless private destinations are allowed)
    a host that is never public (in any spelling)."""
    problem = url_problem(url, schemes=schemes)
    if problem is not None:
        code = next(
            (c for start, c in _URL_REASONS if problem.startswith(start)), "web.url.invalid"
        )
        prefixes = [f"{s}://" for s in schemes]
        either = L10n(zh=" 或 ".join(prefixes), en=" or ".join(prefixes))
        return msg(code, schemes=either, detail=problem)
    if allow_private:
        return None
    host = literal_private_host(url)
    if host is not None:
        return msg("web.url.not_public", host=repr(host))
    return None
