"""``POST /v1/webhooks/{source}``: a CRM's own webhook format.

The router owns the transactions (see service.py): a read transaction to find the
connector, none while the adapter may call the CRM's API, and one write transaction for
snapshots, quarantine and the log append, committed before the answer is sent.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from paceline.ingest.webhooks import service
from paceline.ingest.webhooks.base import InboundRequest
from paceline.ingest.webhooks.signatures import SignatureError
from paceline.shared import metrics
from paceline.shared.auth import KEY_PREFIX
from paceline.shared.errors import PayloadTooLarge, Unauthorized
from paceline.shared.i18n import locale_of, msg
from paceline.shared.web.deps import AppState, StateDep, key_of_headers, principal_of_request
from paceline.shared.web.errors import request_id_of

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["webhooks"])

SOURCE_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,63}$"
SourcePath = Annotated[
    str,
    Path(
        pattern=SOURCE_PATTERN,
        description="hubspot, pipedrive, salesforce, zoho, or a generic connector's name",
    ),
]
EndpointQuery = Annotated[
    str | None,
    Query(
        alias="endpoint",
        max_length=64,
        description="The connector's endpoint id (given when the connector was created).",
    ),
]

_DESCRIPTION = (
    "A CRM posts here in its own format. The connector is named by its unguessable "
    "endpoint id (`?endpoint=<id>` or `/v1/webhooks/{source}/<id>`; or an API key with the "
    "ingest scope) and the vendor's signature or credentials authenticate the request: "
    "HubSpot `X-HubSpot-Signature-v3` (v1/v2 accepted unless required), Pipedrive HTTP "
    "Basic, Salesforce outbound messages by org id (SOAP, answered with the `<Ack>true</Ack>` "
    "acknowledgement) and CDC events by Standard Webhooks headers, Zoho's channel token, "
    "generic connectors by Standard Webhooks (or 简道云 / a static token). Wrong or stale "
    "signature: 401 and nothing stored. Items that cannot be mapped are kept in the "
    "quarantine (`GET /v1/quarantine`) and still answered 200, because they are safe. "
    "See docs/CONNECTORS.md."
)

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Every item is in the event log or the quarantine",
        "content": {
            "application/json": {
                "example": {
                    "source": "hubspot",
                    "accepted": 1,
                    "duplicates": 0,
                    "quarantined": 0,
                    "ignored": 0,
                    "results": [
                        {
                            "item": "hs-0-3-1234-1764300000000-1-dealstage",
                            "status": "accepted",
                            "event_ids": ["hs-0-3-1234-1764300000000-1"],
                            "reason": None,
                            "reason_code": None,
                            "reason_params": None,
                            "quarantine_id": None,
                        }
                    ],
                }
            },
            "text/xml": {"example": "<soapenv:Envelope ...><Ack>true</Ack>...</soapenv:Envelope>"},
        },
    },
    401: {
        "description": "Unknown endpoint, or a wrong or stale signature, or (without an "
        "endpoint id) an API key that is not valid: nothing stored"
    },
    403: {"description": "Without an endpoint id: the API key lacks the ingest scope"},
    413: {"description": "Body too large"},
    429: {"description": "Without an endpoint id: the API key made too many requests"},
    503: {"description": "The event log is unavailable; retry after Retry-After"},
}


async def _refuse(
    state: AppState, request: Request, error: Unauthorized, *, key_checked: bool
) -> NoReturn:
    """Raise ``error`` (the vendor's signature or endpoint failed); but when the request
    also carries a Paceline key, answer as the key path would first: 401 for a key that
    is unknown, expired or revoked, 429 over its rate, 403 for a key without ``ingest``
    (a wrong scope is 403 on every route). The key still authenticates nothing here."""
    key = key_of_headers(request.headers)
    if not key_checked and key is not None and key.startswith(KEY_PREFIX):
        await principal_of_request(state, request.headers, "ingest")
    raise error


async def _receive(
    request: Request, state: StateDep, source: str, endpoint_id: str | None
) -> Response:
    assert state.eventlog is not None
    assert state.box is not None
    endpoint_id = endpoint_id or request.headers.get("x-paceline-endpoint")
    tenant_id = None
    # The answer's language: Accept-Language, else (with a key) the tenant's, else zh-CN.
    locale = locale_of(request.headers.get("accept-language"))
    if not endpoint_id and key_of_headers(request.headers) is not None:
        # A key instead of the endpoint id: the one way in every keyed route takes
        # (length guard, 401, rate limit 429, scope 403; docs/SECURITY.md).
        principal = await principal_of_request(state, request.headers, "ingest")
        tenant_id = principal.tenant_id
        locale = request.state.locale = locale_of(
            request.headers.get("accept-language"), principal.locale
        )
    body = await request.body()
    now = state.clock.now()
    async with state.db.transaction(write=False) as session:
        try:
            row = await service.find_connector(
                session, source=source, endpoint_id=endpoint_id, tenant_id=tenant_id
            )
        except Unauthorized as exc:
            metrics.WEBHOOK_REJECTED.labels(source=source).inc()
            await _refuse(state, request, exc, key_checked=tenant_id is not None)
    conn = service.open_connector(row, state.box)
    adapter = service.adapter_of(conn)
    req = InboundRequest(
        method=request.method,
        url=str(request.url),
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query_params),
        body=body,
    )
    try:
        adapter.verify(req, conn, now=now)
    except SignatureError as exc:
        metrics.WEBHOOK_REJECTED.labels(source=source).inc()
        log.info("webhook %s for tenant %s refused: %s", source, conn.tenant_id, exc.reason)
        refused = Unauthorized(msg("webhooks.sig.refused", reason=exc.reason))
        await _refuse(state, request, refused, key_checked=tenant_id is not None)
    prepared = service.split(adapter, req, conn)
    if len(prepared) > state.settings.max_batch_events:
        raise PayloadTooLarge(
            msg(
                "webhooks.batch.too_many_items",
                max=state.settings.max_batch_events,
                count=len(prepared),
            )
        )
    await service.read_all(state, adapter, prepared, conn, now=now)
    # One item may hold many records (a Zoho notification lists ids): the limit is on
    # the events a request can append, as for POST /v1/events.
    records = sum(len(p.records) for p in prepared)
    if records > state.settings.max_batch_events:
        raise PayloadTooLarge(
            msg(
                "webhooks.batch.too_many_records",
                max=state.settings.max_batch_events,
                count=records,
            )
        )
    async with state.db.transaction() as session:
        results = await service.apply(
            session,
            conn=conn,
            prepared=prepared,
            eventlog=state.eventlog,
            now=now,
            request_id=request_id_of(request),
        )
    summary = service.summary(conn.source, results, locale)
    custom = adapter.respond(summary, req)
    return custom if custom is not None else JSONResponse(summary, status_code=200)


@router.post(
    "/webhooks/{source}",
    summary="Receive a CRM webhook",
    description=_DESCRIPTION,
    responses=_RESPONSES,
    response_class=JSONResponse,
)
async def receive_webhook(
    request: Request, state: StateDep, source: SourcePath, endpoint: EndpointQuery = None
) -> Response:
    """Authenticate, map and log a CRM's webhook (or quarantine what cannot be mapped)."""
    return await _receive(request, state, source, endpoint)


@router.post(
    "/webhooks/{source}/{endpoint_id}",
    summary="Receive a CRM webhook (endpoint id in the path)",
    description=_DESCRIPTION,
    responses=_RESPONSES,
    response_class=JSONResponse,
)
async def receive_webhook_at(
    request: Request,
    state: StateDep,
    source: SourcePath,
    endpoint_id: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")],
) -> Response:
    """The same, for CRMs whose webhook URL cannot carry a query string."""
    return await _receive(request, state, source, endpoint_id)
