"""The request edge's parts: request ids, request logs and HTTP metrics, request-size
limits (one ASGI layer does them all with the security headers and the request guard:
shared/web/edge.py)."""

from __future__ import annotations

import itertools
import logging
import os
import re
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.exceptions import HTTPException
from starlette.types import Scope, Send

from paceline.shared.errors import error_body
from paceline.shared.i18n import Msg, locale_of, msg

# An X-Request-ID the caller sends is kept if it looks like one; else a new id is made.
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class _RequestIds:
    """New request ids: 32 hex digits, a random 64-bit prefix per process (drawn again in
    a forked child) and a counter. Unique without a system call per request (uuid4 reads
    the OS's randomness every time: 1.4 µs against 0.2); ids need to be unique, not
    unguessable (they are echoed to the caller who sent the request)."""

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.counter = itertools.count()

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.counter):016x}"


new_request_id = _RequestIds()


def too_large(limit: int) -> Msg:
    """The 413 message of a body past ``limit`` bytes."""
    return msg("web.body.too_large", limit=limit)


def scope_locale(scope: Scope) -> str:
    """The language of a raw ASGI answer (no route, no tenant yet): the request's
    ``Accept-Language`` when it names zh or en, else zh-CN."""
    for name, value in scope.get("headers", ()):
        if name == b"accept-language":
            return locale_of(value.decode("latin-1"))
    return locale_of(None)


class BodyTooLarge(HTTPException):
    """Raised while a body streams in past the limit; rendered as 413 (the error handler
    renders a :class:`Msg` detail in the request's language)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, str(too_large(limit)))
        self.detail = too_large(limit)  # type: ignore[assignment]


async def reject_too_large(send: Send, limit: int, request_id: str | None, locale: str) -> None:
    """Answer 413 for a body past ``limit`` bytes (the connection is closed after it)."""
    body = orjson.dumps(
        error_body(
            status=413,
            code="payload_too_large",
            message=too_large(limit),
            request_id=request_id,
            locale=locale,
        )
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


access_log = logging.getLogger("paceline.access")

# Query parameters whose values never reach a log line (an API key pasted into a link,
# a signature, a token, a CRM webhook's endpoint id, which for a CRM that cannot sign is
# the credential): the name stays, the value becomes "REDACTED".
SECRET_PARAMS = frozenset(
    {
        "key",
        "api_key",
        "apikey",
        "token",
        "access_token",
        "secret",
        "signature",
        "password",
        "endpoint",
        "code",  # an OpenID Connect authorization code (/auth/{tenant}/callback)
        "id_token",
    }
)
# Path parameters redacted the same way (``/v1/webhooks/{source}/{endpoint_id}``).
SECRET_PATH_PARAMS = frozenset({"endpoint_id"})


def redact_path(path: str, path_params: dict[str, object]) -> str:
    """The path with the values of secret path parameters replaced by ``REDACTED``."""
    segments = path.split("/")
    secrets = {str(v) for k, v in path_params.items() if k in SECRET_PATH_PARAMS and v}
    return "/".join("REDACTED" if seg in secrets else seg for seg in segments)


def redact_query(query: str) -> str:
    """The query string with the values of secret-looking parameters replaced."""
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(
        [(k, "REDACTED" if k.lower() in SECRET_PARAMS else v) for k, v in pairs], safe="/:,"
    )
