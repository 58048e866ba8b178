"""ASGI middleware: request ids, request logs and HTTP metrics, request-size limits."""

from __future__ import annotations

import logging
import re
import time
import uuid
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paceline.shared import metrics
from paceline.shared.errors import error_body
from paceline.shared.i18n import Msg, locale_of, msg

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class RequestIdMiddleware:
    """Take ``X-Request-ID`` from the caller (if sane) or make one; echo it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


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


async def _reject_too_large(send: Send, limit: int, request_id: str | None, locale: str) -> None:
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


class BodyLimitMiddleware:
    """Answer 413 when a body is larger than ``max_bytes`` (declared or streamed)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = scope.get("state", {}).get("request_id")
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await _reject_too_large(send, self.max_bytes, request_id, scope_locale(scope))
                    return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not response_started:
                await _reject_too_large(send, self.max_bytes, request_id, scope_locale(scope))


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


class AccessLogMiddleware:
    """One log line per HTTP request (``paceline.access``), and the HTTP metrics.

    The line carries the request id, method, path, the query with secrets redacted, the
    status, the duration and the route template; in JSON logs these are fields. Keys never
    appear: they travel in headers, and a ``key=`` in a query string is redacted.
    """

    def __init__(self, app: ASGIApp, *, log_requests: bool = True) -> None:
        self.app = app
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            metrics.HTTP_REQUESTS.labels(method=method, route=template, status=str(status)).inc()
            metrics.HTTP_REQUEST_SECONDS.labels(method=method, route=template).observe(elapsed)
            if self.log_requests and access_log.isEnabledFor(logging.INFO):
                query = redact_query(scope.get("query_string", b"").decode("latin-1"))
                path = redact_path(scope.get("path", ""), scope.get("path_params") or {})
                access_log.info(
                    "%s %s%s %d %.1fms",
                    method,
                    path,
                    f"?{query}" if query else "",
                    status,
                    elapsed * 1000,
                    extra={
                        "request_id": scope.get("state", {}).get("request_id"),
                        "method": method,
                        "path": path,
                        "query": query,
                        "route": template,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
