"""Progress of a KPI for a scope and a period, as of a moment (api and scoring both use it).

The orchestration of the read model: it reads roll-ups, targets, the org chart and the
calendar through the repositories next to it and leaves the arithmetic to
:mod:`.evaluation` and :mod:`paceline.shared.kpi.pace`.

``actual`` counts the tenant-local days that began before ``as_of`` (facts are per day);
the target is the version in force at ``as_of``; expected, pace, projections and status
come from :mod:`paceline.shared.kpi.pace` with the tenant's work calendar.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.context import close_book, find_kpi, tenant_calendar, tenant_thresholds
from paceline.shared.db.models import TargetVersion, Tenant
from paceline.shared.errors import FieldError, InvalidInput, NotFound
from paceline.shared.i18n import Invalid, msg
from paceline.shared.kpi.calendar import WorkCalendar
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.closes import CloseBook
from paceline.shared.kpi.pace import PaceResult, seasonal_curve, seasonal_share
from paceline.shared.kpi.periods import Period, parse_period, period_of
from paceline.shared.kpi.values import KpiValue, kpi_value, units_value
from paceline.shared.readmodel import rollups as repo
from paceline.shared.readmodel import targets as targets_repo
from paceline.shared.readmodel.evaluation import (
    counted_days_end,
    is_additive,
    measure_plan,
    pace_of,
)
from paceline.shared.readmodel.org import team_ids
from paceline.shared.readmodel.scopes import Scope

# How many earlier periods of the same kind teach the seasonal curve.
HISTORY_PERIODS = {"week": 8, "month": 12, "quarter": 4, "year": 2}
# Quarters are shaped by the months in them (a fourth quarter builds up to a December
# push, a first one dips at the Spring Festival): their curve comes from the same
# quarter of this many earlier years, and from the latest quarters only without those.
SAME_QUARTER_YEARS = 2


def parse_period_or_422(key: str, tenant: Tenant, field: str = "period") -> Period:
    """A period of the tenant's calendar, or 422 naming the field."""
    try:
        return parse_period(key, fiscal_year_start_month=tenant.fiscal_year_start_month)
    except Invalid as exc:
        raise InvalidInput(
            msg("periods.invalid", reason=exc.msg), fields=[FieldError(field, exc.msg)]
        ) from None


async def kpi_or_404(session: AsyncSession, tenant_id: str, key: str) -> KpiDefinition:
    """A KPI the tenant can use, or 404."""
    kpi = await find_kpi(session, tenant_id=tenant_id, key=key)
    if kpi is None:
        raise NotFound(msg("progress.unknown_kpi", kpi=key))
    return kpi


async def kpi_value_for(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    scope: Scope,
    start: date,
    end: date,
    calendar: WorkCalendar,
    teams: Sequence[str] | None = None,
    known: datetime | None = None,
) -> KpiValue:
    """The KPI's value for a scope over the days [start, end), as known at ``known``
    (None: now)."""
    if teams is None and scope.kind == "team":
        teams = await team_ids(session, tenant_id=tenant.id, scope=scope)
    plan = measure_plan(kpi)
    totals = await repo.measure_totals(
        session,
        tenant_id=tenant.id,
        kpi=kpi.key,
        start=start,
        end=end,
        rep_id=scope.id if scope.kind == "rep" else None,
        team_ids=teams,
        value_measures=plan.value_measures,
        distinct_measures=plan.distinct_measures,
        pair_measures=plan.pair_measures,
        pair_days=calendar.working_day_list(start, end) if plan.working_day_share else None,
        known=known,
    )
    rep_days = None
    if plan.working_day_share:
        if scope.kind == "rep":
            rep_days = calendar.working_days(start, end)
        else:
            spans = await repo.reps_in_scope(
                session,
                tenant_id=tenant.id,
                start=start,
                end=end,
                team_ids=teams,
                kpi=kpi.key,
                known=known,
            )
            rep_days = sum(calendar.working_days(lo, hi) for _r, lo, hi in spans)
    return kpi_value(kpi.formula, totals, rep_working_days=rep_days)


async def values_by_rep(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    rep_ids: Sequence[str],
    start: date,
    end: date,
    calendar: WorkCalendar,
    known: datetime | None = None,
) -> dict[str, KpiValue]:
    """One KPI's value for each of many reps over the days [start, end) (one query per
    table); a rep without facts gets the formula's empty value."""
    plan = measure_plan(kpi)
    totals = await repo.totals_by_rep(
        session,
        tenant_id=tenant.id,
        kpi=kpi.key,
        start=start,
        end=end,
        rep_ids=rep_ids,
        value_measures=plan.value_measures,
        distinct_measures=plan.distinct_measures,
        pair_measures=plan.pair_measures,
        pair_days=calendar.working_day_list(start, end) if plan.working_day_share else None,
        known=known,
    )
    working = calendar.working_days(start, end) if plan.working_day_share else None
    return {
        rep: kpi_value(kpi.formula, totals.get(rep, {}), rep_working_days=working)
        for rep in rep_ids
    }


async def seasonal_curve_of(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    scope: Scope,
    teams: Sequence[str] | None,
    period: Period,
    calendar: WorkCalendar,
    known: datetime | None = None,
) -> list[Decimal] | None:
    """History's cumulative curve for the period kind (None when it cannot be learned).

    The periods of the same kind before ``period`` (``HISTORY_PERIODS``) — for a quarter,
    the same quarter of earlier years first (``SAME_QUARTER_YEARS``) — their daily units
    by working day, folded into one curve by :func:`seasonal_curve`. Additive value KPIs
    only: a distinct count or a ratio has no cumulative share.
    """
    if not is_additive(kpi):
        return None
    recent: list[Period] = []
    cursor = period
    for _ in range(HISTORY_PERIODS[period.kind]):
        cursor = _previous(cursor, tenant)
        recent.append(cursor)
    choices = [recent]
    if period.kind == "quarter":
        same = [_years_before(period, n, tenant) for n in range(1, SAME_QUARTER_YEARS + 1)]
        choices.insert(0, same)
    first = min(p.start for c in choices for p in c)
    daily = await repo.daily_units(
        session,
        tenant_id=tenant.id,
        kpi=kpi.key,
        measure=0,
        start=first,
        end=period.start,
        rep_id=scope.id if scope.kind == "rep" else None,
        team_ids=teams,
        known=known,
    )
    for past in choices:
        series = []
        for p in past:
            values = {d: Decimal(u) for d, u in daily.items() if p.contains(d)}
            series.append((calendar.working_day_list(p.start, p.end), values))
        curve = seasonal_curve(series)
        if curve is not None:
            return curve
    return None


def _years_before(period: Period, years: int, tenant: Tenant) -> Period:
    """The period of the same kind that started ``years`` years before ``period``."""
    start = period.start
    return period_of(
        start.replace(year=start.year - years),
        period.kind,
        fiscal_year_start_month=tenant.fiscal_year_start_month,
    )


def _previous(period: Period, tenant: Tenant) -> Period:
    return period_of(
        period.start - timedelta(days=1),
        period.kind,
        fiscal_year_start_month=tenant.fiscal_year_start_month,
    )


async def _closes_into(
    session: AsyncSession,
    result: ProgressResult,
    *,
    book: CloseBook,
    tenant: Tenant,
    teams: Sequence[str] | None,
) -> None:
    """The period's closed months (at the knowledge cut) and, for additive KPIs, the
    part of actual booked into it from closed months (docs/KPIS.md, "Month close")."""
    period, scope = result.period, result.scope
    result.closed_months = book.closed_months(period, result.known)
    if is_additive(result.kpi):
        units, count = await repo.adjusted_units(
            session,
            tenant_id=tenant.id,
            kpi=result.kpi.key,
            measure=0,
            start=period.start,
            end=result.end,
            rep_id=scope.id if scope.kind == "rep" else None,
            team_ids=teams,
            known=result.known,
        )
        if count:
            result.adjusted = units_value(result.kpi.formula, units)
            result.adjustments = count


def pace_method(tenant: Tenant) -> str:
    """``working_days`` (default) or ``seasonal``."""
    return str((tenant.options or {}).get("pace_method", "working_days"))


@dataclass(slots=True)
class ProgressResult:
    """Where a KPI stands for a scope and period at ``as_of`` (unquantised)."""

    kpi: KpiDefinition
    scope: Scope
    period: Period
    as_of: datetime
    end: date  # exclusive end of the counted days
    value: KpiValue
    target_id: int | None = None
    version: TargetVersion | None = None
    pace: PaceResult | None = None
    working_days_elapsed: int | None = None
    working_days_total: int | None = None
    known: datetime | None = None  # the knowledge cut (None: everything known now)
    closed_months: list[str] = field(default_factory=list)  # the period's closed months
    adjusted: Decimal | None = None  # the part of actual booked from closed months
    adjustments: int = 0  # how many adjustments that part is made of

    @property
    def status(self) -> str:
        """The pace status, or no_target."""
        return self.pace.status if self.pace is not None else "no_target"


async def evaluate(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    scope: Scope,
    period: Period,
    as_of: datetime,
    calendar: WorkCalendar | None = None,
    known: datetime | None = None,
) -> ProgressResult:
    """Actual, the target version in force, expected, pace, projections and status.

    ``known`` cuts the facts to what Paceline knew then (an explicit ``as_of``); None
    reads everything known now. Working days are answered with or without a target.
    """
    tz = ZoneInfo(tenant.timezone)
    end = counted_days_end(period, as_of, tz)
    calendar = calendar or await tenant_calendar(session, tenant=tenant)
    teams = await team_ids(session, tenant_id=tenant.id, scope=scope)
    value = await kpi_value_for(
        session,
        tenant=tenant,
        kpi=kpi,
        scope=scope,
        start=period.start,
        end=end,
        calendar=calendar,
        teams=teams,
        known=known,
    )
    result = ProgressResult(
        kpi=kpi, scope=scope, period=period, as_of=as_of, end=end, value=value, known=known
    )
    result.working_days_elapsed = calendar.working_days(period.start, end)
    result.working_days_total = calendar.working_days(period.start, period.end)
    book = close_book(tenant)
    if book:
        await _closes_into(session, result, book=book, tenant=tenant, teams=teams)
    target_row = await targets_repo.find(
        session, tenant_id=tenant.id, kpi=kpi.key, scope=str(scope), period=period.key
    )
    if target_row is None:
        return result
    version = await targets_repo.version_in_force(
        session, tenant_id=tenant.id, target_id=target_row.id, at=as_of
    )
    if version is None:
        return result
    target = Decimal(version.target)
    thresholds = tenant_thresholds(tenant)
    elapsed = result.working_days_elapsed
    total = result.working_days_total
    share = None
    if not kpi.is_ratio and pace_method(tenant) == "seasonal":
        curve = await seasonal_curve_of(
            session,
            tenant=tenant,
            kpi=kpi,
            scope=scope,
            teams=teams,
            period=period,
            calendar=calendar,
            known=known,
        )
        # The share of the period's total that history says is normally reached by now.
        share = seasonal_share(curve, elapsed, total) if curve is not None else None
    pace = pace_of(
        kpi,
        value,
        target=target,
        thresholds=thresholds,
        elapsed_working_days=elapsed,
        total_working_days=total,
        seasonal_share=share,
    )
    result.target_id = target_row.id
    result.version = version
    result.pace = pace
    return result
