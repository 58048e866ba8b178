"""``POST /v1/events``: canonical events, one object, a JSON array, or NDJSON."""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import Response

from paceline.ingest.events.schemas import IngestResponse
from paceline.ingest.events.service import ingest_answer, parse_body
from paceline.shared.auth import Principal
from paceline.shared.events import CanonicalEvent
from paceline.shared.i18n import locale_of
from paceline.shared.web.deps import AppState, IngestPrincipal, StateDep, principal_of_request
from paceline.shared.web.errors import request_id_of

SOURCE_PATTERN: Final = r"^[a-z0-9][a-z0-9_.\-]{0,63}$"
_SOURCE: Final = re.compile(SOURCE_PATTERN)


class _HotRoute(APIRoute):
    """``POST /v1/events`` without FastAPI's per-request dependency solving.

    This is the ingest hot path. Resolving the declared dependencies (state, key headers,
    scope check, ``source``) cost more CPU per request than the rest of the request
    (docs/PERFORMANCE.md). The declarations stay: they describe the route in OpenAPI and
    to the route-rules test, which also calls the route with every kind of key. The
    handler enforces exactly them, through the same steps as the dependencies
    (``principal_of_request``: ``principal_of_key``, then ``check_scope``).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return _handle


async def _handle(request: Request) -> Response:
    state: AppState = request.app.state.paceline
    principal = await principal_of_request(state, request.headers, "ingest")
    source = request.query_params.get("source", "api")
    if not _SOURCE.match(source):
        raise RequestValidationError(
            [
                {
                    "type": "string_pattern_mismatch",
                    "loc": ("query", "source"),
                    "msg": f"String should match pattern '{SOURCE_PATTERN}'",
                    "input": source,
                }
            ]
        )
    return await _ingest(request, state, principal, source)


router = APIRouter(prefix="/v1", tags=["events"], route_class=_HotRoute)

_EVENT_SCHEMA: dict[str, Any] = CanonicalEvent.model_json_schema()
_EVENT_REF = {"$ref": "#/components/schemas/CanonicalEvent"}

_EXAMPLE: dict[str, Any] = {
    "event_id": "crm-123-v2",
    "type": "deal",
    "occurred_at": "2026-11-26T10:15:00+08:00",
    "rep_id": "r-001",
    "customer_id": "c-42",
    "entity_id": "deal-123",
    "version": 2,
    "stage": "won",
    "amount": "120000.00",
    "currency": "CNY",
}


@router.post(
    "/events",
    status_code=202,
    response_model=IngestResponse,
    summary="Send canonical events",
    description=(
        "Body: one event (JSON object), a JSON array of up to 1,000 events "
        "(`PACELINE_MAX_BATCH_EVENTS`), or NDJSON (`application/x-ndjson`, one event per "
        "line). Answers 202 once the event log holds every accepted event, with a result "
        "per event; bad events are named and the good ones kept; 422 if none is valid; "
        "413 over the size limits; 503 with Retry-After when the event log is down (nothing "
        "was accepted: retry). A repeated `event_id` is acknowledged and counted once."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            _EVENT_REF,
                            {"type": "array", "items": _EVENT_REF, "maxItems": 1000},
                        ]
                    },
                    "example": _EXAMPLE,
                },
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        },
        # One named schema for the object and the array's items (shared/web/app.py).
        "x-components": {"CanonicalEvent": _EVENT_SCHEMA},
    },
    responses={
        413: {"description": "Body or batch too large"},
        415: {"description": "Unsupported Content-Type"},
        422: {"description": "No event in the request is valid"},
        503: {"description": "The event log is unavailable; retry after Retry-After"},
    },
)
async def post_events(
    request: Request,
    state: StateDep,
    principal: IngestPrincipal,
    source: Annotated[
        str,
        Query(
            pattern=SOURCE_PATTERN,
            description="Where the events come from; event ids are unique per source.",
        ),
    ] = "api",
) -> Response:
    """Validate and durably log canonical events."""
    return await _ingest(request, state, principal, source)


async def _ingest(request: Request, state: AppState, principal: Principal, source: str) -> Response:
    assert state.eventlog is not None
    # The answer's language (Accept-Language, else the tenant's): once per request, for
    # the reasons of rejected events and for the error handler.
    locale = request.state.locale = locale_of(
        request.headers.get("accept-language"), principal.locale
    )
    items = parse_body(
        await request.body(),
        request.headers.get("content-type"),
        max_events=state.settings.max_batch_events,
    )
    answer = await ingest_answer(
        items=items,
        tenant_id=principal.tenant_id,
        source=source,
        eventlog=state.eventlog,
        now=state.clock.now(),
        request_id=request_id_of(request),
        locale=locale,
    )
    # The answer is built as plain data (the shape of IngestResponse, which documents it):
    # no model per event on the hot path.
    return Response(orjson.dumps(answer), status_code=202, media_type="application/json")
