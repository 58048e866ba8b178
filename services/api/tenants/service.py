"""Create and list tenants (the operator's work, with a platform key or the CLI)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.tenants import repository
from paceline.api.tenants.schemas import TenantIn, TenantOut, TenantPage
from paceline.shared.auth import PLATFORM_TENANT
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.models import Tenant
from paceline.shared.errors import Conflict, NotFound
from paceline.shared.i18n import msg
from paceline.shared.web.deps import Auditor


def tenant_out(tenant: Tenant, *, active_keys: int) -> TenantOut:
    """A tenant as shown."""
    return TenantOut(
        id=tenant.id,
        name=tenant.name,
        timezone=tenant.timezone,
        currency=tenant.currency,
        fiscal_year_start_month=tenant.fiscal_year_start_month,
        locale=tenant.locale,
        created_at=tenant.created_at,
        updated_at=tenant.updated_at,
        active_keys=active_keys,
    )


async def create_tenant(
    session: AsyncSession, *, body: TenantIn, audit: Auditor, now: datetime
) -> TenantOut:
    """A new tenant with its settings; 409 if the id is taken."""
    if await tenant_repo.get_tenant(session, tenant_id=body.id) is not None:
        raise Conflict(msg("tenants.exists", tenant=repr(body.id)))
    tenant = await tenant_repo.ensure_tenant(session, tenant_id=body.id, name=body.name, now=now)
    tenant.timezone = body.timezone
    tenant.currency = body.currency
    tenant.fiscal_year_start_month = body.fiscal_year_start_month
    tenant.locale = body.locale
    await session.flush()
    out = tenant_out(tenant, active_keys=0)
    await audit.record(
        "tenants.create",
        target=f"tenant:{tenant.id}",
        after=out.model_dump(mode="json"),
        tenant_id=tenant.id,
    )
    return out


async def get_tenant(session: AsyncSession, *, tenant_id: str, now: datetime) -> TenantOut:
    """One tenant; 404 if unknown."""
    tenant = None
    if tenant_id != PLATFORM_TENANT:
        tenant = await tenant_repo.get_tenant(session, tenant_id=tenant_id)
    if tenant is None:
        raise NotFound(msg("tenants.not_found", tenant=repr(tenant_id)))
    counts = await repository.active_key_counts(session, tenant_ids=[tenant.id], now=now)
    return tenant_out(tenant, active_keys=counts.get(tenant.id, 0))


async def list_tenants(
    session: AsyncSession, *, after: str | None, limit: int, now: datetime
) -> TenantPage:
    """A page of tenants in id order."""
    rows = await repository.page(session, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    counts = await repository.active_key_counts(session, tenant_ids=[t.id for t in rows], now=now)
    return TenantPage(
        items=[tenant_out(t, active_keys=counts.get(t.id, 0)) for t in rows],
        next_cursor=rows[-1].id if more and rows else None,
    )
