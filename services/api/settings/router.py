"""``GET/PUT /v1/settings``."""

from __future__ import annotations

from fastapi import APIRouter

from paceline.api.settings import service
from paceline.api.settings.schemas import SettingsChange, TenantSettings, TenantSettingsUpdate
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.errors import NotFound
from paceline.shared.i18n import msg
from paceline.shared.web.deps import (
    AdminPrincipal,
    AuditDep,
    ReadPrincipal,
    ReadSessionDep,
    StateDep,
    WriteSessionDep,
)

router = APIRouter(prefix="/v1", tags=["settings"])


@router.get("/settings", response_model=TenantSettings, summary="The tenant's settings")
async def get_settings(principal: ReadPrincipal, session: ReadSessionDep) -> TenantSettings:
    """Time zone, currency, fiscal year start, locale and pace thresholds."""
    tenant = await tenant_repo.get_tenant(session, tenant_id=principal.tenant_id)
    if tenant is None:
        raise NotFound(msg("errors.tenant.gone"))
    return service.settings_of(tenant)


@router.put("/settings", response_model=SettingsChange, summary="Change the tenant's settings")
async def put_settings(
    update: TenantSettingsUpdate,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> SettingsChange:
    """Change the given fields. A new time zone or currency recomputes the facts."""
    tenant = await tenant_repo.get_tenant(session, tenant_id=principal.tenant_id)
    if tenant is None:
        raise NotFound(msg("errors.tenant.gone"))
    before = service.settings_of(tenant).model_dump(mode="json")
    out = await service.update_settings(
        session, tenant=tenant, update=update, now=state.clock.now()
    )
    await audit.record(
        "settings.update", target="settings", before=before, after=out.model_dump(mode="json")
    )
    if update.locale is not None:
        # The locale travels with the cached key lookup: the next request reads the new one.
        state.keys.tenant_changed(principal.tenant_id)
    return out
