"""Tenant routes: the operator (a ``platform`` key) creates, lists and reads tenants."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from paceline.api.tenants import service
from paceline.api.tenants.schemas import TENANT_ID_PATTERN, TenantIn, TenantOut, TenantPage
from paceline.shared.web.deps import (
    AuditDep,
    PlatformPrincipal,
    ReadSessionDep,
    StateDep,
    WriteSessionDep,
)
from paceline.shared.web.pagination import page_limit, set_next_page

router = APIRouter(prefix="/v1", tags=["tenants"])

TenantIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=TENANT_ID_PATTERN)]


@router.post(
    "/tenants",
    response_model=TenantOut,
    status_code=201,
    summary="Create a tenant",
    responses={409: {"description": "A tenant with that id exists already"}},
)
async def create_tenant(
    body: TenantIn,
    _principal: PlatformPrincipal,
    session: WriteSessionDep,
    audit: AuditDep,
    state: StateDep,
) -> TenantOut:
    """A new tenant with its time zone, currency, fiscal year start and locale. Give it an
    admin key next with ``POST /v1/keys`` (``tenant_id``)."""
    return await service.create_tenant(session, body=body, audit=audit, now=state.clock.now())


@router.get("/tenants", response_model=TenantPage, summary="List tenants")
async def list_tenants(
    request: Request,
    response: Response,
    _principal: PlatformPrincipal,
    session: ReadSessionDep,
    state: StateDep,
    cursor: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=TENANT_ID_PATTERN,
            description="The `next_cursor` of the previous page (a tenant id).",
        ),
    ] = None,
    limit: Annotated[int, page_limit(1000)] = 100,
) -> TenantPage:
    """Every tenant in id order, with its count of active keys."""
    page = await service.list_tenants(session, after=cursor, limit=limit, now=state.clock.now())
    set_next_page(request, response, page.next_cursor)
    return page


@router.get("/tenants/{tenant_id}", response_model=TenantOut, summary="A tenant")
async def get_tenant(
    tenant_id: TenantIdPath,
    _principal: PlatformPrincipal,
    session: ReadSessionDep,
    state: StateDep,
) -> TenantOut:
    """One tenant and its settings."""
    return await service.get_tenant(session, tenant_id=tenant_id, now=state.clock.now())
