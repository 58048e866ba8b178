"""Progress of a KPI for a scope and a period, as of a moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.progress import repository as repo
from paceline.api.progress.schemas import PeriodOut, ProgressOut
from paceline.shared.db.models import Tenant
from paceline.shared.errors import FieldError, InvalidInput, NotFound
from paceline.shared.kpi.calendar import WorkCalendar
from paceline.shared.kpi.catalog import BUILTIN_BY_KEY, KpiDefinition
from paceline.shared.kpi.periods import Period, parse_period
from paceline.shared.kpi.values import KpiValue, kpi_value

_Q = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class Scope:
    """Company, a team (with its sub-teams), or one rep."""

    kind: str
    id: str | None

    def __str__(self) -> str:
        return self.kind if self.id is None else f"{self.kind}:{self.id}"


def parse_scope(text: str) -> Scope:
    """``company``, ``team:ID`` or ``rep:ID``."""
    if text == "company":
        return Scope("company", None)
    kind, sep, ident = text.partition(":")
    if sep and kind in {"team", "rep"} and ident:
        return Scope(kind, ident)
    raise InvalidInput("bad scope", fields=[FieldError("scope", "use company, team:ID or rep:ID")])


def counted_days_end(period: Period, as_of: datetime, tz: ZoneInfo) -> date:
    """The exclusive end of the days counted at ``as_of``: whole days that began before it."""
    local = as_of.astimezone(tz)
    end = local.date() + (timedelta(days=1) if local.time() != time(0) else timedelta(0))
    return max(period.start, min(period.end, end))


def _kpi(key: str) -> KpiDefinition:
    kpi = BUILTIN_BY_KEY.get(key)
    if kpi is None:
        raise NotFound(f"unknown KPI {key!r}; GET /v1/kpis lists them")
    return kpi


def _q(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(_Q)


async def kpi_value_for(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    scope: Scope,
    start: date,
    end: date,
    calendar: WorkCalendar,
) -> KpiValue:
    """The KPI's value for a scope over the days [start, end)."""
    team_ids: list[str] | None = None
    if scope.kind == "team":
        assert scope.id is not None
        parents = await repo.team_parents(session, tenant_id=tenant.id)
        if scope.id not in parents:
            raise NotFound(f"no team {scope.id!r}")
        team_ids = repo.subtree(parents, scope.id)
    shape = kpi.formula.shape
    distinct = [
        i
        for i, m in enumerate(kpi.formula.measures)
        if m.kind == "distinct" and shape != "working_day_share"
    ]
    pairs = [0] if shape == "working_day_share" else []
    totals = await repo.measure_totals(
        session,
        tenant_id=tenant.id,
        kpi=kpi.key,
        start=start,
        end=end,
        rep_id=scope.id if scope.kind == "rep" else None,
        team_ids=team_ids,
        distinct_measures=distinct,
        pair_measures=pairs,
    )
    rep_days = None
    if shape == "working_day_share":
        if scope.kind == "rep":
            rep_days = calendar.working_days(start, end)
        else:
            spans = await repo.reps_in_scope(
                session, tenant_id=tenant.id, start=start, end=end, team_ids=team_ids
            )
            rep_days = sum(calendar.working_days(lo, hi) for _r, lo, hi in spans)
    return kpi_value(kpi.formula, totals, rep_working_days=rep_days)


async def progress(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi_key: str,
    scope_text: str,
    period_key: str,
    as_of: datetime,
) -> ProgressOut:
    """Actual (and, once targets exist, expected, pace, projection, status)."""
    kpi = _kpi(kpi_key)
    scope = parse_scope(scope_text)
    try:
        period = parse_period(period_key, fiscal_year_start_month=tenant.fiscal_year_start_month)
    except ValueError as exc:
        raise InvalidInput(str(exc), fields=[FieldError("period", str(exc))]) from None
    if as_of.tzinfo is None:
        raise InvalidInput(
            "as_of needs an offset", fields=[FieldError("as_of", "must include a UTC offset")]
        )
    tz = ZoneInfo(tenant.timezone)
    end = counted_days_end(period, as_of, tz)
    value = await kpi_value_for(
        session,
        tenant=tenant,
        kpi=kpi,
        scope=scope,
        start=period.start,
        end=end,
        calendar=WorkCalendar(),
    )
    return ProgressOut(
        kpi=kpi.key,
        names=kpi.names(),
        unit=kpi.unit,
        currency=tenant.currency if kpi.unit == "currency" else None,
        direction=kpi.direction,
        scope=str(scope),
        period=PeriodOut(key=period.key, kind=period.kind, start=period.start, end=period.end),
        as_of=as_of,
        through_day=end - timedelta(days=1) if end > period.start else None,
        actual=_q(value.value),
        numerator=_q(value.numerator),
        denominator=_q(value.denominator),
        sample=value.sample,
    )
