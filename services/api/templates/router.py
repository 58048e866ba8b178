"""Role template routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from paceline.api.templates import service
from paceline.api.templates.schemas import TemplateIn, TemplateOut
from paceline.shared.errors import NotFound
from paceline.shared.web.deps import (
    AdminPrincipal,
    ReadPrincipal,
    ReadSessionDep,
    StateDep,
    WriteSessionDep,
)

router = APIRouter(prefix="/v1", tags=["role templates"])
Key = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{1,63}$")]


@router.get("/role-templates", response_model=list[TemplateOut], summary="List role templates")
async def list_templates(principal: ReadPrincipal, session: ReadSessionDep) -> list[TemplateOut]:
    """Built-in (account manager, channel manager, presales) and custom templates."""
    return await service.list_templates(session, tenant_id=principal.tenant_id)


@router.get("/role-templates/{key}", response_model=TemplateOut, summary="A role template")
async def get_template(key: Key, principal: ReadPrincipal, session: ReadSessionDep) -> TemplateOut:
    """KPIs, weights and category mix of a template."""
    t = await service.find_template(session, tenant_id=principal.tenant_id, key=key)
    if t is None:
        raise NotFound(f"no template {key!r}")
    return await service.template_out(session, principal.tenant_id, t)


@router.put(
    "/role-templates/{key}", response_model=TemplateOut, summary="Create or replace a template"
)
async def put_template(
    key: Key,
    body: TemplateIn,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
) -> TemplateOut:
    """KPIs that exist, weights summing to 100."""
    return await service.put_template(
        session, tenant_id=principal.tenant_id, key=key, body=body, now=state.clock.now()
    )


@router.delete("/role-templates/{key}", status_code=204, summary="Remove a custom template")
async def delete_template(
    key: Key, principal: AdminPrincipal, session: WriteSessionDep
) -> Response:
    """Remove a custom template."""
    await service.delete_template(session, tenant_id=principal.tenant_id, key=key)
    return Response(status_code=204)
