"""Role template routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.deps import LocaleDep
from paceline.api.templates import service
from paceline.api.templates.schemas import TemplateIn, TemplateOut
from paceline.shared.readmodel.templates import find_template
from paceline.shared.web.deps import (
    AdminPrincipal,
    AuditDep,
    ReadPrincipal,
    ReadSessionDep,
    StateDep,
    WriteSessionDep,
)

router = APIRouter(prefix="/v1", tags=["role templates"])
Key = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{1,63}$")]


@router.get("/role-templates", response_model=list[TemplateOut], summary="List role templates")
async def list_templates(
    principal: ReadPrincipal, session: ReadSessionDep, locale: LocaleDep
) -> list[TemplateOut]:
    """Built-in (account manager, channel manager, presales) and custom templates."""
    return await service.list_templates(session, tenant_id=principal.tenant_id, locale=locale)


@router.get("/role-templates/{key}", response_model=TemplateOut, summary="A role template")
async def get_template(
    key: Key, principal: ReadPrincipal, session: ReadSessionDep, locale: LocaleDep
) -> TemplateOut:
    """KPIs, weights and category mix of a template."""
    t = await find_template(session, tenant_id=principal.tenant_id, key=key)
    if t is None:
        raise service.not_found(key)
    return await service.template_out(session, principal.tenant_id, t, locale)


@router.put(
    "/role-templates/{key}", response_model=TemplateOut, summary="Create or replace a template"
)
async def put_template(
    key: Key,
    body: TemplateIn,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
    locale: LocaleDep,
) -> TemplateOut:
    """KPIs that exist, weights summing to 100."""
    before = await _template_or_none(session, principal.tenant_id, key)
    out = await service.put_template(
        session,
        tenant_id=principal.tenant_id,
        key=key,
        body=body,
        now=state.clock.now(),
        locale=locale,
    )
    await audit.record(
        "role_templates.put",
        target=f"role-template:{key}",
        before=before,
        after=out.model_dump(mode="json"),
    )
    return out


@router.delete(
    "/role-templates/{key}",
    status_code=204,
    summary="Remove a custom template",
    responses={409: {"description": "A built-in template cannot be removed"}},
)
async def delete_template(
    key: Key, principal: AdminPrincipal, session: WriteSessionDep, audit: AuditDep
) -> Response:
    """Remove a custom template."""
    before = await _template_or_none(session, principal.tenant_id, key)
    await service.delete_template(session, tenant_id=principal.tenant_id, key=key)
    await audit.record("role_templates.delete", target=f"role-template:{key}", before=before)
    return Response(status_code=204)


async def _template_or_none(
    session: AsyncSession, tenant_id: str, key: str
) -> dict[str, Any] | None:
    """A template as it is before a change (for the audit log)."""
    t = await find_template(session, tenant_id=tenant_id, key=key)
    if t is None:
        return None
    return (await service.template_out(session, tenant_id, t)).model_dump(mode="json")
