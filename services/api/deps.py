"""Dependencies of the api service, declared once as ``Annotated`` aliases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from fastapi import Depends, Query, Request

from paceline.shared.auth import Principal
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.models import Tenant
from paceline.shared.errors import FieldError, Forbidden, NotFound
from paceline.shared.i18n import Msg, locale_of, msg
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.periods import Period
from paceline.shared.readmodel.evaluation import check_as_of
from paceline.shared.readmodel.progress import kpi_or_404, parse_period_or_422
from paceline.shared.readmodel.scopes import Scope, parse_scope
from paceline.shared.web.deps import ReadPrincipal, ReadSessionDep, StateDep, authenticate

AuthDep = Annotated[Principal, Depends(authenticate)]


async def current_tenant(principal: ReadPrincipal, session: ReadSessionDep) -> Tenant:
    """The caller's tenant (its settings decide days, currency and periods)."""
    tenant = await tenant_repo.get_tenant(session, tenant_id=principal.tenant_id)
    if tenant is None:
        raise NotFound(msg("errors.tenant.gone"))
    return tenant


TenantDep = Annotated[Tenant, Depends(current_tenant)]


def request_locale(request: Request, principal: AuthDep) -> str:
    """The language of this answer's words: ``Accept-Language`` when it names zh or en,
    else the tenant's locale (zh-CN or en)."""
    return locale_of(request.headers.get("accept-language"), principal.locale)


LocaleDep = Annotated[str, Depends(request_locale)]


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


def _role(principal: Principal) -> Msg:
    return msg(f"errors.role.{principal.role or 'service'}")


def check_visible(principal: Principal, scope: Scope, field: str = "scope") -> Scope:
    """The scope, if the caller may read its figures (403 naming the field otherwise)."""
    if not principal.sees(str(scope)):
        raise Forbidden(
            msg("errors.reach.outside", scope=str(scope), role=_role(principal)),
            fields=[FieldError(field, msg("errors.reach.outside_field"))],
        )
    return scope


def narrowed(principal: Principal, value: str | None, field: str, kind: str) -> str | None:
    """An optional filter of a whole-tenant list (``scope``, ``team``): for a caller with
    a bounded reach it is required and must be within reach (403 naming the field)."""
    if principal.reach is None:
        return value
    if value is None:
        raise Forbidden(
            msg("errors.reach.name_one", field=field, role=_role(principal)),
            fields=[FieldError(field, msg("errors.reach.name_one_field"))],
        )
    check_visible(principal, parse_scope(value if kind == "scope" else f"team:{value}"), field)
    return value


def _scope(principal: AuthDep, scope: ScopeQuery = "company") -> Scope:
    return check_visible(principal, parse_scope(scope))


def _required_scope(principal: AuthDep, scope: ScopeQuery) -> Scope:
    return check_visible(principal, parse_scope(scope))


def _now(state: StateDep) -> datetime:
    return state.clock.now()


KpiDep = Annotated[KpiDefinition, Depends(_kpi)]
PeriodDep = Annotated[Period, Depends(_period)]
ScopeDep = Annotated[Scope, Depends(_scope)]  # company unless given
RequiredScopeDep = Annotated[Scope, Depends(_required_scope)]


KnowledgeQuery = Annotated[
    Literal["as_of", "latest"],
    Query(
        description="as_of (default): what Paceline knew at as_of — events received later, "
        "corrections and reverts included, are not counted. latest: the days up to as_of "
        "with everything known now (e.g. to read history imported since)."
    ),
]


@dataclass(frozen=True, slots=True)
class Moment:
    """When a read stands (docs/KPIS.md, "As of a moment").

    ``at`` counts the days begun before it and picks the target versions in force;
    ``known`` cuts the facts to what Paceline knew then (None: everything known now);
    ``given``: the caller named ``as_of`` (without it, ``at`` is now).
    """

    at: datetime
    known: datetime | None
    given: bool


def _moment(
    state: StateDep, as_of: AsOfQuery = None, knowledge: KnowledgeQuery = "as_of"
) -> Moment:
    if as_of is None:
        return Moment(state.clock.now(), None, given=False)
    check_as_of(as_of)
    return Moment(as_of, as_of if knowledge == "as_of" else None, given=True)


MomentDep = Annotated[Moment, Depends(_moment)]  # now and all known, unless as_of given
NowDep = Annotated[datetime, Depends(_now)]  # the injected clock's now
