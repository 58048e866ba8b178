"""Dependencies of the api service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.models import Tenant
from paceline.shared.errors import NotFound
from paceline.shared.web.deps import ReadPrincipal, ReadSessionDep


async def current_tenant(principal: ReadPrincipal, session: ReadSessionDep) -> Tenant:
    """The caller's tenant (its settings decide days, currency and periods)."""
    tenant = await tenant_repo.get_tenant(session, tenant_id=principal.tenant_id)
    if tenant is None:
        raise NotFound("the tenant of this key no longer exists")
    return tenant


TenantDep = Annotated[Tenant, Depends(current_tenant)]
