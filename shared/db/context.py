"""What services need to know about a tenant beyond its row: KPIs, FX rates, calendar."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Literal, cast
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import CalendarDay, FxRate, KpiDefinitionRow, Tenant
from paceline.shared.kpi.calendar import WorkCalendar, builtin_calendar
from paceline.shared.kpi.catalog import BUILTIN_BY_KEY, BUILTIN_KPIS, KpiDefinition
from paceline.shared.kpi.closes import CloseBook
from paceline.shared.kpi.formula import parse_formula
from paceline.shared.kpi.pace import Thresholds
from paceline.shared.kpi.records import FxTable, TenantContext


def definition_from_row(row: KpiDefinitionRow) -> KpiDefinition:
    """A stored custom KPI as a definition."""
    return KpiDefinition(
        key=row.key,
        name_zh=row.name_zh,
        name_en=row.name_en,
        unit=row.unit,  # type: ignore[arg-type]  # validated when stored
        direction=row.direction,  # type: ignore[arg-type]
        category=row.category,  # type: ignore[arg-type]
        formula=parse_formula(row.formula),
        builtin=False,
        min_sample=row.min_sample,
        description_en=row.description_en,
        description_zh=row.description_zh,
        version=row.version,
    )


async def tenant_kpis(session: AsyncSession, *, tenant_id: str) -> list[KpiDefinition]:
    """Built-in KPIs and the tenant's active custom ones."""
    rows = await session.scalars(
        select(KpiDefinitionRow)
        .where(KpiDefinitionRow.tenant_id == tenant_id, KpiDefinitionRow.active.is_(True))
        .order_by(KpiDefinitionRow.key)
    )
    return [*BUILTIN_KPIS, *(definition_from_row(r) for r in rows)]


async def find_kpi(session: AsyncSession, *, tenant_id: str, key: str) -> KpiDefinition | None:
    """A KPI the tenant can use (built-in or active custom), or None."""
    if key in BUILTIN_BY_KEY:
        return BUILTIN_BY_KEY[key]
    row = await session.get(KpiDefinitionRow, (tenant_id, key))
    if row is None or not row.active:
        return None
    return definition_from_row(row)


def tenant_thresholds(tenant: Tenant) -> Thresholds:
    """The tenant's pace thresholds (defaults where unset)."""
    raw = (tenant.options or {}).get("pace_thresholds") or {}
    default = Thresholds()
    return Thresholds(
        ahead=Decimal(str(raw.get("ahead", default.ahead))),
        on_track=Decimal(str(raw.get("on_track", default.on_track))),
        behind=Decimal(str(raw.get("behind", default.behind))),
    )


async def fx_table(session: AsyncSession, *, tenant_id: str) -> FxTable:
    """All of a tenant's exchange rates."""
    rows = await session.execute(
        select(FxRate.currency, FxRate.day, FxRate.rate)
        .where(FxRate.tenant_id == tenant_id)
        .order_by(FxRate.currency, FxRate.day)
    )
    series: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
    for currency, day, rate in rows.all():
        series[currency].append((day, Decimal(rate)))
    return FxTable(rates=dict(series))


async def tenant_context(session: AsyncSession, *, tenant: Tenant) -> TenantContext:
    """Time zone, currency and rates: what the KPI code needs to place and value events."""
    return TenantContext(
        tenant_id=tenant.id,
        timezone=ZoneInfo(tenant.timezone),
        currency=tenant.currency,
        fx=await fx_table(session, tenant_id=tenant.id),
    )


def calendar_base(tenant: Tenant) -> str:
    """The built-in calendar a tenant starts from (``cn`` unless set)."""
    return str((tenant.options or {}).get("calendar", "cn"))


def close_policy(tenant: Tenant) -> str:
    """What a change to a closed month does for this tenant: ``adjust`` unless set."""
    return str((tenant.options or {}).get("close_policy", "adjust"))


def close_book(tenant: Tenant) -> CloseBook:
    """The tenant's month closes, for routing and for reads."""
    return CloseBook.of(tenant.closes, ZoneInfo(tenant.timezone))


async def tenant_calendar(session: AsyncSession, *, tenant: Tenant) -> WorkCalendar:
    """The tenant's work calendar: the built-in base plus the tenant's changes."""
    rows: Sequence[CalendarDay] = (
        await session.scalars(select(CalendarDay).where(CalendarDay.tenant_id == tenant.id))
    ).all()
    changes = [(r.day, cast(Literal["holiday", "workday"], r.kind), r.name) for r in rows]
    return builtin_calendar(calendar_base(tenant)).with_changes(changes)
