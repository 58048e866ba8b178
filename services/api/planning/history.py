"""A KPI's history for a scope, as the planning maths wants it: per month, or per span;
and what decides which history is read (the tenant's today, the same period years earlier).

Shared by the decomposition, suggestion and check services of this domain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Tenant
from paceline.shared.kpi.calendar import WorkCalendar
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.periods import Period, parse_period
from paceline.shared.kpi.planning.common import month_index, month_start
from paceline.shared.kpi.values import units_value
from paceline.shared.readmodel import rollups
from paceline.shared.readmodel.evaluation import is_additive
from paceline.shared.readmodel.progress import kpi_value_for
from paceline.shared.readmodel.scopes import Scope

HISTORY_MONTHS = 36


def additive(kpi: KpiDefinition) -> bool:
    """Whether the KPI's values add up over reps and days (sums, counts, distinct counts)."""
    return kpi.formula.shape == "value"


def tenant_today(tenant: Tenant, now: datetime) -> date:
    """The tenant's local date at ``now``."""
    return now.astimezone(ZoneInfo(tenant.timezone)).date()


def shift_years(period: Period, years: int, fiscal_start: int) -> Period:
    """The same period ``years`` earlier (weeks: 52 weeks per year, same weekdays)."""
    if period.kind == "week":
        start = period.start - timedelta(weeks=52 * years)
        iso = start.isocalendar()
        return parse_period(f"{iso.year}-W{iso.week:02d}")
    key = period.key
    shifted = f"{int(key[:4]) - years}{key[4:]}"
    return parse_period(shifted, fiscal_year_start_month=fiscal_start)


class History:
    """Values of one KPI for one scope over spans of days, with one query where it can."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        tenant: Tenant,
        kpi: KpiDefinition,
        scope: Scope,
        teams: Sequence[str] | None,
        calendar: WorkCalendar,
    ) -> None:
        self.session = session
        self.tenant = tenant
        self.kpi = kpi
        self.scope = scope
        self.teams = teams
        self.calendar = calendar
        self._daily: dict[date, int] | None = None
        self._daily_span: tuple[date, date] | None = None

    async def load(self, start: date, end: date) -> None:
        """Read the daily series of [start, end) once (sum and count KPIs)."""
        if not is_additive(self.kpi) or start >= end:
            return
        self._daily = await rollups.daily_units(
            self.session,
            tenant_id=self.tenant.id,
            kpi=self.kpi.key,
            measure=0,
            start=start,
            end=end,
            rep_id=self.scope.id if self.scope.kind == "rep" else None,
            team_ids=self.teams,
        )
        self._daily_span = (start, end)

    async def value(self, start: date, end: date) -> Decimal:
        """The KPI's value over [start, end) (0 without data)."""
        if start >= end:
            return Decimal(0)
        span = self._daily_span
        if self._daily is not None and span is not None and span[0] <= start and end <= span[1]:
            units = sum(u for d, u in self._daily.items() if start <= d < end)
            return units_value(self.kpi.formula, units)
        v = await kpi_value_for(
            self.session,
            tenant=self.tenant,
            kpi=self.kpi,
            scope=self.scope,
            start=start,
            end=end,
            calendar=self.calendar,
            teams=self.teams,
        )
        return v.value or Decimal(0)

    async def monthly(self, *, cutoff: int, months: int = HISTORY_MONTHS) -> dict[int, Decimal]:
        """Month index -> value, for the ``months`` months before ``cutoff``."""
        first = cutoff - months
        start, end = month_start(first), month_start(cutoff)
        if is_additive(self.kpi):
            await self.load(start, end)
            assert self._daily is not None
            units: dict[int, int] = defaultdict(int)
            for d, u in self._daily.items():
                units[month_index(d)] += u
            return {m: units_value(self.kpi.formula, units.get(m, 0)) for m in range(first, cutoff)}
        return {
            m: await self.value(month_start(m), month_start(m + 1)) for m in range(first, cutoff)
        }
