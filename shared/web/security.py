"""Security headers on every response, and requests the stores cannot hold (both applied
by the request edge's one ASGI layer, shared/web/edge.py); URLs a tenant gives Paceline.

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
from starlette.types import Scope, Send

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


Headers = list[tuple[bytes, bytes]]


def security_headers(*, csp: str, hsts_max_age_s: int = 0) -> tuple[Headers, dict[str, Headers]]:
    """The headers every response gets (a header the route set itself is kept), and
    those of the API docs pages by path."""
    common: Headers = [
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
    docs = {
        path: [*common, (b"content-security-policy", policy.encode())]
        for path, policy in DOCS_POLICIES.items()
    }
    return [*common, (b"content-security-policy", csp.encode())], docs


# The request guard (shared/web/edge.py applies it): 400 to a path or query string holding a
# NUL character, and 415 to a JSON body that is not UTF-8. No route has a use for a NUL,
# and PostgreSQL cannot store or even compare text that holds it: refusing it at the edge
# keeps every lookup from failing deep inside the database. JSON exchanged between systems
# is UTF-8 (RFC 8259); Python's parser would also read UTF-16 and UTF-32, so a body in
# those (or a ``charset`` other than UTF-8) is refused before any route reads it: the
# first bytes of the body are looked at, then handed on.


def has_nul(scope: Scope) -> bool:
    """Whether the path or the query string holds a NUL character (raw or %00)."""
    raw_path: bytes = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "replace")
    query: bytes = scope.get("query_string", b"")
    return any(b"\x00" in part or b"%00" in part for part in (raw_path, query)) or (
        "\x00" in scope.get("path", "")
    )


def json_charset(content_type: bytes | None) -> str | None:
    """The charset of a JSON ``Content-Type`` ("" when JSON without one); None if the
    request's body is not JSON."""
    if content_type is None:
        return None
    media, _, params = content_type.decode("latin-1").partition(";")
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


def looks_utf16_or_32(head: bytes) -> bool:
    """Whether a JSON body's first bytes are UTF-16 or UTF-32 (a BOM, or the NUL bytes that
    RFC 4627's encoding detection reads): valid UTF-8 JSON never starts with a NUL."""
    return head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:4]


async def refuse(send: Send, scope: Scope, status: int, code: str, message: Msg) -> None:
    """Answer ``status`` in the error shape, in the request's language."""
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
