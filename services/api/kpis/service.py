"""The KPI catalog: built-in KPIs and a tenant's custom KPIs (formulas, no code).

Creating, changing or retiring a custom KPI recomputes the tenant's facts from the stored
events in the background (a ``rebuild_facts`` job run by the scoring service), so a new
KPI has its history from the first moment it exists.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.kpis import repository as repo
from paceline.api.kpis.schemas import (
    FormulaCheck,
    FormulaProblem,
    KpiChange,
    KpiIn,
    KpiOut,
    KpiUpdate,
    MeasureOut,
)
from paceline.shared.db.context import definition_from_row
from paceline.shared.db.jobs import enqueue_job, get_job
from paceline.shared.db.models import Job, KpiDefinitionRow, Tenant
from paceline.shared.errors import Conflict, FieldError, InvalidInput, NotFound
from paceline.shared.i18n import msg, params_json, render
from paceline.shared.kpi.catalog import BUILTIN_BY_KEY, BUILTIN_KPIS, KpiDefinition
from paceline.shared.kpi.formula import FormulaError, parse_formula


def kpi_out(k: KpiDefinition, *, active: bool = True) -> KpiOut:
    """The catalog entry of a KPI."""
    return KpiOut(
        key=k.key,
        names=k.names(),
        descriptions={"zh-CN": k.description_zh, "en": k.description_en},
        unit=k.unit,
        direction=k.direction,
        category=k.category,
        formula=k.formula.text,
        shape=k.formula.shape,
        event_types=sorted(k.formula.event_types),
        builtin=k.builtin,
        min_sample=k.min_sample,
        version=k.version,
        active=active,
    )


def check_formula(text: str, locale: str = "zh-CN") -> FormulaCheck:
    """Parse a formula and say what it keeps, or where and why it is wrong (in ``locale``)."""
    try:
        formula = parse_formula(text)
    except FormulaError as exc:
        return FormulaCheck(
            valid=False,
            error=FormulaProblem(
                position=exc.position,
                reason=render(exc.problem, locale),
                reason_code=exc.problem.code,
                reason_params=params_json(exc.problem.params),
            ),
        )
    return FormulaCheck(
        valid=True,
        shape=formula.shape,
        measures=[
            MeasureOut(kind=m.kind, source=m.source, field=m.field, by=m.by)
            for m in formula.measures
        ],
    )


def _parse_or_422(text: str) -> None:
    try:
        parse_formula(text)
    except FormulaError as exc:
        raise InvalidInput(
            msg("kpis.formula_invalid", reason=exc.msg), fields=[FieldError("formula", exc.msg)]
        ) from None


async def list_kpis(
    session: AsyncSession, *, tenant_id: str, with_inactive: bool = False
) -> list[KpiOut]:
    """Built-in KPIs, then the tenant's custom ones."""
    rows = await repo.custom_rows(session, tenant_id=tenant_id, with_inactive=with_inactive)
    return [kpi_out(k) for k in BUILTIN_KPIS] + [
        kpi_out(definition_from_row(r), active=r.active) for r in rows
    ]


async def get_kpi(session: AsyncSession, *, tenant_id: str, key: str) -> KpiOut:
    """One KPI, or 404."""
    if key in BUILTIN_BY_KEY:
        return kpi_out(BUILTIN_BY_KEY[key])
    row = await session.get(KpiDefinitionRow, (tenant_id, key))
    if row is None:
        raise NotFound(msg("kpis.unknown", kpi=key))
    return kpi_out(definition_from_row(row), active=row.active)


async def _touch(session: AsyncSession, tenant: Tenant, now: datetime) -> Job:
    tenant.updated_at = now  # the scoring workers reload the tenant's KPIs
    return await enqueue_job(session, tenant_id=tenant.id, kind="rebuild_facts", now=now)


async def create_kpi(
    session: AsyncSession, *, tenant: Tenant, kpi: KpiIn, now: datetime
) -> KpiChange:
    """Create a custom KPI and backfill its facts."""
    if kpi.key in BUILTIN_BY_KEY:
        raise Conflict(msg("kpis.builtin_key", kpi=kpi.key))
    _parse_or_422(kpi.formula)
    existing = await session.get(KpiDefinitionRow, (tenant.id, kpi.key))
    if existing is not None and existing.active:
        raise Conflict(msg("kpis.exists", kpi=kpi.key))
    if existing is not None:  # re-creating a retired KPI revives it as a new version
        row = existing
        row.version += 1
        row.active = True
    else:
        row = KpiDefinitionRow(
            tenant_id=tenant.id, key=kpi.key, version=1, active=True, created_at=now
        )
        session.add(row)
    for name in (
        "name_zh",
        "name_en",
        "description_zh",
        "description_en",
        "unit",
        "direction",
        "category",
        "formula",
        "min_sample",
    ):
        setattr(row, name, getattr(kpi, name))
    row.updated_at = now
    job = await _touch(session, tenant, now)
    await session.flush()
    return KpiChange(**kpi_out(definition_from_row(row)).model_dump(), rebuild_job_id=job.id)


async def update_kpi(
    session: AsyncSession, *, tenant: Tenant, key: str, update: KpiUpdate, now: datetime
) -> KpiChange:
    """Change a custom KPI; a new formula gets a new version and recomputed facts."""
    if key in BUILTIN_BY_KEY:
        raise Conflict(msg("kpis.builtin_unchangeable", kpi=key))
    row = await session.get(KpiDefinitionRow, (tenant.id, key))
    if row is None or not row.active:
        raise NotFound(msg("kpis.unknown", kpi=key))
    job_id = None
    if update.formula is not None and update.formula != row.formula:
        _parse_or_422(update.formula)
        row.formula = update.formula
        row.version += 1
        job_id = (await _touch(session, tenant, now)).id
    for name in (
        "name_zh",
        "name_en",
        "description_zh",
        "description_en",
        "unit",
        "direction",
        "category",
        "min_sample",
    ):
        value = getattr(update, name)
        if value is not None:
            setattr(row, name, value)
    row.updated_at = now
    if job_id is None:
        tenant.updated_at = now  # labels changed: reload, but facts stay
    await session.flush()
    return KpiChange(**kpi_out(definition_from_row(row)).model_dump(), rebuild_job_id=job_id)


async def retire_kpi(
    session: AsyncSession, *, tenant: Tenant, key: str, now: datetime
) -> KpiChange:
    """Retire a custom KPI: it leaves the catalog and its facts are removed."""
    if key in BUILTIN_BY_KEY:
        raise Conflict(msg("kpis.builtin_unremovable", kpi=key))
    row = await session.get(KpiDefinitionRow, (tenant.id, key))
    if row is None or not row.active:
        raise NotFound(msg("kpis.unknown", kpi=key))
    row.active = False
    row.updated_at = now
    job = await _touch(session, tenant, now)
    await session.flush()
    return KpiChange(
        **kpi_out(definition_from_row(row), active=False).model_dump(), rebuild_job_id=job.id
    )


async def job_status(session: AsyncSession, *, tenant_id: str, job_id: int) -> Job:
    """A tenant's job, or 404."""
    job = await get_job(session, tenant_id=tenant_id, job_id=job_id)
    if job is None:
        raise NotFound(msg("kpis.no_job", job=str(job_id)))
    return job
