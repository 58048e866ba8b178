"""Progress of every target of a current period, as ``/v1/progress`` shows it, for the
BI SQL views (:mod:`paceline.shared.db.models_bi`).

Run by the scheduler with the lag pass (once per ``lag_every_minutes`` slot, and after
events of the tenant were scored), only for tenants with a BI login
(``tenants.options.bi_sql``, set by ``paceline bi grant``). Each refresh replaces the
tenant's rows in one transaction, so a BI query sees one consistent ``as_of``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.scoring.alerts import repository as alerts_repo
from paceline.scoring.bi import repository as repo
from paceline.shared.db.bi_schema import BI_OPTION
from paceline.shared.db.context import find_kpi
from paceline.shared.db.models import Tenant
from paceline.shared.db.models_bi import BiProgress
from paceline.shared.errors import NotFound
from paceline.shared.kpi.calendar import WorkCalendar
from paceline.shared.kpi.periods import parse_period
from paceline.shared.readmodel.evaluation import q4
from paceline.shared.readmodel.progress import evaluate
from paceline.shared.readmodel.scopes import parse_scope


def wanted(tenant: Tenant) -> bool:
    """Whether the tenant's progress is kept for BI."""
    return bool((tenant.options or {}).get(BI_OPTION))


async def refresh(
    session: AsyncSession, *, tenant: Tenant, now: datetime, calendar: WorkCalendar
) -> int:
    """Replace the tenant's snapshot with progress at ``now``; the number of rows."""
    today = now.astimezone(ZoneInfo(tenant.timezone)).date()
    rows = []
    for target in await alerts_repo.current_targets(session, tenant_id=tenant.id, day=today):
        kpi = await find_kpi(session, tenant_id=tenant.id, key=target.kpi)
        if kpi is None:
            continue
        period = parse_period(target.period, fiscal_year_start_month=tenant.fiscal_year_start_month)
        try:
            r = await evaluate(
                session,
                tenant=tenant,
                kpi=kpi,
                scope=parse_scope(target.scope),
                period=period,
                as_of=now,
                calendar=calendar,
            )
        except NotFound:  # a scope that left the org chart
            continue
        v, pace = r.version, r.pace
        rows.append(
            BiProgress(
                tenant_id=tenant.id,
                target_id=target.id,
                kpi=target.kpi,
                scope=target.scope,
                period=target.period,
                period_start=period.start,
                period_end=period.end,
                target_version=v.version if v is not None else None,
                as_of=now,
                actual=q4(r.value.value),
                target=q4(Decimal(v.target)) if v is not None else None,
                baseline=q4(Decimal(v.baseline)) if v and v.baseline is not None else None,
                stretch=q4(Decimal(v.stretch)) if v and v.stretch is not None else None,
                expected=q4(pace.expected) if pace is not None else None,
                pace=q4(pace.pace) if pace is not None else None,
                projection_linear=q4(pace.projection_linear) if pace is not None else None,
                status=r.status,
                sample=r.value.sample,
                working_days_elapsed=r.working_days_elapsed,
                working_days_total=r.working_days_total,
            )
        )
    await repo.replace(session, tenant_id=tenant.id, rows=rows)
    return len(rows)
