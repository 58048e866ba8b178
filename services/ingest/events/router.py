"""``POST /v1/events``: canonical events, one object, a JSON array, or NDJSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from paceline.ingest.events.schemas import IngestResponse
from paceline.ingest.events.service import ingest_events, parse_body
from paceline.shared.events import CanonicalEvent
from paceline.shared.web.deps import IngestPrincipal, StateDep
from paceline.shared.web.errors import request_id_of

router = APIRouter(prefix="/v1", tags=["events"])

_EVENT_SCHEMA: dict[str, Any] = CanonicalEvent.model_json_schema()

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
                            _EVENT_SCHEMA,
                            {"type": "array", "items": _EVENT_SCHEMA, "maxItems": 1000},
                        ]
                    },
                    "example": _EXAMPLE,
                },
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
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
            pattern=r"^[a-z0-9][a-z0-9_.\-]{0,63}$",
            description="Where the events come from; event ids are unique per source.",
        ),
    ] = "api",
) -> JSONResponse:
    """Validate and durably log canonical events."""
    assert state.eventlog is not None
    items = parse_body(
        await request.body(),
        request.headers.get("content-type"),
        max_events=state.settings.max_batch_events,
    )
    result = await ingest_events(
        items=items,
        tenant_id=principal.tenant_id,
        source=source,
        eventlog=state.eventlog,
        now=state.clock.now(),
        request_id=request_id_of(request),
    )
    return JSONResponse(result.model_dump(), status_code=202)
