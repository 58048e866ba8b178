"""A per-process cache of tenant contexts and KPIs, refreshed when the tenant row changes.

Every change that affects scoring (time zone, currency, FX rates, custom KPIs) bumps the
tenant's ``updated_at``; the worker reads the tenant rows of each batch anyway, so a
stale cache entry is noticed on the next batch.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.scoring.facts.service import TenantModels, load_tenant_models
from paceline.shared.db.models import Tenant


class TenantCache:
    """Tenant contexts and KPIs keyed by (tenant id, updated_at)."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[datetime, TenantModels]] = {}

    async def __call__(self, session: AsyncSession, tenant: Tenant) -> TenantModels:
        """The tenant's models, loaded again only if the tenant changed."""
        hit = self._cache.get(tenant.id)
        if hit is not None and hit[0] == tenant.updated_at:
            return hit[1]
        models = await load_tenant_models(session, tenant)
        self._cache[tenant.id] = (tenant.updated_at, models)
        return models
