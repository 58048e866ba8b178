"""``POST /v1/events``: body shapes, per-event results, limits, auth and errors.

Most tests run on the embedded stack (fast); the partial-batch and resend tests run in both
modes, because they prove that accepted events reach the facts through the real event log.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from paceline.shared.auth import generate_key
from paceline.shared.db import tenants as tenant_repo
from tests.support import Stack, embedded_settings, running_stack

NOV_10 = "2026-11-10T10:00:00+08:00"
# After the end of every period these tests read: as_of is clamped to the period's end.
LATE_AS_OF = "2027-06-01T00:00:00+08:00"
JSON = {"Content-Type": "application/json"}
NDJSON = {"Content-Type": "application/x-ndjson"}


def visit(event_id: str, *, rep: str = "r1", at: str = NOV_10, **extra: Any) -> dict[str, Any]:
    """A valid visit event."""
    return {"event_id": event_id, "type": "visit", "occurred_at": at, "rep_id": rep, **extra}


def ndjson(events: list[Any]) -> bytes:
    """Events as NDJSON lines."""
    return b"\n".join(json.dumps(e).encode() for e in events) + b"\n"


async def post_raw(
    stack: Stack, body: bytes, content_type: str | None, *, key: str | None = None
) -> httpx.Response:
    """POST /v1/events with raw bytes and a Content-Type (None: no header)."""
    headers = stack.auth(key)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return await stack.client.post("/v1/events", content=body, headers=headers)


async def progress_actual(
    stack: Stack,
    *,
    kpi: str = "visits",
    period: str = "2026-11",
    scope: str = "company",
    as_of: str = LATE_AS_OF,
) -> Decimal:
    """The ``actual`` of GET /v1/progress."""
    resp = await stack.client.get(
        "/v1/progress",
        params={"kpi": kpi, "period": period, "scope": scope, "as_of": as_of},
        headers=stack.auth(),
    )
    assert resp.status_code == 200, resp.text
    return Decimal(resp.json()["actual"])


async def make_key(stack: Stack, scopes: list[str], *, tenant_id: str | None = None) -> str:
    """A new API key with these scopes (in the default tenant unless another is named)."""
    key = generate_key()
    tenant = tenant_id or stack.settings.default_tenant
    now = stack.now()
    async with stack.db.transaction() as session:
        await tenant_repo.ensure_tenant(session, tenant_id=tenant, name=tenant, now=now)
        await tenant_repo.add_key(
            session, tenant_id=tenant, key=key, name="test", scopes=scopes, now=now
        )
    return key.plaintext


def assert_error_shape(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The stable error shape with this status and code; returns the ``error`` object."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"}
    err: dict[str, Any] = body["error"]
    assert set(err) - {"message_code", "message_params"} == {
        "code",
        "status",
        "message",
        "fields",
        "request_id",
    }
    assert err["status"] == status
    assert err["code"] == code
    assert isinstance(err["message"], str)
    assert err["message"]
    assert isinstance(err["fields"], list)
    for f in err["fields"]:
        assert set(f) - {"reason_code", "reason_params"} == {"field", "reason"}
    assert err["request_id"]
    assert err["request_id"] == resp.headers["x-request-id"]
    return err


@pytest.fixture
async def lenient_client(embedded_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """A client that receives the app's 500 responses instead of re-raising the error."""
    transport = httpx.ASGITransport(app=embedded_stack.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://paceline.test") as client:
        yield client


# -- body shapes ---------------------------------------------------------------------------


async def test_one_object_is_accepted_with_one_result(embedded_stack: Stack) -> None:
    resp = await embedded_stack.post_events(visit("v1"))
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (1, 0, 0)
    [result] = body["results"]
    assert (result["index"], result["event_id"], result["status"]) == (0, "v1", "accepted")
    assert (result["errors"], result["warnings"]) == ([], [])


async def test_json_array_gets_a_result_per_event(embedded_stack: Stack) -> None:
    resp = await embedded_stack.post_events([visit("v1"), visit("v2"), visit("v3")])
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (3, 0, 0)
    assert [(r["index"], r["event_id"], r["status"]) for r in body["results"]] == [
        (0, "v1", "accepted"),
        (1, "v2", "accepted"),
        (2, "v3", "accepted"),
    ]
    await embedded_stack.wait_scored()
    assert await progress_actual(embedded_stack) == 3


async def test_ndjson_gets_a_result_per_line(embedded_stack: Stack) -> None:
    body = (
        json.dumps(visit("n1")).encode()
        + b"\n\n"  # a blank line is skipped but still counts as a line
        + b"not json\n"
        + json.dumps(visit("n2")).encode()
    )
    resp = await post_raw(embedded_stack, body, "application/x-ndjson; charset=utf-8")
    assert resp.status_code == 202, resp.text
    out = resp.json()
    assert (out["accepted"], out["duplicates"], out["rejected"]) == (2, 0, 1)
    assert [(r["index"], r["event_id"], r["status"]) for r in out["results"]] == [
        (0, "n1", "accepted"),
        (2, None, "rejected"),
        (3, "n2", "accepted"),
    ]
    assert "line 3" in out["results"][1]["errors"][0]["reason"]
    await embedded_stack.wait_scored()
    assert await progress_actual(embedded_stack) == 2


async def test_unknown_top_level_fields_are_kept_in_attributes_with_a_warning(
    embedded_stack: Stack,
) -> None:
    event = visit("v1", crm_stage_label="Met CTO", attributes={"region": "east"})
    resp = await embedded_stack.post_events(event)
    assert resp.status_code == 202, resp.text
    result = resp.json()["results"][0]
    assert result["status"] == "accepted"
    assert result["warnings"] == ["unknown field crm_stage_label kept in attributes"]
    assert result["warning_codes"] == [
        {"code": "events.unknown_field", "params": {"name": "crm_stage_label"}}
    ]
    await embedded_stack.wait_scored()
    async with embedded_stack.db.transaction(write=False) as session:
        payload = (
            await session.execute(text("SELECT payload FROM events WHERE event_id = 'v1'"))
        ).scalar_one()
    if isinstance(payload, str):
        payload = json.loads(payload)
    assert payload["attributes"] == {"region": "east", "crm_stage_label": "Met CTO"}
    assert "crm_stage_label" not in payload


# -- partial batches -----------------------------------------------------------------------

BAD_EVENTS: list[tuple[dict[str, Any], str, str]] = [
    # (event, the field the error must name, a word the reason must contain)
    (
        {"event_id": "b-rep", "type": "visit", "occurred_at": NOV_10},
        "rep_id",
        "required",
    ),
    (visit("b-naive", at="2026-11-10T10:00:00"), "occurred_at", "offset"),
    (
        {**visit("b-amount"), "type": "deal", "stage": "won", "amount": "abc"},
        "amount",
        "decimal",
    ),
    (visit("b-type", type="meeting"), "type", "visit"),
    (visit("b-version", version=-1), "version", "between"),
    (visit("b-currency", currency="usd1"), "currency", "ISO 4217"),
]


async def test_batch_keeps_good_events_and_names_each_bad_one(stack: Stack) -> None:
    events: list[Any] = [visit("good-1")]
    events += [e for e, _f, _r in BAD_EVENTS]
    events.append(visit("b-stage", stage="won"))  # stage belongs to deals
    events.append(visit("good-2", rep="r2"))
    resp = await stack.post_events(events)
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 0, len(events) - 2)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(len(events)))
    assert results[0]["status"] == "accepted"
    assert results[-1]["status"] == "accepted"
    for i, (event, field, word) in enumerate(BAD_EVENTS, start=1):
        r = results[i]
        assert r["status"] == "rejected", r
        assert r["event_id"] == event["event_id"]
        assert [e["field"] for e in r["errors"]] == [field], r
        assert word in r["errors"][0]["reason"], r
    stage = results[len(BAD_EVENTS) + 1]
    assert stage["status"] == "rejected"
    assert stage["event_id"] == "b-stage"
    # The error is reported against "(event)" with the field in the reason (see report).
    assert any("stage" in e["field"] + e["reason"] for e in stage["errors"]), stage
    await stack.wait_scored()
    assert await progress_actual(stack) == 2
    assert await progress_actual(stack, scope="rep:r2") == 1


async def test_all_bad_events_answer_422_naming_each_field(embedded_stack: Stack) -> None:
    resp = await embedded_stack.post_events([e for e, _f, _r in BAD_EVENTS])
    err = assert_error_shape(resp, 422, "invalid_input")
    fields = [f["field"] for f in err["fields"]]
    assert fields == [f"[{i}].{field}" for i, (_e, field, _w) in enumerate(BAD_EVENTS)]
    assert all(f["reason"] for f in err["fields"])


async def test_one_bad_object_answers_422_naming_the_field(embedded_stack: Stack) -> None:
    resp = await embedded_stack.post_events(visit("v1", amount="1e999999"))
    err = assert_error_shape(resp, 422, "invalid_input")
    assert [f["field"] for f in err["fields"]] == ["amount"]


@pytest.mark.parametrize("raw", [5, "text", None, [1, 2]])
async def test_a_non_object_event_is_rejected(embedded_stack: Stack, raw: Any) -> None:
    resp = await embedded_stack.post_events([raw, visit("v1")])
    assert resp.status_code == 202, resp.text
    first = resp.json()["results"][0]
    assert first["status"] == "rejected"
    assert first["errors"] == [
        {
            "field": "(event)",
            "reason": "must be a JSON object",
            "reason_code": "events.not_an_object",
            "reason_params": {},
        }
    ]


# -- malformed bodies ----------------------------------------------------------------------


async def test_malformed_json_answers_400(embedded_stack: Stack) -> None:
    resp = await post_raw(embedded_stack, b'{"event_id": "v1", ', "application/json")
    err = assert_error_shape(resp, 400, "bad_request")
    assert "JSON" in err["message"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"event_id": "\xff\xfe", "type": "visit"}', "application/json"),
        (b'{"event_id": "\xc3\x28"}\n', "application/x-ndjson"),
        (b"\xff\xfe\x00\x00", "application/json"),
    ],
)
async def test_invalid_utf8_answers_4xx(
    embedded_stack: Stack, body: bytes, content_type: str
) -> None:
    resp = await post_raw(embedded_stack, body, content_type)
    assert 400 <= resp.status_code < 500, resp.text
    assert_error_shape(resp, resp.status_code, resp.json()["error"]["code"])


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded", None]
)
async def test_wrong_content_type_answers_415(
    embedded_stack: Stack, content_type: str | None
) -> None:
    resp = await post_raw(embedded_stack, json.dumps(visit("v1")).encode(), content_type)
    assert_error_shape(resp, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"[]", "application/json"), (b"  ", "application/json"), (b"\n\n", "application/x-ndjson")],
)
async def test_empty_batches_answer_400(
    embedded_stack: Stack, body: bytes, content_type: str
) -> None:
    resp = await post_raw(embedded_stack, body, content_type)
    assert_error_shape(resp, 400, "bad_request")


@pytest.mark.parametrize(
    "body",
    [b"[" * 5000 + b"]" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000],
    ids=["arrays", "objects"],
)
async def test_deeply_nested_json_answers_4xx(
    embedded_stack: Stack, lenient_client: httpx.AsyncClient, body: bytes
) -> None:
    resp = await lenient_client.post(
        "/v1/events", content=body, headers={**embedded_stack.auth(), **JSON}
    )
    assert 400 <= resp.status_code < 500, resp.text


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"x": value}
    return value


@pytest.mark.parametrize("where", ["attributes", "unknown_field"])
async def test_deeply_nested_attributes_answer_4xx_not_500(
    embedded_stack: Stack, lenient_client: httpx.AsyncClient, where: str
) -> None:
    event = visit("deep")
    event[where] = _nested(300)
    body = json.dumps(event).encode()
    resp = await lenient_client.post(
        "/v1/events", content=body, headers={**embedded_stack.auth(), **JSON}
    )
    assert resp.status_code != 500, resp.text
    assert 400 <= resp.status_code < 500 or resp.status_code == 202


async def test_an_accepted_event_with_nested_attributes_reaches_the_facts(
    embedded_stack: Stack,
) -> None:
    resp = await embedded_stack.post_events(visit("deep", attributes=_nested(220)))
    if 400 <= resp.status_code < 500:
        return  # refusing it up front is fine too
    assert resp.status_code == 202, resp.text
    await embedded_stack.wait_scored()
    assert await progress_actual(embedded_stack) == 1


# -- limits --------------------------------------------------------------------------------


@pytest.fixture
async def small_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """An embedded stack with a 2 KiB body limit and at most 5 events per request."""
    settings = embedded_settings(tmp_path / "data", max_body_bytes=2048, max_batch_events=5)
    async with running_stack("embedded", settings) as stack:
        yield stack


def _padded(size: int) -> bytes:
    body = json.dumps(visit("v1")).encode()
    return body + b" " * (size - len(body))


async def test_body_up_to_the_limit_is_accepted(small_stack: Stack) -> None:
    resp = await post_raw(small_stack, _padded(2048), "application/json")
    assert resp.status_code == 202, resp.text


async def test_body_over_the_limit_answers_413(small_stack: Stack) -> None:
    resp = await post_raw(small_stack, _padded(2049), "application/json")
    err = assert_error_shape(resp, 413, "payload_too_large")
    assert (err["message_code"], err["message_params"]) == ("web.body.too_large", {"limit": 2048})
    assert "2,048" in err["message"]  # the limit, written the locale's way


async def test_streamed_body_over_the_limit_answers_413(small_stack: Stack) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"["
        for i in range(40):
            yield json.dumps(visit(f"v{i}")).encode() + b","
        yield b"{}]"

    resp = await small_stack.client.post(
        "/v1/events", content=chunks(), headers={**small_stack.auth(), **JSON}
    )
    assert "content-length" not in {k.lower() for k in resp.request.headers}
    assert_error_shape(resp, 413, "payload_too_large")


@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
async def test_more_events_than_the_batch_limit_answer_413(
    small_stack: Stack, content_type: str
) -> None:
    def encode(events: list[Any]) -> bytes:
        return json.dumps(events).encode() if content_type == "application/json" else ndjson(events)

    resp = await post_raw(small_stack, encode([visit(f"v{i}") for i in range(6)]), content_type)
    assert_error_shape(resp, 413, "payload_too_large")
    resp = await post_raw(small_stack, encode([visit(f"v{i}") for i in range(5)]), content_type)
    assert resp.status_code == 202, resp.text


async def test_default_batch_limit_is_1000(embedded_stack: Stack) -> None:
    resp = await embedded_stack.post_events([{}] * 1001)
    assert_error_shape(resp, 413, "payload_too_large")


# -- time checks ---------------------------------------------------------------------------


async def test_event_more_than_a_year_ahead_is_rejected(embedded_stack: Stack) -> None:
    far = (embedded_stack.now() + timedelta(days=400)).isoformat()
    near = (embedded_stack.now() + timedelta(days=30)).isoformat()
    resp = await embedded_stack.post_events([visit("far", at=far), visit("near", at=near)])
    assert resp.status_code == 202, resp.text
    far_result, near_result = resp.json()["results"]
    assert far_result["status"] == "rejected"
    assert far_result["errors"][0]["field"] == "occurred_at"
    assert "future" in far_result["errors"][0]["reason"]
    assert near_result["status"] == "accepted"


async def test_event_in_1980_is_rejected(embedded_stack: Stack) -> None:
    resp = await embedded_stack.post_events(visit("old", at="1980-06-01T10:00:00+08:00"))
    err = assert_error_shape(resp, 422, "invalid_input")
    assert err["fields"][0]["field"] == "occurred_at"
    assert "year" in err["fields"][0]["reason"]


async def test_kpi_day_is_the_tenant_local_day(embedded_stack: Stack) -> None:
    # 16:30 UTC on 30 November is 00:30 on 1 December in Asia/Shanghai (the default).
    resp = await embedded_stack.post_events(visit("late", at="2026-11-30T16:30:00Z"))
    assert resp.status_code == 202, resp.text
    await embedded_stack.wait_scored()
    assert await progress_actual(embedded_stack, period="2026-12") == 1
    assert await progress_actual(embedded_stack, period="2026-11") == 0


# -- duplicates ----------------------------------------------------------------------------


async def test_repeated_event_id_in_one_request_is_a_duplicate(embedded_stack: Stack) -> None:
    first = visit("v1")
    again_changed = visit("v1", rep="r2")  # the first in the request wins
    resp = await embedded_stack.post_events([first, visit("v2"), first, again_changed])
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 2, 0)
    assert [r["status"] for r in body["results"]] == [
        "accepted",
        "accepted",
        "duplicate",
        "duplicate",
    ]
    await embedded_stack.wait_scored()
    assert await progress_actual(embedded_stack) == 2
    assert await progress_actual(embedded_stack, scope="rep:r2") == 0


async def test_same_event_in_two_requests_counts_once(stack: Stack) -> None:
    event = {
        "event_id": "d1-won",
        "type": "deal",
        "entity_id": "d1",
        "occurred_at": NOV_10,
        "rep_id": "r1",
        "stage": "won",
        "amount": "1000.00",
    }
    for _ in range(2):
        resp = await stack.post_events(event)
        assert resp.status_code == 202, resp.text
        assert resp.json()["results"][0]["status"] == "accepted"
    await stack.wait_scored()
    assert await progress_actual(stack, kpi="revenue") == Decimal("1000")
    assert await progress_actual(stack, kpi="deals_won") == 1


async def test_event_ids_are_unique_per_source(embedded_stack: Stack) -> None:
    # The same event id from two sources is two events (records differ by entity_id; a
    # record id itself is not scoped by source, see tests/support.py reference_facts).
    for source in ("crm-a", "crm-b"):
        event = visit("v1", entity_id=f"{source}-visit-1")
        resp = await embedded_stack.post_events(event, source=source)
        assert resp.status_code == 202, resp.text
    resp = await embedded_stack.post_events(visit("v1", entity_id="crm-a-visit-1"), source="crm-a")
    assert resp.status_code == 202, resp.text
    await embedded_stack.wait_scored()
    assert await progress_actual(embedded_stack) == 2
    async with embedded_stack.db.transaction(write=False) as session:
        rows = (
            await session.execute(
                text("SELECT source FROM events WHERE event_id = 'v1' ORDER BY source")
            )
        ).all()
    assert [r[0] for r in rows] == ["crm-a", "crm-b"]


@pytest.mark.parametrize("source", ["BAD", "-x", "a b", "x" * 65, ""])
async def test_bad_source_answers_422_naming_source(embedded_stack: Stack, source: str) -> None:
    resp = await embedded_stack.post_events(visit("v1"), source=source)
    err = assert_error_shape(resp, 422, "invalid_input")
    assert [f["field"] for f in err["fields"]] == ["source"]


async def test_unknown_rep_is_counted_under_its_id(embedded_stack: Stack) -> None:
    resp = await embedded_stack.post_events(visit("v1", rep="nobody-yet"))
    assert resp.status_code == 202, resp.text
    await embedded_stack.wait_scored()
    assert await progress_actual(embedded_stack, scope="rep:nobody-yet") == 1


# -- auth ----------------------------------------------------------------------------------


async def test_no_key_answers_401(embedded_stack: Stack) -> None:
    resp = await embedded_stack.client.post("/v1/events", json=visit("v1"))
    assert_error_shape(resp, 401, "unauthorized")


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer pl_00000000_unknown"},
        {"X-API-Key": "pl_00000000_unknown"},
        {"Authorization": "Bearer " + "x" * 600},
    ],
)
async def test_unknown_key_answers_401(embedded_stack: Stack, headers: dict[str, str]) -> None:
    resp = await embedded_stack.client.post("/v1/events", json=visit("v1"), headers=headers)
    assert_error_shape(resp, 401, "unauthorized")


async def test_x_api_key_header_is_accepted(embedded_stack: Stack) -> None:
    resp = await embedded_stack.client.post(
        "/v1/events", json=visit("v1"), headers={"X-API-Key": embedded_stack.admin_key}
    )
    assert resp.status_code == 202, resp.text


async def test_read_only_key_cannot_send_events(embedded_stack: Stack) -> None:
    key = await make_key(embedded_stack, ["read"])
    resp = await embedded_stack.post_events(visit("v1"), key=key)
    err = assert_error_shape(resp, 403, "forbidden")
    assert "ingest" in err["message"]


async def test_ingest_key_sends_events_but_cannot_change_the_org(embedded_stack: Stack) -> None:
    key = await make_key(embedded_stack, ["ingest"])
    resp = await embedded_stack.post_events(visit("v1"), key=key)
    assert resp.status_code == 202, resp.text
    resp = await embedded_stack.client.put(
        "/v1/org", json={"teams": [], "reps": []}, headers=embedded_stack.auth(key)
    )
    assert_error_shape(resp, 403, "forbidden")
    resp = await embedded_stack.client.get(
        "/v1/progress",
        params={"kpi": "visits", "period": "2026-11"},
        headers=embedded_stack.auth(key),
    )
    assert_error_shape(resp, 403, "forbidden")


async def test_events_count_only_for_the_keys_tenant(embedded_stack: Stack) -> None:
    other = await make_key(embedded_stack, ["admin"], tenant_id="other-co")
    resp = await embedded_stack.post_events([visit("v1"), visit("v2")], key=other)
    assert resp.status_code == 202, resp.text
    resp = await embedded_stack.post_events(visit("v1"))
    assert resp.status_code == 202, resp.text
    await embedded_stack.wait_scored()
    assert await progress_actual(embedded_stack) == 1
    resp = await embedded_stack.client.get(
        "/v1/progress",
        params={"kpi": "visits", "period": "2026-11", "as_of": LATE_AS_OF},
        headers=embedded_stack.auth(other),
    )
    assert resp.status_code == 200, resp.text
    assert Decimal(resp.json()["actual"]) == 2


# -- request ids ---------------------------------------------------------------------------


async def test_request_id_is_echoed_on_success_and_in_errors(embedded_stack: Stack) -> None:
    headers = {**embedded_stack.auth(), "X-Request-ID": "client-req.42"}
    resp = await embedded_stack.client.post("/v1/events", json=visit("v1"), headers=headers)
    assert resp.status_code == 202, resp.text
    assert resp.headers["x-request-id"] == "client-req.42"
    resp = await embedded_stack.client.post("/v1/events", content=b"{", headers={**headers, **JSON})
    err = assert_error_shape(resp, 400, "bad_request")
    assert err["request_id"] == "client-req.42"
    resp = await embedded_stack.client.post(
        "/v1/events", json=visit("v1"), headers={"X-Request-ID": "client-req.43"}
    )
    assert assert_error_shape(resp, 401, "unauthorized")["request_id"] == "client-req.43"


async def test_unusable_request_id_is_replaced(embedded_stack: Stack) -> None:
    headers = {**embedded_stack.auth(), "X-Request-ID": "has spaces; and <junk>"}
    resp = await embedded_stack.client.post("/v1/events", content=b"{", headers={**headers, **JSON})
    err = assert_error_shape(resp, 400, "bad_request")
    assert err["request_id"] != "has spaces; and <junk>"
    assert len(err["request_id"]) == 32


# -- characters the stores cannot hold -------------------------------------------------------


@pytest.fixture(params=["embedded", "distributed"])
def nul_stack(request: pytest.FixtureRequest) -> Stack:
    """Both run modes (PostgreSQL refuses NUL characters: ingest must refuse them first)."""
    result: Stack = request.getfixturevalue(f"{request.param}_stack")
    return result


@pytest.mark.parametrize("where", ["attributes", "event_id"])
async def test_nul_character_does_not_stop_scoring(nul_stack: Stack, where: str) -> None:
    stack = nul_stack
    bad = visit("v-nul\u0000") if where == "event_id" else visit("v-nul", note="a\u0000b")
    resp = await stack.post_events([bad, visit("v-good")])
    assert resp.status_code == 202, resp.text
    nul_accepted = resp.json()["results"][0]["status"] == "accepted"
    await stack.wait_scored(timeout_s=8)
    assert await progress_actual(stack) == (2 if nul_accepted else 1)


# -- hostile input: each refused clearly, the events around it kept ---------------------------

XML = b'<?xml version="1.0"?><event><event_id>x1</event_id><type>visit</type></event>'
# Whole requests that are refused, each with its status and error code.
HOSTILE_REQUESTS: list[tuple[str, bytes, str | None, int, str]] = [
    (
        "malformed JSON",
        b'[{"event_id": "h1", "type": "visit",',
        "application/json",
        400,
        "bad_request",
    ),
    ("XML as JSON", XML, "application/json", 400, "bad_request"),
    ("XML", XML, "application/xml", 415, "unsupported_media_type"),
    ("text/plain", json.dumps(visit("h2")).encode(), "text/plain", 415, "unsupported_media_type"),
    ("no content type", json.dumps(visit("h3")).encode(), None, 415, "unsupported_media_type"),
    (
        "form",
        b"event_id=h4&type=visit",
        "application/x-www-form-urlencoded",
        415,
        "unsupported_media_type",
    ),
    ("deep arrays", b"[" * 200_000 + b"]" * 200_000, "application/json", 400, "bad_request"),
    (
        "invalid UTF-8",
        b'[{"event_id": "h5\xff", "type": "visit"}]',
        "application/json",
        400,
        "bad_request",
    ),
    (
        "UTF-16",
        json.dumps(visit("h6")).encode("utf-16"),
        "application/json",
        415,
        "unsupported_media_type",
    ),
    ("huge", b"[" + b" " * (6 * 1024 * 1024) + b"]", "application/json", 413, "payload_too_large"),
]


async def test_hostile_requests_are_refused_and_the_events_around_them_kept(
    stack: Stack,
) -> None:
    """Good events before, between and after every kind of refused request, and bad
    events inside good batches: each refusal is a clear 4xx in the error shape, and the
    facts count exactly the good events, in both run modes."""
    resp = await stack.post_events([visit("before-1"), visit("before-2")])
    assert resp.json()["accepted"] == 2
    for name, body, content_type, status, code in HOSTILE_REQUESTS:
        resp = await post_raw(stack, body, content_type)
        assert_error_shape(resp, status, code)
        resp = await stack.post_events(visit(f"between-{name}"))
        assert resp.status_code == 202, f"after {name}: {resp.text}"
    far_future = (stack.now() + timedelta(days=800)).isoformat()
    mixed = [
        visit("mixed-1"),
        visit("past", at="0001-01-01T00:00:00+00:00"),
        visit("1989", at="1989-12-31T23:59:59+00:00"),
        visit("future", at=far_future),
        visit("year-9999", at="9999-12-31T23:59:59+14:00"),
        visit("mixed-2"),
        visit("deep", attributes=_nested(40)),
        visit("big", attributes={"blob": "x" * (70 * 1024)}),
        visit("nul", note="a\u0000b"),
        visit("mixed-3"),
    ]
    resp = await stack.post_events(mixed)
    assert resp.status_code == 202, resp.text
    results = {r["event_id"]: r for r in resp.json()["results"]}
    assert {k for k, r in results.items() if r["status"] == "accepted"} == {
        "mixed-1",
        "mixed-2",
        "mixed-3",
    }
    for event_id in ("past", "1989", "future", "year-9999"):
        assert results[event_id]["errors"][0]["field"] == "occurred_at", results[event_id]
    assert results["deep"]["errors"][0]["field"].startswith("attributes")
    assert results["big"]["errors"][0]["field"].startswith("attributes")
    assert results["nul"]["errors"][0]["field"] == "note"
    # NDJSON: an invalid UTF-8 line, an XML line and a truncated line between good lines.
    lines = [
        json.dumps(visit("nd-1")).encode(),
        b'{"event_id": "nd-bad\xc3\x28", "type": "visit"}',
        XML,
        b'{"event_id": "nd-cut", "type": "vis',
        json.dumps(visit("nd-2")).encode(),
    ]
    resp = await post_raw(stack, b"\n".join(lines), "application/x-ndjson")
    assert resp.status_code == 202, resp.text
    out = resp.json()
    assert [(r["index"], r["status"]) for r in out["results"]] == [
        (0, "accepted"),
        (1, "rejected"),
        (2, "rejected"),
        (3, "rejected"),
        (4, "accepted"),
    ]
    assert "line 2" in out["results"][1]["errors"][0]["reason"]
    resp = await stack.post_events([visit("after-1")])
    assert resp.json()["accepted"] == 1
    await stack.wait_scored()
    expected = 2 + len(HOSTILE_REQUESTS) + 3 + 2 + 1
    assert await progress_actual(stack) == expected


async def test_a_client_that_hangs_up_mid_body_is_not_an_error(
    embedded_stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """A sender that disconnects before its body arrived: nothing accepted, no traceback."""
    s = embedded_stack
    body = json.dumps({"event_id": "gone-1", "type": "visit"}).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/events",
        "raw_path": b"/v1/events",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"test"),
            (b"authorization", f"Bearer {s.admin_key}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body) * 2).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    messages = [
        {"type": "http.request", "body": body, "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with caplog.at_level("INFO"):
        await s.app(scope, receive, send)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"])["error"]["code"] == "client_disconnected"
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert any("client disconnected" in r.getMessage() for r in caplog.records)
    assert sum((await s.app.state.paceline.eventlog.end_offsets()).values()) == 0
