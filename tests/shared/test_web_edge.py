"""The request edge's one ASGI layer keeps the order the five middlewares had: request id,
access log, security headers, guard, CORS (when configured), body limit. The stack tests
(tests/api/edge/test_web_security.py, tests/ingest/test_events_api.py) cover each step;
these pin where CORS sits among them, on a small app."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator
from typing import NamedTuple

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.responses import JSONResponse

from paceline.shared import metrics
from paceline.shared.web.edge import EdgeMiddleware
from paceline.shared.web.errors import install_error_handlers
from paceline.shared.web.middleware import REQUEST_ID, new_request_id
from paceline.shared.web.security import CORS_EXPOSE, CORS_HEADERS, CORS_METHODS

ORIGIN = "https://bi.example.com"
LIMIT = 100


def _app(*, cors: bool) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(
        EdgeMiddleware,
        max_body_bytes=LIMIT,
        csp="default-src 'self'",
        cors=(
            {
                "allow_origins": [ORIGIN],
                "allow_methods": list(CORS_METHODS),
                "allow_headers": list(CORS_HEADERS),
                "expose_headers": list(CORS_EXPOSE),
                "max_age": 600,
            }
            if cors
            else None
        ),
    )

    @app.post("/echo")
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"bytes": len(await request.body())})

    return app


class Edge(NamedTuple):
    client: httpx.AsyncClient
    cors: bool


@pytest.fixture(params=[False, True], ids=["no-cors", "cors"])
async def edge(request: pytest.FixtureRequest) -> AsyncIterator[Edge]:
    cors: bool = request.param
    transport = httpx.ASGITransport(app=_app(cors=cors))
    async with httpx.AsyncClient(transport=transport, base_url="http://edge.test") as c:
        c.headers["Accept-Language"] = "en"
        yield Edge(c, cors)


async def test_a_declared_413_carries_every_edge_header(edge: Edge) -> None:
    resp = await edge.client.post(
        "/echo",
        content=b"x" * (LIMIT + 1),
        headers={"Origin": ORIGIN, "Authorization": "Bearer k", "X-Request-ID": "req-1"},
    )
    assert resp.status_code == 413
    assert resp.json()["error"]["request_id"] == "req-1"
    assert resp.headers["x-request-id"] == "req-1"
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["cache-control"] == "no-store"
    # CORS wraps the body limit: the browser may read the 413.
    assert resp.headers.get("access-control-allow-origin") == (ORIGIN if edge.cors else None)


async def test_a_streamed_body_past_the_limit_answers_413(edge: Edge) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"y" * 30

    resp = await edge.client.post("/echo", content=chunks(), headers={"Origin": ORIGIN})
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "payload_too_large"
    assert resp.headers.get("access-control-allow-origin") == (ORIGIN if edge.cors else None)
    ok = await edge.client.post("/echo", content=b"z" * LIMIT)
    assert ok.json() == {"bytes": LIMIT}


async def test_a_preflight_is_answered_before_the_body_limit(edge: Edge) -> None:
    resp = await edge.client.options(
        "/echo",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Content-Length": str(LIMIT * 10),
        },
    )
    # With CORS, CORS answers the preflight; without it, the body limit answers first.
    assert resp.status_code == (200 if edge.cors else 413)
    assert resp.headers["x-frame-options"] == "DENY"


async def test_the_guard_answers_before_cors(edge: Edge, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="paceline.access"):
        resp = await edge.client.post(
            "/echo",
            content=b"\xff\xfe{\x00}\x00",
            headers={"Origin": ORIGIN, "Content-Type": "application/json"},
        )
    assert resp.status_code == 415
    assert "access-control-allow-origin" not in resp.headers
    assert len(resp.headers["x-request-id"]) == 32  # made here: the caller sent none
    (line,) = [r for r in caplog.records if r.name == "paceline.access"]
    assert line.getMessage().startswith("POST /echo 415 ")
    assert getattr(line, "request_id", None) == resp.headers["x-request-id"]


def test_new_request_ids_are_unique_hex_and_differ_in_a_forked_child() -> None:
    ids = [new_request_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) and REQUEST_ID.match(i) for i in ids)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: an id of its own prefix, then exit at once
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    os.close(write)
    assert child[:16] != ids[0][:16]  # another process's prefix: no id can repeat
    assert new_request_id()[:16] == ids[0][:16]


def test_a_kept_metric_child_is_the_labelled_child() -> None:
    kept = metrics.child(metrics.HTTP_REQUESTS, "PATCH", "/test/kept", "418")
    assert kept is metrics.child(metrics.HTTP_REQUESTS, "PATCH", "/test/kept", "418")
    before = metrics.HTTP_REQUESTS.labels("PATCH", "/test/kept", "418")._value.get()
    kept.inc(3)
    assert metrics.HTTP_REQUESTS.labels("PATCH", "/test/kept", "418")._value.get() == before + 3
