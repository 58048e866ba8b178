"""Miss drivers: a missed revenue or deals_won target split into what caused it.

revenue = quotes x win rate x average deal (win rate = deals won / quotes); deals won =
quotes x win rate. The planned drivers are the scope's own deals_won and quotes targets
where set, else derived from its ratios over the 12 months before the period (else the
team's, else this period's); each miss says where its plan came from.

:func:`load_driver_data` reads the driver KPIs once through the read model; everything
after it (:class:`DriverData`, :func:`revenue_miss`, :func:`deals_miss`) is pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.reviews.results import missed_driver_rows
from paceline.api.reviews.schemas import AttainmentRow, DriverOut, MissOut
from paceline.api.reviews.steps import ReviewContext
from paceline.shared.db.context import find_kpi
from paceline.shared.i18n import Msg, msg, params_json, render
from paceline.shared.kpi.planning.drivers import DriverEffect, deals_drivers, revenue_drivers
from paceline.shared.readmodel import targets as targets_repo
from paceline.shared.readmodel.evaluation import q4, round4
from paceline.shared.readmodel.progress import kpi_value_for, values_by_rep

DRIVER_KPIS = ("revenue", "deals_won", "quotes")
# Targets of these driver KPIs are the plan when a scope has them.
PLANNED_KPIS = ("deals_won", "quotes")

Figures = dict[str, dict[str, Decimal]]  # kpi -> scope (rep:ID or team:ID) -> value


@dataclass(frozen=True, slots=True)
class DriverData:
    """The driver KPIs per scope (each member ``rep:ID`` and the team ``team:ID``): this
    period's actuals, the 12 months before it, and the deals_won and quotes targets."""

    team: str
    actual: Figures
    history: Figures
    planned: dict[tuple[str, str], Decimal]  # (kpi, scope) -> target in force
    locale: str = "zh-CN"  # the language of the misses' words

    def whose(self, scope: str) -> Msg:
        """``the rep's`` or ``the team's``."""
        return msg("reviews.whose.rep") if scope.startswith("rep:") else msg("reviews.whose.team")

    def ratio(self, scope: str, num: str, den: str) -> tuple[Decimal | None, Msg]:
        """num / den from the scope's last 12 months, else the team's, else this period's;
        and which one it is (``unknown``: None)."""
        sources = (
            (self.history, scope, msg("reviews.source.last_12_months", whose=self.whose(scope))),
            (self.history, self.team, msg("reviews.source.last_12_months", whose=self.whose(""))),
            (self.actual, scope, msg("reviews.source.this_period")),
        )
        for figures, whom, label in sources:
            n = figures[num].get(whom, Decimal(0))
            d = figures[den].get(whom, Decimal(0))
            if d:
                return n / d, label
        return None, msg("reviews.source.unknown")

    def miss(
        self,
        *,
        scope: str,
        kpi: str,
        gap: Decimal,
        formula: Msg,
        drivers: list[DriverOut],
        sources: dict[str, Msg],
    ) -> MissOut:
        """A miss with its words in this data's language (codes and parameters beside)."""
        return MissOut(
            scope=scope,
            kpi=kpi,
            gap=round4(gap),
            formula=render(formula, self.locale),
            formula_code=formula.code,
            drivers=drivers,
            planned_from={k: render(v, self.locale) for k, v in sources.items()},
            planned_from_codes={
                k: {"code": v.code, "params": params_json(v.params)} for k, v in sources.items()
            },
            largest=min(drivers, key=lambda x: x.effect).driver,
        )

    def planned_target(self, scope: str, kpi: str) -> Decimal | None:
        """The scope's target for a driver KPI (deals_won, quotes), if it has one."""
        return self.planned.get((kpi, scope))


def quantized(effects: Sequence[DriverEffect], gap: Decimal) -> list[DriverOut]:
    """Effects rounded to 4 places so that they still add up to the rounded gap."""
    out = []
    running = Decimal(0)
    gap_q = round4(gap)
    for i, e in enumerate(effects):
        eff = gap_q - running if i == len(effects) - 1 else round4(e.effect)
        running += eff
        out.append(
            DriverOut(driver=e.driver, planned=q4(e.planned), actual=q4(e.actual), effect=eff)
        )
    return out


def revenue_miss(data: DriverData, *, scope: str, target: Decimal) -> MissOut:
    """A revenue miss split into quotes, win rate and average deal."""
    r = data.actual["revenue"][scope]
    d = data.actual["deals_won"][scope]
    q = data.actual["quotes"][scope]
    sources: dict[str, Msg] = {}
    planned_d = data.planned_target(scope, "deals_won")
    if planned_d is not None:
        sources["deals_won"] = msg("reviews.planned.deals_target", whose=data.whose(scope))
    else:
        size, src = data.ratio(scope, "revenue", "deals_won")
        planned_d = target / size if size else d
        sources["deals_won"] = msg("reviews.planned.deals_from_average_deal", source=src)
    planned_q, sources["quotes"] = _planned_quotes(
        data,
        scope=scope,
        deals=planned_d,
        deals_label=msg("reviews.planned.planned_deals"),
        actual=q,
    )
    effects = revenue_drivers(
        revenue=r,
        deals=d,
        quotes=q,
        planned_revenue=target,
        planned_deals=planned_d,
        planned_quotes=planned_q,
    )
    return data.miss(
        scope=scope,
        kpi="revenue",
        gap=r - target,
        formula=msg("reviews.formula.revenue"),
        drivers=quantized(effects, r - target),
        sources=sources,
    )


def _planned_quotes(
    data: DriverData, *, scope: str, deals: Decimal, deals_label: Msg, actual: Decimal
) -> tuple[Decimal, Msg]:
    """The quotes a miss is measured against, and where the number came from: the scope's
    quotes target, else the planned deals over the win rate (the actual quotes without one)."""
    planned = data.planned_target(scope, "quotes")
    if planned is not None:
        return planned, msg("reviews.planned.quotes_target", whose=data.whose(scope))
    rate, src = data.ratio(scope, "deals_won", "quotes")
    label = msg("reviews.planned.quotes_from_win_rate", deals=deals_label, source=src)
    return (deals / rate if rate else actual), label


def deals_miss(data: DriverData, *, scope: str, target: Decimal) -> MissOut:
    """A deals_won miss split into quotes and win rate."""
    d = data.actual["deals_won"][scope]
    q = data.actual["quotes"][scope]
    sources: dict[str, Msg] = {}
    planned_q, sources["quotes"] = _planned_quotes(
        data, scope=scope, deals=target, deals_label=msg("reviews.planned.the_target"), actual=q
    )
    effects = deals_drivers(deals=d, quotes=q, planned_deals=target, planned_quotes=planned_q)
    return data.miss(
        scope=scope,
        kpi="deals_won",
        gap=d - target,
        formula=msg("reviews.formula.deals_won"),
        drivers=quantized(effects, d - target),
        sources=sources,
    )


def split_misses(data: DriverData, missed: Sequence[AttainmentRow]) -> list[MissOut]:
    """Each missed revenue or deals_won row split into its drivers, in row order."""
    out = []
    for row in missed:
        assert row.target is not None
        split = revenue_miss if row.kpi == "revenue" else deals_miss
        out.append(split(data, scope=row.scope, target=row.target))
    return out


async def load_driver_data(session: AsyncSession, *, ctx: ReviewContext) -> DriverData:
    """Read the driver KPIs for the period and the 12 months before it, per scope, and the
    deals_won and quotes targets in force at ``as_of``."""
    period = ctx.period
    hist_start = period.start.replace(year=period.start.year - 1)
    actual: Figures = {}
    history: Figures = {}
    spans = ((actual, period.start, ctx.end), (history, hist_start, period.start))
    for key in DRIVER_KPIS:
        kpi = await find_kpi(session, tenant_id=ctx.tenant.id, key=key)
        assert kpi is not None  # built in
        for store, start, end in spans:
            per_rep = await values_by_rep(
                session,
                tenant=ctx.tenant,
                kpi=kpi,
                rep_ids=ctx.reps,
                start=start,
                end=end,
                calendar=ctx.calendar,
                known=ctx.known,
            )
            team = await kpi_value_for(
                session,
                tenant=ctx.tenant,
                kpi=kpi,
                scope=ctx.team,
                start=start,
                end=end,
                calendar=ctx.calendar,
                teams=ctx.teams,
                known=ctx.known,
            )
            store[key] = {f"rep:{r}": v.value or Decimal(0) for r, v in per_rep.items()}
            store[key][str(ctx.team)] = team.value or Decimal(0)
    versions = await targets_repo.values_in_force(
        session,
        tenant_id=ctx.tenant.id,
        kpis=PLANNED_KPIS,
        scopes=ctx.scopes,
        period=period.key,
        at=ctx.as_of,
    )
    planned = {key: Decimal(v.target) for key, v in versions.items()}
    return DriverData(
        team=str(ctx.team), actual=actual, history=history, planned=planned, locale=ctx.locale
    )


async def miss_drivers(
    session: AsyncSession, *, ctx: ReviewContext, rows: Sequence[AttainmentRow]
) -> list[MissOut]:
    """The review's missed revenue and deals_won targets split into drivers (reads the
    driver KPIs only when there is a miss)."""
    missed = missed_driver_rows(rows)
    if not missed:
        return []
    data = await load_driver_data(session, ctx=ctx)
    return split_misses(data, missed)
