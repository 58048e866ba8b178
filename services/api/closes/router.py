"""Month close routes: ``/v1/closes`` (list, close, reopen) and ``/v1/adjustments``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from paceline.api.closes import service
from paceline.api.closes.schemas import AdjustmentsOut, CloseIn, CloseOut, ClosesOut, ReopenIn
from paceline.api.deps import TenantDep
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.models import Tenant
from paceline.shared.errors import NotFound
from paceline.shared.i18n import msg
from paceline.shared.web.deps import (
    AdminPrincipal,
    AuditDep,
    ReadSessionDep,
    StateDep,
    WriteSessionDep,
)
from paceline.shared.web.pagination import CursorQuery, int_cursor, page_limit, set_next_page

router = APIRouter(prefix="/v1", tags=["closes"])


async def _tenant(session: WriteSessionDep, principal: AdminPrincipal) -> Tenant:
    tenant = await tenant_repo.get_tenant(session, tenant_id=principal.tenant_id)
    if tenant is None:
        raise NotFound(msg("errors.tenant.gone"))
    return tenant


@router.get("/closes", response_model=ClosesOut, summary="Month closes (月结)")
async def get_closes(session: ReadSessionDep, tenant: TenantDep) -> ClosesOut:
    """Every close and reopen, newest first; the months closed now; the tenant's policy."""
    return await service.list_closes(session, tenant=tenant)


@router.post(
    "/closes",
    response_model=CloseOut,
    status_code=201,
    summary="Close a month",
    responses={409: {"description": "The month is closed already."}},
)
async def post_close(
    body: CloseIn,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> CloseOut:
    """Close a month that has ended: its figures hold still; later changes to it become
    adjustments booked to the first open month (policy ``adjust``) or restatements."""
    tenant = await _tenant(session, principal)
    return await service.close(
        session, tenant=tenant, body=body, now=state.clock.now(), auditor=audit
    )


@router.post(
    "/closes/{period}/reopen",
    response_model=CloseOut,
    summary="Reopen a closed month",
    responses={404: {"description": "The month is not closed."}},
)
async def post_reopen(
    period: str,
    body: ReopenIn,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> CloseOut:
    """Reopen a month (admin, with a reason): later changes count in it again."""
    tenant = await _tenant(session, principal)
    return await service.reopen(
        session,
        tenant=tenant,
        period_key=period,
        reason=body.reason,
        now=state.clock.now(),
        auditor=audit,
    )


@router.get("/adjustments", response_model=AdjustmentsOut, summary="Adjustments of closed months")
async def get_adjustments(
    request: Request,
    response: Response,
    session: ReadSessionDep,
    tenant: TenantDep,
    period: Annotated[
        str | None, Query(max_length=16, description="Booked into this month.")
    ] = None,
    source_period: Annotated[
        str | None, Query(max_length=16, description="Made to this closed month.")
    ] = None,
    kpi: Annotated[str | None, Query(max_length=64)] = None,
    rep: Annotated[str | None, Query(max_length=200)] = None,
    cursor: CursorQuery = None,
    limit: Annotated[int, page_limit(1000)] = 200,
) -> AdjustmentsOut:
    """Changes that arrived for closed months, with their cause (event, record) and where
    they were booked."""
    page = await service.list_adjustments(
        session,
        tenant=tenant,
        period=period,
        source_period=source_period,
        kpi=kpi,
        rep_ids=[rep] if rep else None,
        after_id=int_cursor(cursor),
        limit=limit,
    )
    set_next_page(request, response, page.next_cursor)
    return page
