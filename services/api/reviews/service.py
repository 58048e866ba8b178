"""The period review (复盘) of a team: attainment, distribution, findings, drivers, next targets.

* **Attainment table**: every member (reps in the team or its sub-teams during the
  period) on every reviewed KPI (those with rep targets for the period; without any, the
  role template's), plus the team's own row: actual, the target version in force at
  ``as_of`` (a target first set after ``as_of``: its first version), attainment (capped
  and raw, direction-aware), tier, met.
* **Distribution** per KPI: met / missed, tiers, attainment bands, min / median / max.
* **Findings**: a KPI that more than half of the scored reps missed ("target too high?")
  or that every scored rep met ("too low?"); at least two scored reps are needed.
* **Miss drivers**: a missed revenue target (a rep's or the team's own) splits into the
  quotes, win-rate and average-deal effects (revenue = quotes x win rate x average deal,
  win rate = deals won / quotes); a missed deals_won target into quotes and win rate.
  Planned drivers come from the scope's targets for deals_won and quotes where set, else
  from its own ratios over the 12 months before the period (else the team's, else this
  period's), and say so.
* **Next period**: suggestions from history (:mod:`paceline.api.planning.suggestions`) for
  each reviewed KPI and scope, with a note from this period's result.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.planning.suggestions import suggest_for
from paceline.api.reviews.schemas import (
    AttainmentRow,
    Distribution,
    DriverOut,
    MissOut,
    NextTarget,
    ReviewFinding,
    ReviewKpi,
    ReviewOut,
)
from paceline.api.scorecards.service import attainment_cap
from paceline.api.templates.service import find_template
from paceline.shared.db.context import find_kpi, tenant_calendar
from paceline.shared.db.models import TargetVersion, Tenant
from paceline.shared.errors import NotFound
from paceline.shared.kpi.calendar import WorkCalendar
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.periods import Period, period_of
from paceline.shared.kpi.planning.common import DEFAULT_CAP, DEFAULT_MARGIN, DEFAULT_UPLIFT
from paceline.shared.kpi.planning.drivers import DriverEffect, deals_drivers, revenue_drivers
from paceline.shared.kpi.scorecards import attainment, kpi_tier
from paceline.shared.kpi.values import KpiValue
from paceline.shared.readmodel import org, rollups
from paceline.shared.readmodel import targets as targets_repo
from paceline.shared.readmodel.evaluation import counted_days_end, q4, round4
from paceline.shared.readmodel.org import team_ids
from paceline.shared.readmodel.progress import kpi_value_for, values_by_rep
from paceline.shared.readmodel.scopes import Scope

UNCAPPED = Decimal(10) ** 9
MIN_REPS_FOR_FINDINGS = 2


async def _values_by_rep(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    reps: Sequence[str],
    start: date,
    end: date,
    calendar: WorkCalendar,
) -> dict[str, KpiValue]:
    """One KPI's value for many reps over [start, end) (one query per table)."""
    return await values_by_rep(
        session,
        tenant=tenant,
        kpi=kpi,
        rep_ids=reps,
        start=start,
        end=end,
        calendar=calendar,
    )


def _row(
    scope: str,
    name: str | None,
    kpi: KpiDefinition,
    value: KpiValue,
    version: TargetVersion | None,
    cap: Decimal,
) -> AttainmentRow:
    target = Decimal(version.target) if version is not None else None
    baseline = Decimal(version.baseline) if version and version.baseline is not None else None
    stretch = Decimal(version.stretch) if version and version.stretch is not None else None
    actual = value.value
    if target is None:
        status = "no_target"
    elif actual is None or (kpi.is_ratio and value.sample < kpi.min_sample):
        status = "insufficient_data"
    else:
        status = "scored"
    att = raw = None
    tier = None
    met = None
    if status == "scored":
        assert actual is not None
        assert target is not None
        att = attainment(actual, target, kpi.direction, cap)
        raw = attainment(actual, target, kpi.direction, UNCAPPED)
        tier = kpi_tier(actual, target, baseline, stretch, kpi.direction)
        met = tier in {"target_met", "stretch_met"}
    return AttainmentRow(
        scope=scope,
        name=name,
        kpi=kpi.key,
        actual=q4(actual),
        target=q4(target),
        baseline=q4(baseline),
        stretch=q4(stretch),
        attainment=q4(att),
        raw_attainment=q4(raw),
        tier=tier,
        met=met,
        status=status,  # one of the three above
        sample=value.sample,
    )


def _distribution(kpi: str, rows: Sequence[AttainmentRow]) -> Distribution:
    scored = [r for r in rows if r.status == "scored" and r.raw_attainment is not None]
    met = sum(1 for r in scored if r.met)
    tiers = {t: 0 for t in ("stretch_met", "target_met", "baseline_met", "below_baseline")}
    buckets = {"<80%": 0, "80-100%": 0, "100-120%": 0, ">=120%": 0}
    for r in scored:
        if r.tier is not None:
            tiers[r.tier] += 1
        a = r.raw_attainment
        assert a is not None
        key = (
            "<80%"
            if a < Decimal("0.8")
            else "80-100%"
            if a < 1
            else "100-120%"
            if a < Decimal("1.2")
            else ">=120%"
        )
        buckets[key] += 1
    atts = [r.raw_attainment for r in scored if r.raw_attainment is not None]
    return Distribution(
        kpi=kpi,
        reps=len(scored),
        met=met,
        missed=len(scored) - met,
        share_met=q4(Decimal(met) / len(scored)) if scored else None,
        tiers=tiers,
        attainment_min=min(atts) if atts else None,
        attainment_median=q4(Decimal(statistics.median(atts))) if atts else None,
        attainment_max=max(atts) if atts else None,
        buckets=buckets,
    )


def _findings(dist: Distribution) -> list[ReviewFinding]:
    if dist.reps < MIN_REPS_FOR_FINDINGS or dist.share_met is None:
        return []
    if dist.missed * 2 > dist.reps:
        return [
            ReviewFinding(
                kpi=dist.kpi,
                finding="missed_by_most",
                share_met=dist.share_met,
                message=f"{dist.missed} of {dist.reps} reps missed {dist.kpi}: "
                "was the target too high, or did something block the team?",
            )
        ]
    if dist.met == dist.reps:
        return [
            ReviewFinding(
                kpi=dist.kpi,
                finding="beaten_by_all",
                share_met=dist.share_met,
                message=f"all {dist.reps} reps met {dist.kpi}: was the target too low?",
            )
        ]
    return []


def _quantized(effects: list[DriverEffect], gap: Decimal) -> list[DriverOut]:
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


class _Drivers:
    """Actuals and history of the driver KPIs (revenue, deals_won, quotes) per scope: each
    member (``rep:ID``) and the team itself (``team:ID``)."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        tenant: Tenant,
        team: Scope,
        teams: Sequence[str] | None,
        reps: Sequence[str],
        period: Period,
        end: date,
        calendar: WorkCalendar,
        as_of: datetime,
    ) -> None:
        self.session = session
        self.tenant = tenant
        self.team = team
        self.teams = teams
        self.reps = list(reps)
        self.period = period
        self.end = end
        self.calendar = calendar
        self.as_of = as_of
        self.actual: dict[str, dict[str, Decimal]] = {}
        self.history: dict[str, dict[str, Decimal]] = {}
        self.targets: dict[tuple[str, str], TargetVersion] = {}

    async def load(self) -> None:
        """Read the three KPIs for the period and the 12 months before, per scope."""
        hist_start = self.period.start.replace(year=self.period.start.year - 1)
        spans = ((self.period.start, self.end), (hist_start, self.period.start))
        for key in ("revenue", "deals_won", "quotes"):
            kpi = await find_kpi(self.session, tenant_id=self.tenant.id, key=key)
            assert kpi is not None
            for store, (start, end) in zip((self.actual, self.history), spans, strict=True):
                per_rep = await _values_by_rep(
                    self.session,
                    tenant=self.tenant,
                    kpi=kpi,
                    reps=self.reps,
                    start=start,
                    end=end,
                    calendar=self.calendar,
                )
                team = await kpi_value_for(
                    self.session,
                    tenant=self.tenant,
                    kpi=kpi,
                    scope=self.team,
                    start=start,
                    end=end,
                    calendar=self.calendar,
                    teams=self.teams,
                )
                store[key] = {f"rep:{r}": v.value or Decimal(0) for r, v in per_rep.items()}
                store[key][str(self.team)] = team.value or Decimal(0)
        self.targets = await targets_repo.values_in_force(
            self.session,
            tenant_id=self.tenant.id,
            kpis=["deals_won", "quotes"],
            scopes=[*(f"rep:{r}" for r in self.reps), str(self.team)],
            period=self.period.key,
            at=self.as_of,
        )

    def _whose(self, scope: str) -> str:
        return "the rep's" if scope.startswith("rep:") else "the team's"

    def _ratio(self, scope: str, num: str, den: str) -> tuple[Decimal | None, str]:
        mine_n, mine_d = self.history[num].get(scope, Decimal(0)), self.history[den].get(scope, 0)
        if mine_d:
            return mine_n / mine_d, f"{self._whose(scope)} last 12 months"
        team = str(self.team)
        team_n, team_d = self.history[num].get(team, Decimal(0)), self.history[den].get(team, 0)
        if team_d:
            return team_n / team_d, "the team's last 12 months"
        now_n, now_d = self.actual[num].get(scope, Decimal(0)), self.actual[den].get(scope, 0)
        if now_d:
            return now_n / now_d, "this period (no history)"
        return None, "unknown"

    def _planned(self, scope: str, kpi: str) -> Decimal | None:
        v = self.targets.get((kpi, scope))
        return Decimal(v.target) if v is not None else None

    def revenue(self, scope: str, target: Decimal) -> MissOut:
        """A revenue miss split into quotes, win rate and average deal."""
        r = self.actual["revenue"][scope]
        d = self.actual["deals_won"][scope]
        q = self.actual["quotes"][scope]
        sources = {}
        planned_d = self._planned(scope, "deals_won")
        if planned_d is not None:
            sources["deals_won"] = f"{self._whose(scope)} deals_won target"
        else:
            size, src = self._ratio(scope, "revenue", "deals_won")
            planned_d = target / size if size else d
            sources["deals_won"] = f"target / average deal of {src}"
        planned_q = self._planned(scope, "quotes")
        if planned_q is not None:
            sources["quotes"] = f"{self._whose(scope)} quotes target"
        else:
            rate, src = self._ratio(scope, "deals_won", "quotes")
            planned_q = planned_d / rate if rate else q
            sources["quotes"] = f"planned deals / win rate of {src}"
        effects = revenue_drivers(
            revenue=r,
            deals=d,
            quotes=q,
            planned_revenue=target,
            planned_deals=planned_d,
            planned_quotes=planned_q,
        )
        drivers = _quantized(effects, r - target)
        return MissOut(
            scope=scope,
            kpi="revenue",
            gap=round4(r - target),
            formula="revenue = quotes x win rate (deals won / quotes) x average deal",
            drivers=drivers,
            planned_from=sources,
            largest=min(drivers, key=lambda x: x.effect).driver,
        )

    def deals(self, scope: str, target: Decimal) -> MissOut:
        """A deals_won miss split into quotes and win rate."""
        d = self.actual["deals_won"][scope]
        q = self.actual["quotes"][scope]
        sources = {}
        planned_q = self._planned(scope, "quotes")
        if planned_q is not None:
            sources["quotes"] = f"{self._whose(scope)} quotes target"
        else:
            rate, src = self._ratio(scope, "deals_won", "quotes")
            planned_q = target / rate if rate else q
            sources["quotes"] = f"target / win rate of {src}"
        effects = deals_drivers(deals=d, quotes=q, planned_deals=target, planned_quotes=planned_q)
        drivers = _quantized(effects, d - target)
        return MissOut(
            scope=scope,
            kpi="deals_won",
            gap=round4(d - target),
            formula="deals won = quotes x win rate (deals won / quotes)",
            drivers=drivers,
            planned_from=sources,
            largest=min(drivers, key=lambda x: x.effect).driver,
        )


async def review(
    session: AsyncSession,
    *,
    tenant: Tenant,
    team: str,
    period: Period,
    as_of: datetime,
    template_key: str | None,
    growth: Decimal | None,
) -> ReviewOut:
    """The team's review of a period at ``as_of`` (see the module docstring)."""
    scope = Scope("team", team)
    teams = await team_ids(session, tenant_id=tenant.id, scope=scope)
    tz = ZoneInfo(tenant.timezone)
    end = counted_days_end(period, as_of, tz)
    calendar = await tenant_calendar(session, tenant=tenant)
    spans = await rollups.reps_in_scope(
        session, tenant_id=tenant.id, start=period.start, end=period.end, team_ids=teams
    )
    reps = sorted({r for r, _lo, _hi in spans})
    names = await org.rep_names(session, tenant_id=tenant.id, rep_ids=reps)
    scopes = [f"rep:{r}" for r in reps]
    keys = sorted(
        {
            t.kpi
            for t in await targets_repo.of_scopes(
                session, tenant_id=tenant.id, period=period.key, scopes=scopes
            )
        }
    )
    if not keys:
        template = await find_template(
            session, tenant_id=tenant.id, key=template_key or "account_manager"
        )
        if template is None:
            raise NotFound(f"no template {template_key!r}")
        keys = [i.kpi for i in template.items]
    kpis = [k for k in [await find_kpi(session, tenant_id=tenant.id, key=k) for k in keys] if k]
    versions = await targets_repo.values_in_force(
        session,
        tenant_id=tenant.id,
        kpis=[k.key for k in kpis],
        scopes=[*scopes, str(scope)],
        period=period.key,
        at=as_of,
    )
    # Targets first set after ``as_of`` (a past period planned late, say after an import):
    # reviewed against their first version rather than not at all.
    late = await targets_repo.of_scopes(
        session,
        tenant_id=tenant.id,
        period=period.key,
        scopes=[*scopes, str(scope)],
        kpis=[k.key for k in kpis],
    )
    late = [t for t in late if (t.kpi, t.scope) not in versions]
    history = await targets_repo.versions(
        session, tenant_id=tenant.id, target_ids=[t.id for t in late]
    )
    for t in late:
        if history[t.id]:
            versions[(t.kpi, t.scope)] = history[t.id][0]
    cap = attainment_cap(tenant)
    rows: list[AttainmentRow] = []
    dists: list[Distribution] = []
    findings: list[ReviewFinding] = []
    for kpi in kpis:
        values = await _values_by_rep(
            session,
            tenant=tenant,
            kpi=kpi,
            reps=reps,
            start=period.start,
            end=end,
            calendar=calendar,
        )
        kpi_rows = [
            _row(f"rep:{r}", names.get(r), kpi, values[r], versions.get((kpi.key, f"rep:{r}")), cap)
            for r in reps
        ]
        team_value = await kpi_value_for(
            session,
            tenant=tenant,
            kpi=kpi,
            scope=scope,
            start=period.start,
            end=end,
            calendar=calendar,
            teams=teams,
        )
        rows.extend(kpi_rows)
        rows.append(
            _row(str(scope), None, kpi, team_value, versions.get((kpi.key, str(scope))), cap)
        )
        dist = _distribution(kpi.key, kpi_rows)
        dists.append(dist)
        findings.extend(_findings(dist))
    misses: list[MissOut] = []
    missed = [r for r in rows if r.met is False and r.kpi in {"revenue", "deals_won"}]
    if missed:
        drivers = _Drivers(
            session,
            tenant=tenant,
            team=scope,
            teams=teams,
            reps=reps,
            period=period,
            end=end,
            calendar=calendar,
            as_of=as_of,
        )
        await drivers.load()
        for r in missed:
            assert r.target is not None
            if r.kpi == "revenue":
                misses.append(drivers.revenue(r.scope, r.target))
            else:
                misses.append(drivers.deals(r.scope, r.target))
    next_period = period_of(
        period.end, period.kind, fiscal_year_start_month=tenant.fiscal_year_start_month
    )
    # Suggestions read the history up to the review's day (at the period's end: all of it).
    today = as_of.astimezone(tz).date()
    suggestions: list[NextTarget] = []
    found = {f.kpi: f.finding for f in findings}
    for kpi in kpis:
        for s in [*scopes, str(scope)]:
            row = next(x for x in rows if x.scope == s and x.kpi == kpi.key)
            sg, _cutoff = await suggest_for(
                session,
                tenant=tenant,
                kpi=kpi,
                scope=Scope("rep", s[4:]) if s.startswith("rep:") else scope,
                period=next_period,
                growth=growth,
                cap=DEFAULT_CAP,
                margin=DEFAULT_MARGIN,
                uplift=DEFAULT_UPLIFT,
                today=today,
                calendar=calendar,
            )
            note = None
            if row.status == "scored":
                note = (
                    f"{period.key}: {row.actual} of {row.target} "
                    f"({(row.raw_attainment or 0) * 100:.1f}%)"
                )
                if found.get(kpi.key) == "missed_by_most":
                    note += "; most of the team missed it: the suggestion follows history"
                elif found.get(kpi.key) == "beaten_by_all":
                    note += "; everybody beat it: the suggestion follows history, not the target"
            suggestions.append(
                NextTarget(
                    scope=s,
                    kpi=kpi.key,
                    period=next_period.key,
                    baseline=sg.baseline,
                    target=sg.target,
                    stretch=sg.stretch,
                    steps=sg.steps,
                    flags=[{"code": f.code, "message": f.message} for f in sg.flags],
                    note=note,
                    reasoning=sg.reasoning,
                )
            )
    return ReviewOut(
        team=team,
        period=period.key,
        next_period=next_period.key,
        as_of=as_of,
        members=[{"rep_id": r, "name": names.get(r)} for r in reps],
        kpis=[
            ReviewKpi(
                kpi=k.key,
                names=k.names(),
                unit=k.unit,
                direction=k.direction,
                category=k.category,
            )
            for k in kpis
        ],
        rows=rows,
        distribution=dists,
        findings=findings,
        misses=misses,
        suggestions=suggestions,
    )


CSV_HEADER = [
    "scope",
    "name",
    "kpi",
    "actual",
    "target",
    "baseline",
    "stretch",
    "attainment",
    "raw_attainment",
    "tier",
    "met",
    "status",
    "gap",
    "driver_quotes",
    "driver_win_rate",
    "driver_average_deal",
    "next_period",
    "next_baseline",
    "next_target",
    "next_stretch",
]


def csv_rows(out: ReviewOut) -> list[list[str]]:
    """The review as one flat table (one line per scope and KPI), header first."""

    def s(v: object) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    misses = {(m.scope, m.kpi): m for m in out.misses}
    nexts = {(n.scope, n.kpi): n for n in out.suggestions}
    table = [CSV_HEADER]
    for r in out.rows:
        m = misses.get((r.scope, r.kpi))
        eff = {d.driver: d.effect for d in m.drivers} if m else {}
        n = nexts.get((r.scope, r.kpi))
        table.append(
            [
                r.scope,
                s(r.name),
                r.kpi,
                s(r.actual),
                s(r.target),
                s(r.baseline),
                s(r.stretch),
                s(r.attainment),
                s(r.raw_attainment),
                s(r.tier),
                s(r.met),
                r.status,
                s(m.gap if m else None),
                s(eff.get("quotes")),
                s(eff.get("win_rate")),
                s(eff.get("average_deal")),
                out.next_period,
                s(n.baseline if n else None),
                s(n.target if n else None),
                s(n.stretch if n else None),
            ]
        )
    return table


def default_as_of(period: Period, tenant: Tenant, now: datetime) -> datetime:
    """Now, or the period's end if it ended earlier (a review of a past period)."""
    return min(now, period.end_instant(ZoneInfo(tenant.timezone)))
