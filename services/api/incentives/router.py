"""Incentive routes: plans, assignments, earnings (live and what-if), statements, payroll."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request, Response

from paceline.api.deps import AuthDep, MomentDep, TenantDep, check_visible
from paceline.api.incentives import page, service
from paceline.api.incentives.schemas import (
    AssignmentIn,
    AssignmentOut,
    AssignmentsOut,
    EarningsOut,
    PlanIn,
    PlanOut,
    PlanRevision,
    PlansOut,
    StatementAction,
    StatementOut,
    StatementsIn,
    StatementsOut,
    WhatIfIn,
    WhatIfOut,
)
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.context import tenant_kpis
from paceline.shared.db.models import Tenant
from paceline.shared.errors import NotFound
from paceline.shared.i18n import L10n, locale_of, msg
from paceline.shared.readmodel.scopes import parse_scope
from paceline.shared.web.csv_out import ExcelQuery, csv_response, csv_text
from paceline.shared.web.deps import (
    AdminPrincipal,
    AuditDep,
    ReadSessionDep,
    StateDep,
    WriteSessionDep,
    within_reach,
)

router = APIRouter(prefix="/v1", tags=["incentives"])

PlanKeyPath = Annotated[str, Path(min_length=1, max_length=64)]
IdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]
CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


async def _tenant(session: WriteSessionDep, principal: AdminPrincipal) -> Tenant:
    tenant = await tenant_repo.get_tenant(session, tenant_id=principal.tenant_id)
    if tenant is None:
        raise NotFound(msg("errors.tenant.gone"))
    return tenant


def _csv(
    columns: tuple[str, ...],
    rows: list[dict[str, Any]],
    filename: str,
    *,
    tenant: Tenant,
    excel: bool | None,
) -> Response:
    # Files for people: a BOM in a zh-CN tenant (or with excel=true), so that Excel opens
    # the UTF-8 file with Chinese names intact.
    return csv_response(
        csv_text(columns, rows),
        excel=excel,
        locale=tenant.locale,
        for_people=True,
        filename=filename,
    )


# -- plans -------------------------------------------------------------------------------


@router.get("/incentive-plans", response_model=PlansOut, summary="Incentive plans (激励方案)")
async def get_plans(session: ReadSessionDep, tenant: TenantDep) -> PlansOut:
    """Every plan with its current version."""
    return await service.list_plans(session, tenant=tenant)


@router.post(
    "/incentive-plans",
    response_model=PlanOut,
    status_code=201,
    summary="Create an incentive plan",
    responses={409: {"description": "A plan with this key exists."}},
)
async def post_plan(
    body: PlanIn,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> PlanOut:
    """A plan of commission tiers, attainment bonuses, gates, modifiers, spiffs and team
    pools; 422 naming the field for a plan that breaks a rule (tiers out of order,
    negative rates, a cap below the threshold payout, an unknown KPI)."""
    tenant = await _tenant(session, principal)
    return await service.create_plan(
        session, tenant=tenant, body=body, now=state.clock.now(), auditor=audit
    )


@router.get("/incentive-plans/{key}", response_model=PlanOut, summary="A plan and its versions")
async def get_plan(key: PlanKeyPath, session: ReadSessionDep, tenant: TenantDep) -> PlanOut:
    """The plan with every version (who, when, why)."""
    return await service.get_plan(session, tenant=tenant, key=key)


@router.put("/incentive-plans/{key}", response_model=PlanOut, summary="Revise a plan")
async def put_plan(
    key: PlanKeyPath,
    body: PlanRevision,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> PlanOut:
    """A new version, in force from now; reads as of earlier moments keep the old one."""
    tenant = await _tenant(session, principal)
    return await service.revise_plan(
        session, tenant=tenant, key=key, body=body, now=state.clock.now(), auditor=audit
    )


# -- assignments -------------------------------------------------------------------------


@router.get("/incentive-assignments", response_model=AssignmentsOut, summary="Who is on which plan")
async def get_assignments(
    session: ReadSessionDep,
    tenant: TenantDep,
    plan: Annotated[str | None, Query(max_length=64)] = None,
    rep: Annotated[str | None, Query(max_length=200)] = None,
) -> AssignmentsOut:
    """Assignments of plans to reps and roles, with their days."""
    return await service.list_assignments(session, tenant=tenant, plan=plan, rep=rep)


@router.post(
    "/incentive-assignments",
    response_model=AssignmentOut,
    status_code=201,
    summary="Assign a plan to a rep or a role",
    responses={409: {"description": "The same plan is assigned on some of these days."}},
)
async def post_assignment(
    body: AssignmentIn,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> AssignmentOut:
    """A rep's own assignment wins over the role's on the days it covers; a rep who
    changes plan mid-month is paid pro rata per plan."""
    tenant = await _tenant(session, principal)
    return await service.create_assignment(
        session, tenant=tenant, body=body, now=state.clock.now(), auditor=audit
    )


@router.delete(
    "/incentive-assignments/{assignment_id}", status_code=204, summary="Remove an assignment"
)
async def delete_assignment(
    assignment_id: IdPath,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    audit: AuditDep,
) -> Response:
    """Remove an assignment (statements already generated keep what they froze)."""
    tenant = await _tenant(session, principal)
    await service.delete_assignment(
        session, tenant=tenant, assignment_id=assignment_id, auditor=audit
    )
    return Response(status_code=204)


# -- earnings ----------------------------------------------------------------------------


@router.get("/earnings", response_model=EarningsOut, summary="Earnings as they are earned")
@within_reach("scope")
async def get_earnings(
    session: ReadSessionDep,
    tenant: TenantDep,
    moment: MomentDep,
    principal: AuthDep,
    scope: Annotated[str, Query(max_length=200, description="rep:ID, team:ID or company")],
    period: Annotated[str, Query(max_length=16, description="A month, e.g. 2026-12")],
) -> EarningsOut:
    """Earned to date per component and line (each traced to its facts and plan
    version), the projection at current pace, and how much more reaches the next tier."""
    month = service.month_or_422(period, tenant)
    return await service.earnings(
        session,
        tenant=tenant,
        scope=check_visible(principal, parse_scope(scope)),
        period=month,
        as_of=moment.at,
        known=moment.known,
    )


@router.post("/earnings/what-if", response_model=WhatIfOut, summary="What if these deals close")
async def post_what_if(
    body: WhatIfIn, session: ReadSessionDep, tenant: TenantDep, state: StateDep
) -> WhatIfOut:
    """Earnings with hypothetical won deals (多做多得): each counts wherever a won deal
    would — revenue, deals won, new customers, margin, spiffs, tiers."""
    return await service.what_if(session, tenant=tenant, body=body, now=state.clock.now())


# -- statements --------------------------------------------------------------------------


@router.post(
    "/statements",
    response_model=StatementsOut,
    summary="Generate draft statements for a closed month",
)
async def post_statements(
    body: StatementsIn,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> StatementsOut:
    """Draft statements from the month's figures as closed (422 if it is not closed);
    drafts are regenerated, approved and paid statements kept."""
    tenant = await _tenant(session, principal)
    return await service.generate_statements(
        session, tenant=tenant, body=body, now=state.clock.now(), auditor=audit
    )


@router.get("/statements", response_model=StatementsOut, summary="Statements")
async def get_statements(
    session: ReadSessionDep,
    tenant: TenantDep,
    period: Annotated[str | None, Query(max_length=16)] = None,
    rep: Annotated[str | None, Query(max_length=200)] = None,
    status: Literal["draft", "approved", "paid"] | None = None,
) -> StatementsOut:
    """Statements by month and rep."""
    return await service.list_statements(
        session, tenant=tenant, period=period, rep=rep, status=status
    )


@router.get(
    "/statements/{statement_id}",
    response_model=StatementOut,
    summary="A statement (JSON, CSV or a printable page)",
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
            }
        }
    },
)
async def get_statement(
    statement_id: IdPath,
    request: Request,
    session: ReadSessionDep,
    tenant: TenantDep,
    format: Annotated[Literal["json", "csv", "html"], Query()] = "json",  # query name
    lang: Annotated[str | None, Query(max_length=35)] = None,
    excel: ExcelQuery = None,
) -> Any:
    """Every line with the plan version and facts behind it; ``format=csv`` for payroll
    detail, ``format=html`` for a printable page (``lang`` zh-CN or en; default: the
    Accept-Language header, then the tenant's locale)."""
    s = await service.get_statement(session, tenant=tenant, statement_id=statement_id)
    if format == "csv":
        rows = service.statement_rows(s)
        return _csv(
            service.STATEMENT_COLUMNS,
            rows,
            f"statement-{s.id}-{s.period}.csv",
            tenant=tenant,
            excel=excel,
        )
    if format == "html":
        locale = locale_of(lang or request.headers.get("accept-language"), tenant.locale)
        kpis = await tenant_kpis(session, tenant_id=tenant.id)
        return Response(
            page.statement_html(
                s,
                locale=locale,
                tz=ZoneInfo(tenant.timezone),
                kpi_names={k.key: L10n(k.name_zh, k.name_en) for k in kpis},
            ),
            media_type="text/html",
            headers={"Content-Security-Policy": page.POLICY},
        )
    return s


@router.post(
    "/statements/{statement_id}/approve",
    response_model=StatementOut,
    summary="Approve a draft statement",
    responses={409: {"description": "The statement is not a draft."}},
)
async def post_approve(
    statement_id: IdPath,
    body: StatementAction,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> StatementOut:
    """Draft → approved, recording who approved it and when."""
    tenant = await _tenant(session, principal)
    return await service.advance_statement(
        session,
        tenant=tenant,
        statement_id=statement_id,
        action="approve",
        note=body.note,
        now=state.clock.now(),
        auditor=audit,
    )


@router.post(
    "/statements/{statement_id}/pay",
    response_model=StatementOut,
    summary="Mark an approved statement paid",
    responses={409: {"description": "The statement is not approved."}},
)
async def post_pay(
    statement_id: IdPath,
    body: StatementAction,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> StatementOut:
    """Approved → paid, recording who marked it and when."""
    tenant = await _tenant(session, principal)
    return await service.advance_statement(
        session,
        tenant=tenant,
        statement_id=statement_id,
        action="pay",
        note=body.note,
        now=state.clock.now(),
        auditor=audit,
    )


@router.get("/payroll", summary="Payroll CSV of a month", responses=CSV, response_class=Response)
async def get_payroll(
    principal: AdminPrincipal,
    session: WriteSessionDep,
    period: Annotated[str, Query(max_length=16, description="A month, e.g. 2026-11")],
    excel: ExcelQuery = None,
) -> Response:
    """One row per approved or paid statement of the month (UTF-8; with a BOM in a zh-CN
    tenant or with ``excel=true``)."""
    tenant = await _tenant(session, principal)
    rows = await service.payroll_rows(session, tenant=tenant, period=period)
    month = service.month_or_422(period, tenant)
    return _csv(
        service.PAYROLL_COLUMNS, rows, f"payroll-{month.key}.csv", tenant=tenant, excel=excel
    )
