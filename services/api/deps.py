"""Dependencies of the api service, declared once as ``Annotated`` aliases."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query

from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.models import Tenant
from paceline.shared.errors import NotFound
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.periods import Period
from paceline.shared.readmodel.evaluation import check_as_of
from paceline.shared.readmodel.progress import kpi_or_404, parse_period_or_422
from paceline.shared.readmodel.scopes import Scope, parse_scope
from paceline.shared.web.deps import ReadPrincipal, ReadSessionDep, StateDep


async def current_tenant(principal: ReadPrincipal, session: ReadSessionDep) -> Tenant:
    """The caller's tenant (its settings decide days, currency and periods)."""
    tenant = await tenant_repo.get_tenant(session, tenant_id=principal.tenant_id)
    if tenant is None:
        raise NotFound("the tenant of this key no longer exists")
    return tenant


TenantDep = Annotated[Tenant, Depends(current_tenant)]


# The read routes' common parameters, parsed once: a KPI the tenant can use (404), a
# scope (422), a period of the tenant's calendar (422) and the instant to read at (now by
# default, 422 without an offset or out of range).

KpiQuery = Annotated[str, Query(min_length=1, max_length=64, description="A KPI key, e.g. revenue")]
PeriodQuery = Annotated[str, Query(description="2026 (fiscal year), 2026-Q4, 2026-11 or 2026-W48")]
ScopeQuery = Annotated[str, Query(max_length=200, description="company, team:ID or rep:ID")]
AsOfQuery = Annotated[
    datetime | None,
    Query(description="Read as things stood at this moment, with an offset (default: now)."),
]


async def _kpi(session: ReadSessionDep, tenant: TenantDep, kpi: KpiQuery) -> KpiDefinition:
    return await kpi_or_404(session, tenant.id, kpi)


def _period(tenant: TenantDep, period: PeriodQuery) -> Period:
    return parse_period_or_422(period, tenant)


def _scope(scope: ScopeQuery = "company") -> Scope:
    return parse_scope(scope)


def _required_scope(scope: ScopeQuery) -> Scope:
    return parse_scope(scope)


def _now(state: StateDep) -> datetime:
    return state.clock.now()


def _given_as_of(as_of: AsOfQuery = None) -> datetime | None:
    if as_of is not None:
        check_as_of(as_of)
    return as_of


def _as_of(state: StateDep, as_of: AsOfQuery = None) -> datetime:
    at = as_of or state.clock.now()
    check_as_of(at)
    return at


KpiDep = Annotated[KpiDefinition, Depends(_kpi)]
PeriodDep = Annotated[Period, Depends(_period)]
ScopeDep = Annotated[Scope, Depends(_scope)]  # company unless given
RequiredScopeDep = Annotated[Scope, Depends(_required_scope)]
AsOfDep = Annotated[datetime, Depends(_as_of)]  # now unless given
GivenAsOfDep = Annotated[datetime | None, Depends(_given_as_of)]  # None unless given
NowDep = Annotated[datetime, Depends(_now)]  # the injected clock's now
