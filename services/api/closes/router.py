"""Month close routes: ``/v1/closes`` (list, close, reopen) and ``/v1/adjustments``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from paceline.api.closes import service
from paceline.api.closes.schemas import AdjustmentsOut, CloseIn, CloseOut, ClosesOut, ReopenIn
from paceline.api.deps import TenantDep
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.models import Tenant
from paceline.shared.errors import FieldError, InvalidInput, NotFound
from paceline.shared.web.deps import (
    AdminPrincipal,
    AuditDep,
    ReadSessionDep,
    StateDep,
    WriteSessionDep,
)

router = APIRouter(prefix="/v1", tags=["closes"])


async def _tenant(session: WriteSessionDep, principal: AdminPrincipal) -> Tenant:
    tenant = await tenant_repo.get_tenant(session, tenant_id=principal.tenant_id)
    if tenant is None:
        raise NotFound("the tenant of this key no longer exists")
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
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> AdjustmentsOut:
    """Changes that arrived for closed months, with their cause (event, record) and where
    they were booked."""
    after = None
    if cursor is not None:
        if not cursor.isdigit():
            raise InvalidInput(
                "the cursor is not valid",
                fields=[FieldError("cursor", "use next_cursor from a previous page")],
            )
        after = int(cursor)
    return await service.list_adjustments(
        session,
        tenant=tenant,
        period=period,
        source_period=source_period,
        kpi=kpi,
        rep_ids=[rep] if rep else None,
        after_id=after,
        limit=limit,
    )
