"""``GET /v1/audit``: the tenant's admin actions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime

from paceline.api.audit import service
from paceline.api.audit.schemas import AuditPage
from paceline.shared.web.deps import AdminPrincipal, ReadSessionDep
from paceline.shared.web.pagination import page_limit, set_next_page

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get("/audit", response_model=AuditPage, summary="The audit log of admin actions")
async def get_audit(
    request: Request,
    response: Response,
    principal: AdminPrincipal,
    session: ReadSessionDep,
    action: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="An action (keys.create), or a prefix ending in * (keys.*).",
        ),
    ] = None,
    actor: Annotated[
        str | None, Query(min_length=1, max_length=200, description="key:<id> or cli.")
    ] = None,
    target: Annotated[
        str | None, Query(min_length=1, max_length=400, description="e.g. key:<id>, team:north")
    ] = None,
    start: Annotated[
        AwareDatetime | None, Query(alias="from", description="From this instant (inclusive).")
    ] = None,
    end: Annotated[
        AwareDatetime | None, Query(alias="to", description="Until this instant (exclusive).")
    ] = None,
    cursor: Annotated[
        str | None,
        Query(pattern=r"^[0-9]{1,18}$", description="The `next_cursor` of the previous page."),
    ] = None,
    limit: Annotated[int, page_limit(1000)] = 100,
) -> AuditPage:
    """Who did what and when, with the data before and after (secrets redacted), newest
    first. Key management, org, settings, KPIs, targets, FX rates, calendar days, role
    templates and every other admin change is recorded in the same transaction as the
    change itself."""
    page = await service.audit_page(
        session,
        tenant_id=principal.tenant_id,
        cursor=cursor,
        limit=limit,
        action=action,
        actor=actor,
        target=target,
        start=start,
        end=end,
    )
    set_next_page(request, response, page.next_cursor)
    return page
