"""The KPI catalog: ``GET /v1/kpis`` and custom KPIs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.deps import LocaleDep
from paceline.api.kpis import service
from paceline.api.kpis.schemas import (
    FormulaCheck,
    FormulaCheckIn,
    JobOut,
    KpiChange,
    KpiIn,
    KpiOut,
    KpiUpdate,
)
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.models import Tenant
from paceline.shared.errors import NotFound
from paceline.shared.i18n import msg
from paceline.shared.web.deps import (
    AdminPrincipal,
    AuditDep,
    ReadPrincipal,
    ReadSessionDep,
    StateDep,
    WriteSessionDep,
    within_reach,
)

router = APIRouter(prefix="/v1", tags=["kpis"])
KpiKeyPath = Annotated[str, Path(min_length=1, max_length=64)]


async def _tenant(session: AsyncSession, tenant_id: str) -> Tenant:
    tenant = await tenant_repo.get_tenant(session, tenant_id=tenant_id)
    if tenant is None:
        raise NotFound(msg("errors.tenant.gone"))
    return tenant


@router.get("/kpis", response_model=list[KpiOut], summary="The KPI catalog")
@within_reach("catalog")
async def list_kpis(
    principal: ReadPrincipal,
    session: ReadSessionDep,
    include_inactive: Annotated[bool, Query(description="Also list retired custom KPIs.")] = False,
) -> list[KpiOut]:
    """Built-in and custom KPIs with names (zh-CN, en), unit, direction, category, formula."""
    return await service.list_kpis(
        session, tenant_id=principal.tenant_id, with_inactive=include_inactive
    )


@router.get("/kpis/{key}", response_model=KpiOut, summary="One KPI")
@within_reach("catalog")
async def get_kpi(key: KpiKeyPath, principal: ReadPrincipal, session: ReadSessionDep) -> KpiOut:
    """A built-in or custom KPI."""
    return await service.get_kpi(session, tenant_id=principal.tenant_id, key=key)


@router.post(
    "/kpis",
    response_model=KpiChange,
    status_code=201,
    summary="Create a custom KPI",
    responses={409: {"description": "The key is a built-in KPI's or exists already"}},
)
async def create_kpi(
    kpi: KpiIn,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> KpiChange:
    """Define a KPI with a formula; its facts are backfilled from the stored events."""
    tenant = await _tenant(session, principal.tenant_id)
    out = await service.create_kpi(session, tenant=tenant, kpi=kpi, now=state.clock.now())
    await audit.record("kpis.create", target=f"kpi:{kpi.key}", after=out.model_dump(mode="json"))
    return out


@router.put(
    "/kpis/{key}",
    response_model=KpiChange,
    summary="Change a custom KPI",
    responses={409: {"description": "A built-in KPI cannot be changed"}},
)
async def update_kpi(
    key: KpiKeyPath,
    update: KpiUpdate,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> KpiChange:
    """Change labels or the formula; a new formula recomputes the KPI's facts."""
    tenant = await _tenant(session, principal.tenant_id)
    before = await service.get_kpi(session, tenant_id=tenant.id, key=key)
    out = await service.update_kpi(
        session, tenant=tenant, key=key, update=update, now=state.clock.now()
    )
    await audit.record(
        "kpis.update",
        target=f"kpi:{key}",
        before=before.model_dump(mode="json"),
        after=out.model_dump(mode="json"),
    )
    return out


@router.delete(
    "/kpis/{key}",
    response_model=KpiChange,
    summary="Retire a custom KPI",
    responses={409: {"description": "A built-in KPI cannot be retired"}},
)
async def retire_kpi(
    key: KpiKeyPath,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> KpiChange:
    """Remove a custom KPI from the catalog (its definition is kept, its facts removed)."""
    tenant = await _tenant(session, principal.tenant_id)
    before = await service.get_kpi(session, tenant_id=tenant.id, key=key)
    out = await service.retire_kpi(session, tenant=tenant, key=key, now=state.clock.now())
    await audit.record(
        "kpis.retire",
        target=f"kpi:{key}",
        before=before.model_dump(mode="json"),
        after=out.model_dump(mode="json"),
    )
    return out


@router.post("/kpis/check-formula", response_model=FormulaCheck, summary="Check a formula")
async def check_formula(
    body: FormulaCheckIn, _principal: ReadPrincipal, locale: LocaleDep
) -> FormulaCheck:
    """Parse a formula: its measures, or the position and reason of the first problem (in
    the caller's language, with its catalog code and parameters)."""
    return service.check_formula(body.formula, locale)


@router.get("/jobs/{job_id}", response_model=JobOut, summary="A background job")
async def get_job(
    job_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    principal: ReadPrincipal,
    session: ReadSessionDep,
) -> JobOut:
    """Status of a job such as a fact rebuild."""
    job = await service.job_status(session, tenant_id=principal.tenant_id, job_id=job_id)
    return JobOut(
        id=job.id,
        kind=job.kind,
        status=job.status,
        created_at=job.created_at.isoformat(),
        finished_at=job.finished_at.isoformat() if job.finished_at else None,
        result=job.result,
        error=job.error,
    )
