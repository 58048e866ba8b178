"""``/v1/quarantine``: webhook items that could not be mapped — list, read, replay, discard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from paceline.ingest.webhooks.quarantine import repository as repo
from paceline.ingest.webhooks.quarantine import service
from paceline.ingest.webhooks.quarantine.schemas import QuarantineOut, QuarantinePage, ReplayOut
from paceline.ingest.webhooks.router import SOURCE_PATTERN
from paceline.shared.auth import Principal
from paceline.shared.errors import NotFound
from paceline.shared.i18n import locale_of, msg
from paceline.shared.web.deps import (
    AdminPrincipal,
    AuditDep,
    ReadPrincipal,
    ReadSessionDep,
    StateDep,
    authenticate,
)
from paceline.shared.web.pagination import CursorQuery, int_cursor, page_limit, set_next_page

router = APIRouter(prefix="/v1", tags=["quarantine"])

ItemId = Annotated[int, Path(ge=1, le=2**62)]


async def _locale(request: Request, principal: Annotated[Principal, Depends(authenticate)]) -> str:
    """The answer's language: Accept-Language, else the tenant's locale."""
    return locale_of(request.headers.get("accept-language"), principal.locale)


Locale = Annotated[str, Depends(_locale)]


class DiscardIn(BaseModel):
    """Why an item is given up."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"note": "test deal from the CRM sandbox"}]}, extra="forbid"
    )

    note: str = Field(default="", max_length=1000)


@router.get("/quarantine", response_model=QuarantinePage, summary="List quarantined items")
async def list_items(
    request: Request,
    response: Response,
    principal: ReadPrincipal,
    session: ReadSessionDep,
    source: Annotated[str | None, Query(pattern=SOURCE_PATTERN)] = None,
    status: Annotated[
        str | None, Query(pattern=r"^(pending|replayed|superseded|discarded)$")
    ] = "pending",
    reason_code: Annotated[str | None, Query(max_length=32)] = None,
    cursor: CursorQuery = None,
    after_id: Annotated[
        int | None,
        Query(ge=0, le=2**62, deprecated=True, description="next_after_id (older `cursor`)."),
    ] = None,
    limit: Annotated[int, page_limit(500)] = 100,
    locale: Locale = "zh-CN",
) -> QuarantinePage:
    """Items by id (default: the pending ones), each with its reason; page with cursor."""
    rows = await repo.list_items(
        session,
        tenant_id=principal.tenant_id,
        source=source,
        status=status,
        reason_code=reason_code,
        after_id=int_cursor(cursor, after_id),
        limit=limit + 1,
    )
    page = rows[:limit]
    next_id = page[-1].id if len(rows) > limit else None
    next_cursor = None if next_id is None else str(next_id)
    set_next_page(request, response, next_cursor)
    return QuarantinePage(
        items=[service.to_out(r, locale=locale) for r in page],
        next_after_id=next_id,
        next_cursor=next_cursor,
    )


@router.get("/quarantine/{item_id}", response_model=QuarantineOut, summary="Get an item")
async def get_item(
    item_id: ItemId, principal: ReadPrincipal, session: ReadSessionDep, locale: Locale
) -> QuarantineOut:
    """One item with the vendor payload as received."""
    row = await repo.get(session, tenant_id=principal.tenant_id, item_id=item_id)
    if row is None:
        raise NotFound(msg("quarantine.not_found", id=str(item_id)))
    return service.to_out(row, with_item=True, locale=locale)


@router.post(
    "/quarantine/replay",
    response_model=ReplayOut,
    summary="Replay a source's pending items",
    description=(
        "Re-maps up to 500 pending items of the source (oldest first) with the current "
        "mapping and logs what now maps; run again while `still_pending` items remain that "
        "you expect to map. Audited per item."
    ),
)
async def replay_source(
    principal: AdminPrincipal,
    state: StateDep,
    auditor: AuditDep,
    source: Annotated[str, Query(pattern=SOURCE_PATTERN)],
    locale: Locale,
) -> ReplayOut:
    """Replay a source's pending items."""
    return await service.replay(
        state,
        tenant_id=principal.tenant_id,
        source=source,
        auditor=auditor,
        locale=locale,
    )


@router.post("/quarantine/{item_id}/replay", response_model=ReplayOut, summary="Replay one item")
async def replay_item(
    item_id: ItemId,
    principal: AdminPrincipal,
    state: StateDep,
    auditor: AuditDep,
    locale: Locale,
) -> ReplayOut:
    """Re-map one pending item with the current mapping (409 if it is not pending)."""
    return await service.replay(
        state,
        tenant_id=principal.tenant_id,
        ids=[item_id],
        auditor=auditor,
        locale=locale,
    )


@router.post(
    "/quarantine/{item_id}/discard", response_model=QuarantineOut, summary="Discard one item"
)
async def discard_item(
    item_id: ItemId,
    body: DiscardIn,
    principal: AdminPrincipal,
    state: StateDep,
    auditor: AuditDep,
    locale: Locale,
) -> QuarantineOut:
    """Give up a pending item (kept, marked discarded, audited)."""
    return await service.discard(
        state,
        tenant_id=principal.tenant_id,
        item_id=item_id,
        auditor=auditor,
        note=body.note,
        locale=locale,
    )
