"""``POST /v1/targets/decompose``, ``GET /v1/targets/suggestions``, ``POST /v1/plans/check``."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query

from paceline.api.deps import KpiDep, LocaleDep, PeriodDep, RequiredScopeDep, TenantDep
from paceline.api.planning import check, decomposition, suggestions
from paceline.api.planning.schemas import (
    DecomposeIn,
    DecomposeOut,
    PlanCheckOut,
    PlanIn,
    SuggestionOut,
)
from paceline.shared.web.deps import (
    AdminPrincipal,
    AuditDep,
    ReadPrincipal,
    ReadSessionDep,
    StateDep,
    WriteSessionDep,
    within_reach,
)

router = APIRouter(prefix="/v1", tags=["planning"])


@router.post(
    "/targets/decompose",
    response_model=DecomposeOut,
    summary="Split a goal down the org and in time",
    description=(
        "A goal for a KPI, a scope and a period splits down the org (historical share, "
        "headcount, given weights or evenly) and in time (seasonality, working days or "
        "evenly), in one call. Every child sums exactly to its parent (largest remainder in "
        "the currency's minor unit; counts in whole numbers; ratios are copied). "
        "`preview: true` (default) answers the whole tree and saves nothing; "
        "`preview: false` saves every target with its parent_id and records an audit entry."
    ),
    responses={409: {"description": "Saving: some of these targets exist already"}},
)
async def decompose(
    body: DecomposeIn,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    tenant: TenantDep,
    audit: AuditDep,
    locale: LocaleDep,
) -> DecomposeOut:
    """Preview or save a decomposition."""
    return await decomposition.decompose_goal(
        session, tenant=tenant, body=body, auditor=audit, now=state.clock.now(), locale=locale
    )


@router.get(
    "/targets/suggestions",
    response_model=SuggestionOut,
    summary="Suggested baseline, target and stretch from history",
)
@within_reach("scope")
async def get_suggestions(
    principal: ReadPrincipal,
    session: ReadSessionDep,
    state: StateDep,
    tenant: TenantDep,
    kpi: KpiDep,
    scope: RequiredScopeDep,
    period: PeriodDep,
    locale: LocaleDep,
    growth: Annotated[
        Decimal | None,
        Query(ge=-1, le=100, description="The team's growth goal over last year (0.15 = +15%)."),
    ] = None,
    cap: Annotated[
        Decimal | None,
        Query(ge=0, le=100, description="Largest growth over last year suggested (0.5)."),
    ] = None,
    margin: Annotated[
        Decimal | None,
        Query(ge=0, le=100, description="Growth beyond history that is flagged (0.2)."),
    ] = None,
    uplift: Annotated[
        Decimal | None, Query(ge=0, le=10, description="Stretch over the target (0.1).")
    ] = None,
) -> SuggestionOut:
    """From the same period last year, the recent trend, seasonality and the growth goal."""
    return await suggestions.suggestions(
        session,
        tenant=tenant,
        kpi=kpi,
        scope=scope,
        period=period,
        growth=growth,
        cap=cap,
        margin=margin,
        uplift=uplift,
        now=state.clock.now(),
        locale=locale,
    )


@router.post("/plans/check", response_model=PlanCheckOut, summary="SMART check of a plan")
async def check_plan(
    body: PlanIn,
    principal: ReadPrincipal,
    session: ReadSessionDep,
    state: StateDep,
    tenant: TenantDep,
    locale: LocaleDep,
) -> PlanCheckOut:
    """Findings (severity, message, fix) for each SMART rule and known pitfall."""
    return await check.check(
        session, tenant=tenant, body=body, now=state.clock.now(), locale=locale
    )
