"""Helpers for the connector tests: fixtures, connectors, signed posts, stored events, facts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from paceline.shared.db.models import Event
from paceline.shared.db.models_webhooks import QuarantineItem, WebhookRecord
from tests.infra import free_port
from tests.support import Stack

FIXTURES = Path(__file__).parent / "fixtures"
LATE_AS_OF = "2027-06-01T00:00:00+08:00"
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}


def fixture(path: str) -> bytes:
    """A fixture file's body: the leading comment lines (its documentation source) removed."""
    lines = (FIXTURES / path).read_text(encoding="utf-8").splitlines(keepends=True)
    while lines and (lines[0].startswith("//") or lines[0].startswith("<!--")):
        lines.pop(0)
    return "".join(lines).encode()


def fixture_source(path: str) -> str:
    """The documentation URL a fixture names."""
    first = (FIXTURES / path).read_text(encoding="utf-8").splitlines()[0]
    assert "source:" in first, f"{path} does not name its documentation source"
    return first


async def put_connector(stack: Stack, source: str, **body: Any) -> dict[str, Any]:
    """PUT /v1/connectors/{source} (201 or 200 required)."""
    resp = await stack.client.put(f"/v1/connectors/{source}", json=body, headers=stack.auth())
    assert resp.status_code in (200, 201), resp.text
    out: dict[str, Any] = resp.json()
    return out


async def put_mapping(stack: Stack, source: str, mapping: dict[str, Any]) -> dict[str, Any]:
    """PUT /v1/connectors/{source}/mapping (200 required)."""
    resp = await stack.client.put(
        f"/v1/connectors/{source}/mapping", json=mapping, headers=stack.auth()
    )
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


async def get_mapping(stack: Stack, source: str) -> dict[str, Any]:
    """GET /v1/connectors/{source}/mapping."""
    resp = await stack.client.get(f"/v1/connectors/{source}/mapping", headers=stack.auth())
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


def webhook_url(source: str, endpoint_id: str) -> str:
    """The full URL the test client posts to (what HubSpot signs)."""
    return f"http://paceline.test/v1/webhooks/{source}?endpoint={endpoint_id}"


async def post_webhook(
    stack: Stack,
    source: str,
    endpoint_id: str,
    body: bytes,
    headers: dict[str, str] | None = None,
    *,
    content_type: str = "application/json",
) -> httpx.Response:
    """POST a webhook body to a connector's endpoint."""
    return await stack.client.post(
        f"/v1/webhooks/{source}",
        params={"endpoint": endpoint_id},
        content=body,
        headers={"Content-Type": content_type, **(headers or {})},
    )


def hubspot_v3_headers(secret: str, url: str, body: bytes, at: datetime) -> dict[str, str]:
    """X-HubSpot-Signature-v3 headers, computed here independently of the adapter."""
    ts = str(int(at.timestamp() * 1000))
    source = b"POST" + url.encode() + body + ts.encode()
    sig = base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()
    return {"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": ts}


def now() -> datetime:
    """The wall clock: signatures are stamped with it and the app checks them against its
    own (system) clock within minutes, so the verdict never depends on the date."""
    return datetime.now(UTC)


async def stored_events(stack: Stack, source: str) -> dict[str, dict[str, Any]]:
    """The canonical events scoring stored for a source, by event id."""
    async with stack.db.transaction(write=False) as session:
        rows = (
            await session.execute(
                select(Event.event_id, Event.payload).where(Event.source == source)
            )
        ).all()
    out = {}
    for event_id, payload in rows:
        out[event_id] = json.loads(payload) if isinstance(payload, str) else payload
    return out


async def quarantine(stack: Stack, **params: str) -> list[dict[str, Any]]:
    """GET /v1/quarantine items."""
    resp = await stack.client.get("/v1/quarantine", params=params, headers=stack.auth())
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


async def counts(stack: Stack) -> tuple[int, int, int]:
    """(events stored, quarantine rows, snapshots) of the default tenant."""
    async with stack.db.transaction(write=False) as session:
        events = len((await session.execute(select(Event.id))).all())
        kept = len((await session.execute(select(QuarantineItem.id))).all())
        snaps = len((await session.execute(select(WebhookRecord.record_id))).all())
    return events, kept, snaps


async def facts(
    stack: Stack, kpi: str, group_by: str = "rep,day"
) -> dict[tuple[Any, ...], Decimal]:
    """GET /v1/facts for November: {(rep, day): value}."""
    resp = await stack.client.get(
        "/v1/facts",
        params={"kpi": kpi, **NOVEMBER, "group_by": group_by, "limit": "1000"},
        headers=stack.auth(),
    )
    assert resp.status_code == 200, resp.text
    keys = [k for k in group_by.split(",") if k]
    out = {}
    for row in resp.json()["rows"]:
        key = tuple(row["rep_id" if k == "rep" else k] for k in keys)
        if row["value"] is not None:
            out[key] = Decimal(row["value"])
    return out


async def progress(stack: Stack, kpi: str, scope: str = "company") -> Decimal:
    """The ``actual`` of GET /v1/progress for November 2026."""
    resp = await stack.client.get(
        "/v1/progress",
        params={"kpi": kpi, "scope": scope, "period": "2026-11", "as_of": LATE_AS_OF},
        headers=stack.auth(),
    )
    assert resp.status_code == 200, resp.text
    return Decimal(resp.json()["actual"])


def without_volatile(event: dict[str, Any]) -> dict[str, Any]:
    """An event without the fields that differ between identical states."""
    return {k: v for k, v in event.items() if k not in {"event_id"}}


# -- a fake CRM API on 127.0.0.1 -------------------------------------------------------------


@dataclass
class FakeApi:
    """A real HTTP server on a free loopback port answering canned JSON per path."""

    routes: dict[str, tuple[int, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port>"""
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def fake_api() -> Iterator[FakeApi]:
    """Start a FakeApi; stop it afterwards."""
    api = FakeApi()

    def handler_factory() -> Callable[..., BaseHTTPRequestHandler]:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's method name
                parts = urlsplit(self.path)
                api.requests.append(
                    {
                        "path": parts.path,
                        "query": {k: v[0] for k, v in parse_qs(parts.query).items()},
                        "authorization": self.headers.get("Authorization"),
                    }
                )
                status, body = api.routes.get(parts.path, (404, {"status": "error"}))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    api.port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", api.port), handler_factory())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
