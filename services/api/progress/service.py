"""``GET /v1/progress``: the shared progress evaluation, as the API's response."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.progress.schemas import PeriodOut, ProgressOut
from paceline.shared.db.models import Tenant
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.periods import Period
from paceline.shared.readmodel.evaluation import q4
from paceline.shared.readmodel.progress import evaluate
from paceline.shared.readmodel.scopes import Scope


async def progress(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    scope: Scope,
    period: Period,
    as_of: datetime,
    known: datetime | None = None,
) -> ProgressOut:
    """Actual, target in force, expected, pace, projections and status (``as_of``
    checked by the caller: :data:`paceline.api.deps.MomentDep`); ``known`` reads the facts
    as Paceline knew them then (an explicit ``as_of``)."""
    r = await evaluate(
        session, tenant=tenant, kpi=kpi, scope=scope, period=period, as_of=as_of, known=known
    )
    out = ProgressOut(
        kpi=kpi.key,
        names=kpi.names(),
        unit=kpi.unit,
        currency=tenant.currency if kpi.unit == "currency" else None,
        direction=kpi.direction,
        scope=str(scope),
        period=PeriodOut(key=period.key, kind=period.kind, start=period.start, end=period.end),
        as_of=as_of,
        through_day=r.end - timedelta(days=1) if r.end > period.start else None,
        actual=q4(r.value.value),
        numerator=q4(r.value.numerator),
        denominator=q4(r.value.denominator),
        sample=r.value.sample,
        working_days_elapsed=r.working_days_elapsed,
        working_days_total=r.working_days_total,
        closed_months=r.closed_months,
        adjusted=q4(r.adjusted),
        adjustments=r.adjustments,
    )
    if r.version is None or r.pace is None:
        # No target in force (none set, or none yet at as_of): how far the period is
        # still answers, by working days.
        total = r.working_days_total or 0
        if total > 0 and r.working_days_elapsed is not None:
            out.elapsed_share = q4(Decimal(r.working_days_elapsed) / Decimal(total))
            out.expected_method = "working_days"
        return out
    v = r.version
    out.target = q4(Decimal(v.target))
    out.baseline = q4(Decimal(v.baseline)) if v.baseline is not None else None
    out.stretch = q4(Decimal(v.stretch)) if v.stretch is not None else None
    out.target_id = r.target_id
    out.target_version = v.version
    out.expected = q4(r.pace.expected)
    out.expected_method = r.pace.expected_method
    out.elapsed_share = q4(r.pace.elapsed_share)
    out.pace = q4(r.pace.pace)
    out.projection_linear = q4(r.pace.projection_linear)
    out.projection_seasonal = q4(r.pace.projection_seasonal)
    out.status = r.pace.status
    return out
