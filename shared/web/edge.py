"""The request edge: one ASGI layer every HTTP request and answer passes through.

In the order a request meets them (each is documented where its helpers live):

1. the request id: ``X-Request-ID`` from the caller if sane, else a new one; echoed on the
   answer (shared/web/middleware.py);
2. the access log line and the HTTP metrics, whatever the outcome (middleware.py);
3. the security headers on every answer, ``Cache-Control: no-store`` on answers to
   authenticated requests (shared/web/security.py);
4. the request guard: 400 for a NUL in the path or query, 415 for JSON not in UTF-8
   (security.py);
5. CORS, only for the configured origins (Starlette's ``CORSMiddleware``, which stays a
   layer of its own and only when configured);
6. the body limit: 413 for a body declared or streamed past ``max_body_bytes``
   (middleware.py).

These were five middlewares, each wrapping ``send`` and calling the next through its own
coroutine; on ``POST /v1/events`` that stack cost about a fifth of a request
(docs/PERFORMANCE.md). One layer does the same steps with one ``send`` wrapper.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paceline.shared import metrics
from paceline.shared.i18n import msg
from paceline.shared.web.middleware import (
    REQUEST_ID,
    BodyTooLarge,
    access_log,
    new_request_id,
    redact_path,
    redact_query,
    reject_too_large,
    scope_locale,
)
from paceline.shared.web.security import (
    has_nul,
    json_charset,
    looks_utf16_or_32,
    refuse,
    security_headers,
)


def _declared(content_length: bytes) -> int:
    """A Content-Length's value (0 if not a number: the streamed body is counted anyway)."""
    try:
        return int(content_length)
    except ValueError:
        return 0


class EdgeMiddleware:
    """Request ids, the access log and metrics, security headers, the request guard,
    CORS (when ``cors`` options are given) and the body limit, in one ASGI layer."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        csp: str,
        hsts_max_age_s: int = 0,
        log_requests: bool = True,
        cors: Mapping[str, Any] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_body_bytes
        self.log_requests = log_requests
        self._headers, self._docs_headers = security_headers(csp=csp, hsts_max_age_s=hsts_max_age_s)
        # CORS sits between the guard and the body limit: the app runs inside it, and so
        # does the 413 (a preflight is answered by CORS, a 413 carries its headers).
        self._inner: ASGIApp = app if cors is None else CORSMiddleware(app, **cors)
        self._too_large: ASGIApp = (
            self._answer_too_large
            if cors is None
            else CORSMiddleware(self._answer_too_large, **cors)
        )

    async def _answer_too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await reject_too_large(
            send, self.max_bytes, scope.get("state", {}).get("request_id"), scope_locale(scope)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given: str | None = None
        authenticated = False
        too_large = False
        content_type: bytes | None = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                if given is None:
                    given = value.decode("latin-1")
            elif name == b"content-length":
                too_large = too_large or _declared(value) > self.max_bytes
            elif name in (b"authorization", b"x-api-key"):
                authenticated = True
            elif name == b"content-type" and content_type is None:
                content_type = value
        request_id = given if given is not None and REQUEST_ID.match(given) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        extra = self._docs_headers.get(scope.get("path", ""), self._headers)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def edge_send(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in extra if n not in present]
                if authenticated and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self._guarded(scope, receive, edge_send, content_type, too_large)
        except BodyTooLarge:
            if not response_started:
                await self._too_large(scope, receive, edge_send)
        finally:
            self._log(scope, status, time.perf_counter() - started)

    async def _guarded(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        content_type: bytes | None,
        too_large: bool,
    ) -> None:
        """The guard's refusals, then the body limit around the app (inside CORS)."""
        if has_nul(scope):
            await refuse(send, scope, 400, "bad_request", msg("web.request.nul"))
            return
        charset = json_charset(content_type)
        if charset is not None:
            if charset not in ("", "utf-8", "utf8"):
                refusal = msg("web.body.not_utf8", charset=repr(charset[:40]))
                await refuse(send, scope, 415, "unsupported_media_type", refusal)
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
            if looks_utf16_or_32(head):
                await refuse(
                    send, scope, 415, "unsupported_media_type", msg("web.body.utf16_or_32")
                )
                return
            upstream = receive

            async def replay() -> Message:
                return buffered.pop(0) if buffered else await upstream()

            receive = replay
        if too_large:
            await self._too_large(scope, receive, send)
            return
        limit = self.max_bytes
        received_bytes = 0
        source = receive

        async def limited_receive() -> Message:
            nonlocal received_bytes
            message = await source()
            if message["type"] == "http.request":
                received_bytes += len(message.get("body", b""))
                if received_bytes > limit:
                    raise BodyTooLarge(limit)
            return message

        await self._inner(scope, limited_receive, send)

    def _log(self, scope: Scope, status: int, elapsed: float) -> None:
        """The HTTP metrics and the access log line of one request."""
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope.get("method", "")
        metrics.child(metrics.HTTP_REQUESTS, method, template, str(status)).inc()
        metrics.child(metrics.HTTP_REQUEST_SECONDS, method, template).observe(elapsed)
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
