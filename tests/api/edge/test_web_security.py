"""Limits and headers: per-key rate limits, CORS (closed by default), security headers,
hostile requests to the JSON routes (wrong content types, deep nesting, invalid UTF-8,
NUL characters, huge bodies), values the database refuses, and timeouts on every
outbound HTTP call.
"""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from paceline.shared.clock import FixedClock
from tests.ingest.test_events_api import assert_error_shape, make_key
from tests.support import Stack, embedded_settings, running_stack

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
JSON = {"Content-Type": "application/json"}
ORG = {"teams": [{"id": "north", "name": "North"}], "reps": []}


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[tuple[Stack, FixedClock]]:
    """A stack whose keys may make 3 requests at once and 1 a second, on a fixed clock."""
    clock = FixedClock(NOW)
    settings = embedded_settings(tmp_path / "data", rate_limit_per_s=1, rate_limit_burst=3)
    async with running_stack("embedded", settings, clock=clock) as stack:
        yield stack, clock


@pytest.fixture
async def open_cors(tmp_path: Path) -> AsyncIterator[Stack]:
    """A stack that lets one origin call it from browsers, behind TLS (HSTS on)."""
    settings = embedded_settings(
        tmp_path / "data", cors_origins="https://bi.example.com", hsts_max_age_s=31_536_000
    )
    async with running_stack("embedded", settings) as stack:
        yield stack


# -- rate limits ---------------------------------------------------------------------------


async def test_a_key_over_its_budget_gets_429_with_retry_after(
    limited: tuple[Stack, FixedClock],
) -> None:
    stack, clock = limited
    key = await make_key(stack, ["read"])
    other = await make_key(stack, ["read"])
    for _ in range(3):
        resp = await stack.client.get("/v1/org", headers=stack.auth(key))
        assert resp.status_code == 200, resp.text
    resp = await stack.client.get("/v1/org", headers=stack.auth(key))
    err = assert_error_shape(resp, 429, "rate_limited")
    assert resp.headers["retry-after"] == "1"
    assert err["message"] == "此 API 密钥的请求过于频繁，请在 1 秒后重试"
    assert (err["message_code"], err["message_params"]) == ("web.auth.rate_limited", {"seconds": 1})
    # Another key has its own budget.
    resp = await stack.client.get("/v1/org", headers=stack.auth(other))
    assert resp.status_code == 200, resp.text
    # Still refused while the clock stands; one token back after a second.
    resp = await stack.client.get("/v1/org", headers=stack.auth(key))
    assert resp.status_code == 429
    clock.advance(timedelta(seconds=1))
    resp = await stack.client.get("/v1/org", headers=stack.auth(key))
    assert resp.status_code == 200, resp.text
    resp = await stack.client.get("/v1/org", headers=stack.auth(key))
    assert resp.status_code == 429
    # The refusals are counted.
    metrics = (await stack.client.get("/metrics")).text
    assert "paceline_rate_limited_total" in metrics


async def test_rate_limits_apply_to_ingest_too(limited: tuple[Stack, FixedClock]) -> None:
    stack, _clock = limited
    key = await make_key(stack, ["ingest"])
    event = {
        "event_id": "v1",
        "type": "visit",
        "occurred_at": "2026-11-10T10:00:00+08:00",
        "rep_id": "r1",
    }
    statuses = [
        (await stack.post_events({**event, "event_id": f"v{i}"}, key=key)).status_code
        for i in range(4)
    ]
    assert statuses == [202, 202, 202, 429]


async def test_rate_limit_off_with_zero(tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path / "data", rate_limit_per_s=0, rate_limit_burst=1)
    async with running_stack("embedded", settings, clock=FixedClock(NOW)) as stack:
        for _ in range(5):
            assert (await stack.client.get("/v1/org", headers=stack.auth())).status_code == 200


# -- CORS ----------------------------------------------------------------------------------


def _preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }


async def test_cors_is_closed_by_default(embedded_stack: Stack) -> None:
    resp = await embedded_stack.client.options("/v1/org", headers=_preflight("https://evil.test"))
    assert "access-control-allow-origin" not in resp.headers
    assert resp.status_code == 405  # no CORS middleware: nothing answers a preflight
    resp = await embedded_stack.client.get(
        "/v1/org", headers={**embedded_stack.auth(), "Origin": "https://evil.test"}
    )
    assert resp.status_code == 200
    assert "access-control-allow-origin" not in resp.headers


async def test_cors_allows_only_the_configured_origins(open_cors: Stack) -> None:
    client = open_cors.client
    resp = await client.options("/v1/org", headers=_preflight("https://bi.example.com"))
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == "https://bi.example.com"
    assert "authorization" in resp.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in resp.headers  # keys, never cookies
    resp = await client.get(
        "/v1/org", headers={**open_cors.auth(), "Origin": "https://bi.example.com"}
    )
    assert resp.headers["access-control-allow-origin"] == "https://bi.example.com"
    assert "x-request-id" in resp.headers["access-control-expose-headers"].lower()
    resp = await client.options("/v1/org", headers=_preflight("https://evil.test"))
    assert resp.status_code == 400
    assert "access-control-allow-origin" not in resp.headers
    resp = await client.get("/v1/org", headers={**open_cors.auth(), "Origin": "https://evil.test"})
    assert "access-control-allow-origin" not in resp.headers


def test_cors_origins_must_be_origins() -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        embedded_settings(Path("var"), cors_origins="https://bi.example.com/path")
    settings = embedded_settings(Path("var"), cors_origins=" https://a.test , http://b.test:8080 ")
    assert settings.cors_origins == ["https://a.test", "http://b.test:8080"]


# -- security headers ----------------------------------------------------------------------

BASE_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


def _assert_security_headers(headers: Any, *, docs: bool = False) -> None:
    for name, value in BASE_HEADERS.items():
        assert headers[name] == value, name
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "cdn" not in csp
    if docs:  # Swagger UI's icons are data: images; still no inline or foreign script
        assert csp.startswith("default-src 'self'; img-src 'self' data:;")
        assert "unsafe-inline" not in csp
    else:
        assert csp.startswith("default-src 'self'")


async def test_every_kind_of_answer_carries_the_security_headers(embedded_stack: Stack) -> None:
    client = embedded_stack.client
    ok = await client.get("/v1/org", headers=embedded_stack.auth())
    assert ok.status_code == 200
    _assert_security_headers(ok.headers)
    assert ok.headers["cache-control"] == "no-store"  # an authenticated answer
    assert "strict-transport-security" not in ok.headers  # off unless configured
    unauthorized = await client.get("/v1/org")
    assert unauthorized.status_code == 401
    _assert_security_headers(unauthorized.headers)
    health = await client.get("/healthz")
    _assert_security_headers(health.headers)
    assert "cache-control" not in health.headers
    too_big = await client.post(
        "/v1/events", content=b"x" * (6 * 1024 * 1024), headers={**embedded_stack.auth(), **JSON}
    )
    assert too_big.status_code == 413
    _assert_security_headers(too_big.headers)
    docs = await client.get("/docs")
    assert docs.status_code == 200
    _assert_security_headers(docs.headers, docs=True)
    not_found = await client.get("/nowhere")
    assert not_found.status_code == 404
    _assert_security_headers(not_found.headers)


async def test_hsts_when_configured(open_cors: Stack) -> None:
    resp = await open_cors.client.get("/healthz")
    assert resp.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


# -- hostile requests to the JSON routes ---------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/v1/org"), ("PUT", "/v1/settings"), ("POST", "/v1/keys"), ("POST", "/v1/targets")],
)
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded", None]
)
async def test_json_routes_refuse_other_content_types_with_415(
    embedded_stack: Stack, method: str, path: str, content_type: str | None
) -> None:
    headers = embedded_stack.auth()
    if content_type is not None:
        headers["Content-Type"] = content_type
    body = b"<org><team id='north'/></org>" if content_type == "application/xml" else b'{"a": 1}'
    resp = await embedded_stack.client.request(method, path, content=body, headers=headers)
    err = assert_error_shape(resp, 415, "unsupported_media_type")
    assert "application/json" in err["message"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"teams": [', "bad_request"),  # truncated
        (b"[" * 100_000 + b"]" * 100_000, "bad_request"),  # nested past any parser
        (b'{"teams": [{"id": "n", "name": "\xff\xfe"}]}', "bad_request"),  # invalid UTF-8
        (b"\xef\xbb\xbf{", "bad_request"),
    ],
    ids=["truncated", "deep", "invalid-utf8", "bom-garbage"],
)
async def test_malformed_json_bodies_answer_400(
    embedded_stack: Stack, body: bytes, code: str
) -> None:
    resp = await embedded_stack.client.put(
        "/v1/org", content=body, headers={**embedded_stack.auth(), **JSON}
    )
    assert_error_shape(resp, 400, code)
    org = await embedded_stack.client.get("/v1/org", headers=embedded_stack.auth())
    assert org.json()["teams"] == []


@pytest.mark.parametrize(
    ("body", "content_type", "why"),
    [
        ('{"teams": []}'.encode("utf-16"), "application/json", "UTF-16 或 UTF-32"),
        ('{"teams": []}'.encode("utf-16-le"), "application/json", "UTF-16 或 UTF-32"),
        ('{"teams": []}'.encode("utf-16-be"), "application/json", "UTF-16 或 UTF-32"),
        ('{"teams": []}'.encode("utf-32"), "application/json", "UTF-16 或 UTF-32"),
        (b'{"teams": []}', "application/json; charset=utf-16", "'utf-16'"),
        (b'{"teams": []}', "application/json; charset=latin-1", "'latin-1'"),
    ],
    ids=["utf16-bom", "utf16-le", "utf16-be", "utf32", "charset-utf16", "charset-latin1"],
)
async def test_json_bodies_are_utf8_only(
    embedded_stack: Stack, body: bytes, content_type: str, why: str
) -> None:
    """Issue 17, hole 5: Python's JSON parser reads UTF-16 and UTF-32 too, so such a body
    was accepted (200) on JSON routes. JSON between systems is UTF-8 (RFC 8259): 415."""
    s = embedded_stack
    for method, path in [("PUT", "/v1/org"), ("POST", "/v1/events"), ("POST", "/v1/imports")]:
        resp = await s.client.request(
            method, path, content=body, headers={**s.auth(), "Content-Type": content_type}
        )
        err = assert_error_shape(resp, 415, "unsupported_media_type")
        # Refused before any route or key is read: Accept-Language, else zh-CN.
        assert err["message"] == f"JSON 请求体须使用 UTF-8 编码（RFC 8259），而不是 {why}", path
    resp = await s.client.put(
        "/v1/org",
        content=body,
        headers={**s.auth(), "Content-Type": content_type, "Accept-Language": "en-US,en;q=0.9"},
    )
    err = assert_error_shape(resp, 415, "unsupported_media_type")
    assert err["message"].startswith("send JSON bodies as UTF-8 (RFC 8259), not "), err
    org = await s.client.get("/v1/org", headers=s.auth())
    assert org.json()["teams"] == []
    utf8 = await s.client.put(
        "/v1/org",
        content='\ufeff{"teams": [{"id": "n", "name": "北区"}]}'.encode(),
        headers={**s.auth(), "Content-Type": "application/json; charset=UTF-8"},
    )
    assert utf8.status_code == 200, utf8.text
    assert utf8.json()["teams"][0]["name"] == "北区"


async def test_a_key_without_ingest_gets_403_on_every_webhook_route(
    embedded_stack: Stack,
) -> None:
    """Issue 17, hole 5: a read key sent with an endpoint id answered 401 (the signature's
    failure); a valid key without the scope is 403 everywhere. Unknown keys stay 401 and
    the key still authenticates nothing: an ingest key with a bad signature is 401."""
    s = embedded_stack
    made = await s.client.put(
        "/v1/connectors/pipedrive", json={"settings": {"username": "pd"}}, headers=s.auth()
    )
    endpoint = made.json()["endpoint_id"]
    read, ingest = await make_key(s, ["read"]), await make_key(s, ["ingest"])
    paths = [
        "/v1/webhooks/pipedrive",
        f"/v1/webhooks/pipedrive?endpoint={endpoint}",
        f"/v1/webhooks/pipedrive/{endpoint}",
        "/v1/webhooks/pipedrive/not-an-endpoint",
    ]
    for path in paths:
        for headers in ({"Authorization": f"Bearer {read}"}, {"X-API-Key": read}):
            resp = await s.client.post(path, content=b"{}", headers={**headers, **JSON})
            err = assert_error_shape(resp, 403, "forbidden")
            assert err["message"] == "此 API 密钥没有 'ingest' 权限范围", path
        unknown = await s.client.post(
            path, content=b"{}", headers={"X-API-Key": "pl_00000000_" + "x" * 43, **JSON}
        )
        assert_error_shape(unknown, 401, "unauthorized")
    for path in paths[1:]:
        resp = await s.client.post(path, content=b"{}", headers={"X-API-Key": ingest, **JSON})
        err = assert_error_shape(resp, 401, "unauthorized")
        assert err["message_code"] in ("webhooks.sig.refused", "webhooks.endpoint.unknown"), err


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"x": value}
    return value


@pytest.mark.parametrize(("method", "path"), [("PUT", "/v1/org"), ("PUT", "/v1/settings")])
async def test_nested_values_where_none_belong_answer_422(
    embedded_stack: Stack, method: str, path: str
) -> None:
    body = (
        {"teams": [{"id": "n", "name": _nested(200)}]}
        if path == "/v1/org"
        else {"name": _nested(200)}
    )
    resp = await embedded_stack.client.request(
        method, path, json=body, headers=embedded_stack.auth()
    )
    err = assert_error_shape(resp, 422, "invalid_input")
    assert err["fields"]


async def test_huge_bodies_answer_413_on_every_route(tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path / "data", max_body_bytes=4096)
    async with running_stack("embedded", settings) as stack:
        big = {"teams": [{"id": f"t{i}", "name": "x" * 50} for i in range(200)], "reps": []}
        for method, path in (("PUT", "/v1/org"), ("POST", "/v1/keys"), ("PUT", "/v1/fx-rates")):
            resp = await stack.client.request(method, path, json=big, headers=stack.auth())
            err = assert_error_shape(resp, 413, "payload_too_large")
            assert err["message"] == "请求体超过 4,096 字节"
            assert (err["message_code"], err["message_params"]) == (
                "web.body.too_large",
                {"limit": 4096},
            )
        resp = await stack.client.put(
            "/v1/org", json=big, headers=stack.auth() | {"Accept-Language": "en"}
        )
        err = assert_error_shape(resp, 413, "payload_too_large")
        assert err["message"] == "the request body is larger than 4,096 bytes"


@pytest.mark.parametrize(
    "url",
    ["/v1/teams/a%00b", "/v1/org?x=%00", "/v1/progress?kpi=visits%00&period=2026-11"],
)
async def test_nul_in_the_path_or_query_answers_400(embedded_stack: Stack, url: str) -> None:
    resp = await embedded_stack.client.get(url, headers=embedded_stack.auth())
    err = assert_error_shape(resp, 400, "bad_request")
    assert "NUL" in err["message"]


async def test_values_the_database_refuses_answer_422_and_store_nothing(stack: Stack) -> None:
    """PostgreSQL refuses NUL characters in text: 422, never 500 (SQLite stores them)."""
    resp = await stack.client.put(
        "/v1/reps/r1", json={"id": "r1", "name": "Ann\u0000"}, headers=stack.auth()
    )
    if stack.mode == "distributed":
        err = assert_error_shape(resp, 422, "invalid_input")
        assert "NUL" in err["message"]
        resp = await stack.client.get("/v1/reps/r1", headers=stack.auth())
        assert resp.status_code == 404
    else:
        assert resp.status_code == 200, resp.text
    resp = await stack.client.get("/v1/targets/99999999999999999999", headers=stack.auth())
    assert_error_shape(resp, 422, "invalid_input")
    resp = await stack.client.get("/v1/jobs/9223372036854775807", headers=stack.auth())
    assert_error_shape(resp, 404, "not_found")


# -- outbound calls ------------------------------------------------------------------------

_CLIENTS = {"Client", "AsyncClient"}
_CALLS = {"get", "post", "put", "delete", "patch", "request", "stream", "head", "options"}


def _outbound_calls_without_timeout(source: str) -> list[int]:
    """Lines that build an httpx client, or call httpx's module functions, without a
    ``timeout=`` argument (httpx's own default of 5 s is not our decision)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value
        if not (isinstance(owner, ast.Name) and owner.id == "httpx"):
            continue
        if node.func.attr in _CLIENTS | _CALLS and not any(
            k.arg == "timeout" for k in node.keywords
        ):
            lines.append(node.lineno)
    return lines


def test_every_outbound_http_call_sets_a_timeout() -> None:
    found = {}
    for path in [*ROOT.joinpath("services").rglob("*.py"), *ROOT.joinpath("shared").rglob("*.py")]:
        text = path.read_text()
        if "httpx" not in text:
            continue
        lines = _outbound_calls_without_timeout(text)
        if lines:
            found[str(path.relative_to(ROOT))] = lines
    assert not found, f"outbound HTTP without an explicit timeout: {found}"
    assert _outbound_calls_without_timeout("import httpx\nhttpx.AsyncClient()\n") == [2]
    assert _outbound_calls_without_timeout("import httpx\nhttpx.get('u', timeout=3)\n") == []


def test_every_http_client_is_the_guarded_one() -> None:
    """Issue 17, hole 1: the quarantine replay built its own client and skipped the
    private-address guard. Outside shared/outbound.py no code builds an httpx client:
    every call to a tenant-chosen URL goes through ``outbound_client``."""
    found = {}
    for path in [*ROOT.joinpath("services").rglob("*.py"), *ROOT.joinpath("shared").rglob("*.py")]:
        if path == ROOT / "shared" / "outbound.py":
            continue
        lines = [
            node.lineno
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "httpx"
            and node.func.attr in _CLIENTS | _CALLS
        ]
        if lines:
            found[str(path.relative_to(ROOT))] = lines
    assert found == {}, f"HTTP clients outside shared/outbound.py: {found}"


# -- numbers that look like digits ---------------------------------------------------------


@pytest.mark.parametrize("timestamp", ["²", "１７００", "999999999999999", "99999999999999999999"])
def test_webhook_timestamps_that_are_no_unix_time_fail_the_signature_not_the_server(
    timestamp: str,
) -> None:
    """Found by the audit cursor ("²".isdigit() holds, int() refuses it): the public
    webhook receivers parse timestamps the same way, so each is refused as a bad signature
    (401), never a 500."""
    from paceline.ingest.webhooks.signatures import (
        SignatureError,
        verify_hubspot,
        verify_jiandaoyun,
        verify_standard_webhook,
    )
    from paceline.scoring.delivery.dispatcher import parse_retry_after

    headers = {"webhook-id": "m1", "webhook-timestamp": timestamp, "webhook-signature": "v1,x"}
    with pytest.raises(SignatureError, match="Unix seconds"):
        verify_standard_webhook(headers, body=b"{}", secret="whsec_" + "A" * 32, now=NOW)
    hubspot = {"x-hubspot-signature-v3": "x", "x-hubspot-request-timestamp": timestamp}
    with pytest.raises(SignatureError, match="milliseconds"):
        verify_hubspot(hubspot, method="POST", uri="https://x/", body=b"", secret="s", now=NOW)
    with pytest.raises(SignatureError, match="required"):
        verify_jiandaoyun(
            {"x-jdy-signature": "x"},
            {"nonce": "n", "timestamp": timestamp},
            body=b"",
            secret="s",
            now=NOW,
        )
    assert parse_retry_after(timestamp, NOW) is None or timestamp.isascii()
