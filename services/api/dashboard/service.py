"""The dashboard's view models: a tenant's context, a scope's KPI rows, a KPI's daily curve.

The numbers are the API's own: an overview row is exactly what ``GET /v1/progress``
answers for the KPI (same function), and a series ends on the progress ``actual``, with the
expected curve computed the way :mod:`paceline.shared.kpi.pace` computes ``expected``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paceline import __version__
from paceline.api.closes.service import adjustment_out
from paceline.api.dashboard import repository as repo
from paceline.api.dashboard.schemas import (
    AdjustmentItem,
    AdjustmentsListOut,
    ChangesOut,
    ContextOut,
    Features,
    KpiBrief,
    OverviewOut,
    PeriodsOut,
    RepBrief,
    SeriesOut,
    TeamBrief,
    TemplateBrief,
)
from paceline.api.org.service import get_org
from paceline.api.progress.schemas import PeriodOut
from paceline.api.progress.service import progress as progress_of
from paceline.api.settings.service import settings_of
from paceline.api.templates.service import list_templates
from paceline.shared.alert_options import alert_options
from paceline.shared.auth import Principal
from paceline.shared.db.context import close_book, tenant_calendar, tenant_kpis
from paceline.shared.db.models import Tenant
from paceline.shared.kpi.calendar import WorkCalendar
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.pace import seasonal_share
from paceline.shared.kpi.periods import Period, PeriodKind, period_of
from paceline.shared.kpi.values import MeasureTotal, measure_value, units_value
from paceline.shared.readmodel import rollups
from paceline.shared.readmodel import targets as targets_repo
from paceline.shared.readmodel.evaluation import counted_days_end, is_additive, q4
from paceline.shared.readmodel.org import team_ids
from paceline.shared.readmodel.progress import (
    evaluate,
    kpi_or_404,
    kpi_value_for,
    seasonal_curve_of,
)
from paceline.shared.readmodel.scopes import Scope

CATEGORY_ORDER = {"result": 0, "process": 1, "capability": 2}
HOW_MANY = {"year": 3, "quarter": 6, "month": 13, "week": 8}
POLL_INTERVAL_S = 5.0


def _fractionq4(value: Fraction) -> Decimal | None:
    return q4(Decimal(value.numerator) / Decimal(value.denominator))


def _brief(kpi: KpiDefinition) -> KpiBrief:
    return KpiBrief(
        key=kpi.key,
        names=kpi.names(),
        unit=kpi.unit,
        direction=kpi.direction,
        category=kpi.category,
        cumulative=not kpi.is_ratio,
    )


def _kpi_order(kpis: Sequence[KpiDefinition]) -> dict[str, int]:
    ranked = sorted(enumerate(kpis), key=lambda p: (CATEGORY_ORDER.get(p[1].category, 9), p[0]))
    return {k.key: i for i, (_n, k) in enumerate(ranked)}


def focus_month(
    today: date, *, calendar: WorkCalendar, fiscal_year_start_month: int, min_share: float
) -> str:
    """The month the dashboard opens on: the current one once ``min_share`` of its working
    days have passed (today included), the last complete one before that.

    Early in a month every rep is "below baseline" and ranks are noise; the same share
    holds back lag warnings (the tenant's ``min_elapsed_share``).
    """
    month = period_of(today, "month", fiscal_year_start_month=fiscal_year_start_month)
    total = calendar.working_days(month.start, month.end)
    elapsed = calendar.working_days(month.start, today + timedelta(days=1))
    if total and elapsed / total >= min_share:
        return month.key
    before = month.start - timedelta(days=1)
    return period_of(before, "month", fiscal_year_start_month=fiscal_year_start_month).key


def _periods_around(today: date, fiscal_year_start_month: int, *, focus: str) -> PeriodsOut:
    out: dict[PeriodKind, list[str]] = {}
    kinds: tuple[PeriodKind, ...] = ("year", "quarter", "month", "week")
    for kind in kinds:
        keys: list[str] = []
        day = today
        for _ in range(HOW_MANY[kind]):
            p = period_of(day, kind, fiscal_year_start_month=fiscal_year_start_month)
            keys.append(p.key)
            day = p.start - timedelta(days=1)
        out[kind] = keys
    return PeriodsOut(
        today=today,
        year=out["year"],
        quarter=out["quarter"],
        month=out["month"],
        week=out["week"],
        focus_month=focus,
    )


def within(out: ContextOut, principal: Principal) -> ContextOut:
    """The context cut to the caller: the teams and reps within their reach, and the
    acknowledge button only for those who act (not viewers, BI or read-only keys)."""
    if not principal.acts:
        features = out.features.model_copy(update={"alert_acknowledge": False})
        out = out.model_copy(update={"features": features})
    reach = principal.reach
    if reach is None:
        return out
    return out.model_copy(
        update={
            "teams": [t for t in out.teams if t.id in reach.teams],
            "reps": [r for r in out.reps if r.id in reach.reps],
        }
    )


async def context(
    session: AsyncSession,
    *,
    tenant: Tenant,
    scopes: Collection[str],
    route_paths: Collection[str],
    now: datetime,
) -> ContextOut:
    """Tenant settings, the periods around today, the org chart, KPIs, templates, features."""
    settings = settings_of(tenant)
    today = now.astimezone(ZoneInfo(tenant.timezone)).date()
    org = await get_org(session, tenant_id=tenant.id)
    kpis = await tenant_kpis(session, tenant_id=tenant.id)
    order = _kpi_order(kpis)
    templates = await list_templates(session, tenant_id=tenant.id)
    focus = focus_month(
        today,
        calendar=await tenant_calendar(session, tenant=tenant),
        fiscal_year_start_month=tenant.fiscal_year_start_month,
        min_share=alert_options(tenant).min_elapsed_share,
    )
    return ContextOut(
        tenant=tenant.id,
        name=tenant.name,
        timezone=tenant.timezone,
        currency=tenant.currency,
        locale=settings.locale,
        scopes=sorted(scopes),
        periods=_periods_around(today, tenant.fiscal_year_start_month, focus=focus),
        teams=[
            TeamBrief(id=t.id, name=t.name, parent_id=t.parent_id) for t in org.teams if t.active
        ],
        reps=[
            RepBrief(id=r.id, name=r.name, team_id=r.team_id, role=r.role)
            for r in org.reps
            if r.active
        ],
        kpis=[_brief(k) for k in sorted(kpis, key=lambda k: order[k.key])],
        templates=[
            TemplateBrief(key=t.key, names=t.names, items={i.kpi: i.weight for i in t.items})
            for t in templates
        ],
        features=Features(
            alerts="/v1/alerts" in route_paths,
            alert_acknowledge=any(
                p.startswith("/v1/alerts/") and p.endswith("/acknowledge") for p in route_paths
            ),
            reviews=any(p.startswith("/v1/reviews") for p in route_paths),
            decompose="/v1/targets/decompose" in route_paths,
        ),
        poll_interval_s=POLL_INTERVAL_S,
        version=__version__,
    )


async def overview(
    session: AsyncSession,
    *,
    tenant: Tenant,
    scope: Scope,
    period: Period,
    as_of: datetime,
    known: datetime | None = None,
    kpi_keys: Sequence[str] | None,
) -> OverviewOut:
    """Progress of every KPI with a target for the scope and period (or of ``kpi_keys``;
    without any target, of the role templates' KPIs)."""
    await team_ids(session, tenant_id=tenant.id, scope=scope)  # 404 for an unknown team
    kpis = await tenant_kpis(session, tenant_id=tenant.id)
    order = _kpi_order(kpis)
    if kpi_keys:
        keys = list(dict.fromkeys(kpi_keys))
    else:
        targets = await targets_repo.search(
            session,
            tenant_id=tenant.id,
            kpi=None,
            scope=str(scope),
            period=period.key,
            parent_id=None,
            after_id=None,
            limit=1000,
        )
        keys = sorted({t.kpi for t in targets if t.kpi in order}, key=lambda k: order[k])
        if not keys:
            # No plan yet: the role templates' KPIs, so the actuals show from the start.
            templates = await list_templates(session, tenant_id=tenant.id)
            keys = sorted(
                {i.kpi for t in templates for i in t.items if i.kpi in order},
                key=lambda k: order[k],
            )
    rows = [
        await progress_of(
            session,
            tenant=tenant,
            kpi=await kpi_or_404(session, tenant.id, key),
            scope=scope,
            period=period,
            as_of=as_of,
            known=known,
        )
        for key in keys
    ]
    return OverviewOut(
        scope=str(scope),
        period=PeriodOut(key=period.key, kind=period.kind, start=period.start, end=period.end),
        as_of=as_of,
        rows=rows,
    )


def _sample_ends(period: Period, end: date) -> list[date]:
    """Exclusive ends of the points a non-additive KPI is evaluated at (at most ~35)."""
    days = (end - period.start).days
    if days <= 0:
        return []
    step = 1 if period.days <= 31 else 7 if period.days <= 100 else 14
    ends = [period.start + timedelta(days=i) for i in range(step, days, step)]
    return [*ends, end]


async def series(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    scope: Scope,
    period: Period,
    as_of: datetime,
    known: datetime | None = None,
) -> SeriesOut:
    """The KPI day by day over the period: actual so far, expected curve, target lines."""
    calendar = await tenant_calendar(session, tenant=tenant)
    result = await evaluate(
        session,
        tenant=tenant,
        kpi=kpi,
        scope=scope,
        period=period,
        as_of=as_of,
        calendar=calendar,
        known=known,
    )
    teams = await team_ids(session, tenant_id=tenant.id, scope=scope)
    days = [period.start + timedelta(days=i) for i in range(period.days)]
    actual: list[Decimal | None] = [None] * len(days)
    end = result.end
    if is_additive(kpi):
        daily = await rollups.daily_units(
            session,
            tenant_id=tenant.id,
            kpi=kpi.key,
            measure=0,
            start=period.start,
            end=end,
            rep_id=scope.id if scope.kind == "rep" else None,
            team_ids=teams,
            known=known,
        )
        running = 0
        for i, day in enumerate(days):
            if day >= end:
                break
            running += daily.get(day, 0)
            so_far = measure_value(kpi.formula, 0, MeasureTotal(units=running))
            actual[i] = q4(so_far * kpi.formula.factor)
    else:
        for point in _sample_ends(period, end):
            point_value = await kpi_value_for(
                session,
                tenant=tenant,
                kpi=kpi,
                scope=scope,
                start=period.start,
                end=point,
                calendar=calendar,
                teams=teams,
                known=known,
            )
            actual[(point - period.start).days - 1] = q4(point_value.value)
    expected: list[Decimal | None] = [None] * len(days)
    version = result.version
    target = Decimal(version.target) if version is not None else None
    method = result.pace.expected_method if result.pace is not None else None
    if target is not None:
        if kpi.is_ratio:
            expected = [q4(target)] * len(days)
        else:
            total = calendar.working_days(period.start, period.end)
            curve = None
            if method == "seasonal":
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
            elapsed = 0
            for i, day in enumerate(days):
                elapsed += 1 if calendar.is_working_day(day) else 0
                if curve is not None:
                    share = Fraction(seasonal_share(curve, elapsed, total))
                else:
                    share = Fraction(elapsed, total) if total > 0 else Fraction(1)
                expected[i] = _fractionq4(Fraction(target) * share)
    return SeriesOut(
        kpi=kpi.key,
        names=kpi.names(),
        unit=kpi.unit,
        currency=tenant.currency if kpi.unit == "currency" else None,
        direction=kpi.direction,
        scope=str(scope),
        period=PeriodOut(key=period.key, kind=period.kind, start=period.start, end=period.end),
        as_of=as_of,
        through_day=end - timedelta(days=1) if end > period.start else None,
        cumulative=not kpi.is_ratio,
        days=days,
        actual=actual,
        expected=expected,
        target=q4(target),
        baseline=q4(Decimal(version.baseline))
        if version is not None and version.baseline is not None
        else None,
        stretch=q4(Decimal(version.stretch))
        if version is not None and version.stretch is not None
        else None,
        expected_method=method,
    )


async def adjustments(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    scope: Scope,
    period: Period,
    as_of: datetime,
    known: datetime | None = None,
    limit: int = 500,
) -> AdjustmentsListOut:
    """The adjustments from closed months that a progress row's ``adjusted`` adds up:
    booked into the period's days counted at ``as_of``, for the scope, known by ``known``."""
    teams = await team_ids(session, tenant_id=tenant.id, scope=scope)
    out = AdjustmentsListOut(
        kpi=kpi.key,
        scope=str(scope),
        period=PeriodOut(key=period.key, kind=period.kind, start=period.start, end=period.end),
        as_of=as_of,
        total=None,
        count=0,
        items=[],
    )
    if not close_book(tenant) or not is_additive(kpi):
        return out  # progress rows carry no ``adjusted`` then either
    end = counted_days_end(period, as_of, ZoneInfo(tenant.timezone))
    rep_id = scope.id if scope.kind == "rep" else None
    units, count = await rollups.adjusted_units(
        session,
        tenant_id=tenant.id,
        kpi=kpi.key,
        measure=0,
        start=period.start,
        end=end,
        rep_id=rep_id,
        team_ids=teams,
        known=known,
    )
    if not count:
        return out
    rows = await rollups.adjusted_rows(
        session,
        tenant_id=tenant.id,
        kpi=kpi.key,
        measure=0,
        start=period.start,
        end=end,
        rep_id=rep_id,
        team_ids=teams,
        known=known,
        limit=limit,
    )

    def in_kpi(value: int) -> Decimal:
        return units_value(kpi.formula, value)

    out.total = q4(in_kpi(units))
    out.count = count
    out.items = [
        AdjustmentItem(**adjustment_out(a).model_dump(), amount=q4(in_kpi(a.value)) or Decimal(0))
        for a in rows
    ]
    return out


async def changes(
    session: AsyncSession,
    *,
    tenant: Tenant,
    group_id: str,
    topic: str,
    now: datetime,
) -> ChangesOut:
    """A short token that differs whenever facts, alerts, targets, rebuilds or closes changed."""
    marks = await repo.change_marks(session, tenant_id=tenant.id, group_id=group_id, topic=topic)
    digest = hashlib.sha256(repr((tenant.id, *marks)).encode()).hexdigest()[:20]
    return ChangesOut(token=digest, as_of=now)
