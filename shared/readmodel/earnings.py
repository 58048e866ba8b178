"""Earnings as of a moment: plans, assignments and facts read, the pure engine called.

For a month and a set of reps, :func:`read_earnings` reads

- the plan versions in force at the knowledge cut (``known``, or ``as_of`` for a live
  read) and the assignments made by then, and cuts each rep's month into plan segments (a rep's own
  assignment wins over the role's on the days it covers; a rep may be on several plans
  at once; each segment's share is its days over the month's days);
- the KPI figures the plans read, period to date (the days begun before ``as_of``), with
  the rep's targets in force at ``as_of`` — the same roll-ups progress and scorecards
  read, so earnings are as fresh as progress;
- each commission KPI's own amount per segment: what was booked on the segment's days
  less the adjustments from closed months booked there (those are paid, or clawed back,
  at the rate of the month they came from);
- spiff counts on the window's days, team figures and pool weights;

and returns, per rep, the earnings lines, the projection at current pace (additive
figures scaled by working days total / elapsed, as progress projects), and the distance
to the next tier (docs/INCENTIVES.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.context import close_book, find_kpi, tenant_calendar
from paceline.shared.db.models import Tenant
from paceline.shared.db.models_incentives import IncentiveAssignment
from paceline.shared.i18n import Invalid
from paceline.shared.kpi.calendar import WorkCalendar
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.incentives.earnings import (
    Adjustment,
    Earnings,
    Figure,
    NextTier,
    PoolInput,
    RepInputs,
    Segment,
    SourceRate,
    next_tiers,
    rep_earnings,
)
from paceline.shared.kpi.incentives.plans import Bonus, Commission, Pool, Spiff
from paceline.shared.kpi.periods import Period, parse_period
from paceline.shared.kpi.values import KpiValue
from paceline.shared.money import from_units
from paceline.shared.readmodel import incentives as incentives_repo
from paceline.shared.readmodel import org
from paceline.shared.readmodel import targets as targets_repo
from paceline.shared.readmodel.evaluation import counted_days_end, is_additive
from paceline.shared.readmodel.progress import kpi_value_for, values_by_rep
from paceline.shared.readmodel.scopes import Scope
from paceline.shared.readmodel.templates import DEFAULT_TEMPLATE, find_template

ZERO = Decimal(0)


@dataclass(slots=True)
class RepEarnings:
    """A rep's earnings for the month at a moment, with what they were computed from."""

    rep: str
    inputs: RepInputs
    earned: Earnings
    projected: Earnings
    next: list[NextTier]
    team: str | None
    kpis: dict[str, KpiDefinition] = field(default_factory=dict)


@dataclass(slots=True)
class MonthEarnings:
    """Earnings of several reps for one month at ``as_of``."""

    period: Period
    as_of: datetime
    known: datetime | None
    end: date  # exclusive end of the counted days
    elapsed: int
    total: int
    reps: dict[str, RepEarnings]
    plans: dict[str, incentives_repo.PlanInForce]


def role_on(
    history: Sequence[tuple[str | None, date, date | None]], day: date, current: str | None
) -> str | None:
    """A rep's role on a day from their role history (the current role without one)."""
    if not history:
        return current
    for role, lo, hi in history:
        if lo <= day and (hi is None or day < hi):
            return role
    return None


def plan_days(
    *,
    rep: str,
    role: str | None,
    assignments: Sequence[IncentiveAssignment],
    start: date,
    end: date,
    roles: Sequence[tuple[str | None, date, date | None]] = (),
) -> list[tuple[str, date, date]]:
    """The rep's plans on the days of [start, end) as runs (plan, from, to): on each day
    the plans of the rep's own assignments, or else of the role the rep had that day
    (``roles``: the rep's role history; ``role`` without one)."""
    own = [a for a in assignments if a.rep_id == rep]
    by_role = [a for a in assignments if a.rep_id is None and a.role is not None]
    runs: list[tuple[str, date, date]] = []
    open_runs: dict[str, date] = {}
    day = start
    while day <= end:
        today: set[str] = set()
        if day < end:

            def covers(a: IncentiveAssignment, d: date = day) -> bool:
                return a.valid_from <= d and (a.valid_to is None or d < a.valid_to)

            mine = {a.plan_key for a in own if covers(a)}
            held = role_on(roles, day, role)
            today = mine or {a.plan_key for a in by_role if held and a.role == held and covers(a)}
        for key in list(open_runs):
            if key not in today:
                runs.append((key, open_runs.pop(key), day))
        for key in today:
            open_runs.setdefault(key, day)
        day += timedelta(days=1)
    return sorted(runs, key=lambda r: (r[1], r[0]))


def _figure(
    kpi: KpiDefinition, value: KpiValue, target: tuple[Decimal | None, ...] | None
) -> Figure:
    t, b, s = target if target is not None else (None, None, None)
    return Figure(
        kpi=kpi.key,
        shape=kpi.formula.shape,
        factor=kpi.formula.factor,
        numerator=value.numerator,
        denominator=value.denominator,
        sample=value.sample,
        min_sample=kpi.min_sample,
        direction=kpi.direction,
        target=t,
        baseline=b,
        stretch=s,
        additive=is_additive(kpi),
    )


def _target_values(version: object | None) -> tuple[Decimal | None, ...] | None:
    if version is None:
        return None
    target = getattr(version, "target", None)
    baseline = getattr(version, "baseline", None)
    stretch = getattr(version, "stretch", None)
    return (
        Decimal(target) if target is not None else None,
        Decimal(baseline) if baseline is not None else None,
        Decimal(stretch) if stretch is not None else None,
    )


def month_of(key: str, tenant: Tenant) -> Period:
    """A month of the tenant's calendar (ValueError for anything else)."""
    period = parse_period(key, fiscal_year_start_month=tenant.fiscal_year_start_month)
    if period.kind != "month":
        raise Invalid("periods.month_only")
    return period


async def read_earnings(
    session: AsyncSession,
    *,
    tenant: Tenant,
    reps: Sequence[str],
    period: Period,
    as_of: datetime,
    known: datetime | None = None,
    calendar: WorkCalendar | None = None,
    clawbacks: bool = True,
    targets_at: datetime | None = None,
) -> MonthEarnings:
    """Each rep's earnings for the month at ``as_of`` (see the module docstring);
    ``targets_at``: when to read the targets in force (default ``as_of``; a closed month's
    statement reads them at the close, so targets set after the month ended count)."""
    calendar = calendar or await tenant_calendar(session, tenant=tenant)
    tz = ZoneInfo(tenant.timezone)
    end = counted_days_end(period, as_of, tz)
    plans = await incentives_repo.plans_in_force(session, tenant_id=tenant.id, at=known or as_of)
    assignments = await incentives_repo.assignments_in(
        session, tenant_id=tenant.id, start=period.start, end=period.end, known=known
    )
    month_days = (period.end - period.start).days
    reps = sorted(set(reps))
    team_of = await incentives_repo.teams_on(
        session, tenant_id=tenant.id, reps=reps, day=max(period.start, end - timedelta(days=1))
    )
    # Pools are split among the team's reps on the plan: read those teams' members too.
    pooled_teams = sorted({team_of[r] for r in reps if r in team_of})
    everyone = set(reps)
    if any(isinstance(c, Pool) for p in plans.values() for c in p.body.components):
        members = await incentives_repo.team_members(
            session, tenant_id=tenant.id, teams=pooled_teams, start=period.start, end=period.end
        )
        for team in pooled_teams:
            everyone |= members.get(team, set())
        team_of.update(
            await incentives_repo.teams_on(
                session,
                tenant_id=tenant.id,
                reps=sorted(everyone - set(team_of)),
                day=max(period.start, end - timedelta(days=1)),
            )
        )
    all_reps = sorted(everyone)
    roles = await org.rep_roles(session, tenant_id=tenant.id, rep_ids=all_reps)
    role_history = await org.role_history(session, tenant_id=tenant.id, rep_ids=all_reps)
    # Each rep's own assignments and the role assignments (plan_days picks from those).
    own_of: dict[str, list[IncentiveAssignment]] = defaultdict(list)
    for assigned in assignments:
        if assigned.rep_id is not None:
            own_of[assigned.rep_id].append(assigned)
    by_role = [x for x in assignments if x.rep_id is None and x.role is not None]
    segments: dict[str, list[Segment]] = {}
    for rep in all_reps:
        runs = plan_days(
            rep=rep,
            role=roles.get(rep),
            roles=role_history.get(rep, ()),
            assignments=own_of.get(rep, []) + by_role,
            start=period.start,
            end=period.end,
        )
        segments[rep] = [
            Segment(
                plan=key,
                version=plans[key].version,
                body=plans[key].body,
                start=lo,
                end=hi,
                share=Fraction((hi - lo).days, month_days),
            )
            for key, lo, hi in runs
            if key in plans
        ]
    # Which KPIs to read: every plan's, and the scorecard template's for scorecard bonuses.
    kpi_keys: set[str] = set()
    templates: dict[str, tuple[tuple[str, Decimal], ...]] = {}
    template_of: dict[str, tuple[tuple[str, Decimal], ...]] = {}  # per role: read once
    for rep in all_reps:
        for seg in segments[rep]:
            kpi_keys |= seg.body.kpis()
            if any(isinstance(c, Bonus) and c.basis == "scorecard" for c in seg.body.components):
                key = roles.get(rep) or DEFAULT_TEMPLATE
                if key not in template_of:
                    template = await find_template(session, tenant_id=tenant.id, key=key)
                    if template is None:
                        template = await find_template(
                            session, tenant_id=tenant.id, key=DEFAULT_TEMPLATE
                        )
                    assert template is not None
                    template_of[key] = tuple((i.kpi, i.weight) for i in template.items)
                templates[rep] = template_of[key]
                kpi_keys |= {k for k, _w in templates[rep]}
    kpis: dict[str, KpiDefinition] = {}
    for key in sorted(kpi_keys):
        kpi = await find_kpi(session, tenant_id=tenant.id, key=key)
        if kpi is not None:
            kpis[key] = kpi
    versions = await targets_repo.values_in_force(
        session,
        tenant_id=tenant.id,
        kpis=sorted(kpis),
        scopes=[f"rep:{r}" for r in all_reps] + [f"team:{t}" for t in pooled_teams],
        period=period.key,
        at=targets_at or as_of,
    )
    values: dict[str, dict[str, KpiValue]] = {}
    for key, kpi in kpis.items():
        values[key] = await values_by_rep(
            session,
            tenant=tenant,
            kpi=kpi,
            rep_ids=all_reps,
            start=period.start,
            end=end,
            calendar=calendar,
            known=known,
        )
    # Team figures for team bonuses and pools.
    team_kpis = {
        c.basis
        for rep in all_reps
        for seg in segments[rep]
        for c in seg.body.components
        if (isinstance(c, Bonus) and c.scope == "team") or isinstance(c, Pool)
    } & set(kpis)
    team_figures: dict[str, dict[str, Figure]] = defaultdict(dict)
    for team in sorted({team_of[r] for r in all_reps if r in team_of}):
        for key in sorted(team_kpis):
            value = await kpi_value_for(
                session,
                tenant=tenant,
                kpi=kpis[key],
                scope=Scope("team", team),
                start=period.start,
                end=end,
                calendar=calendar,
                known=known,
            )
            team_figures[team][key] = _figure(
                kpis[key], value, _target_values(versions.get((key, f"team:{team}")))
            )
    # Own amounts of commission KPIs per segment: booked on its days less adjustments.
    commission_kpis = {
        c.kpi
        for rep in all_reps
        for seg in segments[rep]
        for c in seg.body.components
        if isinstance(c, Commission) and c.kpi in kpis
    }
    ranges = {(s.start, s.end) for r in all_reps for s in segments[r]}
    own: dict[str, dict[tuple[int, str], Decimal]] = {r: {} for r in all_reps}
    own_period: dict[str, dict[str, Decimal]] = {r: {} for r in all_reps}
    adjustments: dict[str, list[Adjustment]] = {r: [] for r in all_reps}
    for key in sorted(commission_kpis):
        kpi = kpis[key]
        adj_rows = await incentives_repo.adjustments_booked(
            session,
            tenant_id=tenant.id,
            kpi=key,
            reps=all_reps,
            start=period.start,
            end=end,
            known=known,
        )
        by_source: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        adj_of: dict[str, list[tuple[date, int]]] = defaultdict(list)  # rep: (booked day, units)
        for rep, source, day, units, count in adj_rows:
            acc = by_source[(rep, source)]
            acc[0] += units
            acc[1] += count
            adj_of[rep].append((day, units))
        for (rep, source), (units, count) in sorted(by_source.items()):
            adjustments[rep].append(
                Adjustment(key, source, from_units(units) * kpi.formula.factor, count)
            )
        for rep in all_reps:
            period_value = values[key][rep].value or ZERO
            period_units = sum((u for _d, u in adj_of.get(rep, ())), 0)
            own_period[rep][key] = period_value - from_units(period_units) * kpi.formula.factor
        for lo, hi in sorted(ranges):
            a, b = max(lo, period.start), min(hi, end)
            if (lo, hi) == (period.start, period.end):
                seg_values = values[key]
            elif a < b:
                seg_values = await values_by_rep(
                    session,
                    tenant=tenant,
                    kpi=kpi,
                    rep_ids=all_reps,
                    start=a,
                    end=b,
                    calendar=calendar,
                    known=known,
                )
            else:
                seg_values = {}
            for rep in all_reps:
                for i, seg in enumerate(segments[rep]):
                    if (seg.start, seg.end) != (lo, hi):
                        continue
                    if not any(
                        isinstance(c, Commission) and c.kpi == key for c in seg.body.components
                    ):
                        continue
                    found = seg_values.get(rep)
                    amount = found.value if found is not None and found.value is not None else ZERO
                    booked = sum(
                        (
                            from_units(u) * kpi.formula.factor
                            for d, u in adj_of.get(rep, ())
                            if a <= d < b
                        ),
                        ZERO,
                    )
                    own[rep][(i, key)] = amount - booked
    # Spiff counts on the window's days within each segment: one read per KPI and window
    # for all the reps that have it (the period to date is read already).
    counts: dict[str, dict[tuple[int, str], Decimal]] = {r: {} for r in all_reps}
    windows: dict[tuple[str, date, date], list[tuple[str, int, str]]] = defaultdict(list)
    for rep in all_reps:
        for i, seg in enumerate(segments[rep]):
            for c in seg.body.components:
                if not isinstance(c, Spiff) or c.kpi not in kpis:
                    continue
                lo = max(seg.start, c.start, period.start)
                hi = min(seg.end, c.end + timedelta(days=1), end)
                if lo >= hi:
                    counts[rep][(i, c.key)] = ZERO
                    continue
                windows[(c.kpi, lo, hi)].append((rep, i, c.key))
    for (kpi_key, lo, hi), wanted in sorted(windows.items()):
        if (lo, hi) == (period.start, end):
            window_values = values[kpi_key]
        else:
            window_values = await values_by_rep(
                session,
                tenant=tenant,
                kpi=kpis[kpi_key],
                rep_ids=sorted({rep for rep, _i, _c in wanted}),
                start=lo,
                end=hi,
                calendar=calendar,
                known=known,
            )
        for rep, i, c_key in wanted:
            counts[rep][(i, c_key)] = window_values[rep].value or ZERO
    figures = {
        rep: {
            key: _figure(kpi, values[key][rep], _target_values(versions.get((key, f"rep:{rep}"))))
            for key, kpi in kpis.items()
        }
        for rep in all_reps
    }
    cap = Decimal(str((tenant.options or {}).get("attainment_cap", "1.5")))
    pools = _pool_inputs(segments, figures, team_of, roles, cap)
    source_rates: dict[str, dict[tuple[str, str], tuple[SourceRate, ...]]] = {
        r: {} for r in all_reps
    }
    if clawbacks:
        reps_of_source: dict[str, list[str]] = defaultdict(list)
        for rep in reps:
            for source in sorted({adj.source_period for adj in adjustments[rep]}):
                reps_of_source[source].append(rep)
        for source, source_reps in sorted(reps_of_source.items()):
            by_rep = await _source_rates(
                session, tenant=tenant, reps=source_reps, source=source, cut=known or as_of
            )
            for rep, rates in by_rep.items():
                for (kpi_key, _src), paid in rates.items():
                    source_rates[rep][(source, kpi_key)] = paid
    currency = tenant.currency
    out: dict[str, RepEarnings] = {}
    elapsed = calendar.working_days(period.start, end)
    total = calendar.working_days(period.start, period.end)
    for rep in reps:
        inputs = RepInputs(
            rep=rep,
            currency=currency,
            segments=tuple(segments[rep]),
            figures=figures[rep],
            team_figures=team_figures.get(team_of.get(rep, ""), {}),
            score_items=templates.get(rep, ()),
            score_cap=cap,
            own=own[rep],
            own_period=own_period[rep],
            counts=counts[rep],
            pools=pools.get(rep, {}),
            adjustments=tuple(adjustments[rep]) if clawbacks else (),
            source_rates=source_rates[rep],
        )
        earned = rep_earnings(inputs)
        projected_inputs = _projected(inputs, period, end, calendar, elapsed, total)
        out[rep] = RepEarnings(
            rep=rep,
            inputs=inputs,
            earned=earned,
            projected=rep_earnings(projected_inputs),
            next=next_tiers(inputs, earned),
            team=team_of.get(rep),
            kpis=kpis,
        )
    return MonthEarnings(
        period=period,
        as_of=as_of,
        known=known,
        end=end,
        elapsed=elapsed,
        total=total,
        reps=out,
        plans=plans,
    )


def _pool_inputs(
    segments: Mapping[str, Sequence[Segment]],
    figures: Mapping[str, Mapping[str, Figure]],
    team_of: Mapping[str, str],
    roles: Mapping[str, str | None],
    cap: Decimal,
) -> dict[str, dict[tuple[int, str], PoolInput]]:
    """Each rep's weight in each team pool of its segments, and the others' weights."""
    weights: dict[tuple[str, str, str], list[tuple[str, int, Fraction]]] = defaultdict(list)
    for rep, segs in segments.items():
        team = team_of.get(rep)
        if team is None:
            continue
        for i, seg in enumerate(segs):
            for c in seg.body.components:
                if not isinstance(c, Pool):
                    continue
                if c.split == "weights":
                    role = roles.get(rep)
                    w = c.weights.get(rep, c.weights.get(f"role:{role}", Decimal(1)))
                elif c.split == "attainment":
                    f = figures[rep].get(c.basis)
                    w = (f.attainment(cap) if f is not None else None) or ZERO
                else:
                    w = Decimal(1)
                weights[(team, seg.plan, c.key)].append((rep, i, Fraction(w) * Fraction(seg.share)))
    out: dict[str, dict[tuple[int, str], PoolInput]] = defaultdict(dict)
    for (team, _plan, key), parts in weights.items():
        total = sum((part for _r, _i, part in parts), Fraction(0))
        for rep, i, part in parts:
            out[rep][(i, key)] = PoolInput(team=team, weight=part, others=total - part)
    return out


def _projected(
    inputs: RepInputs,
    period: Period,
    end: date,
    calendar: WorkCalendar,
    elapsed: int,
    total: int,
) -> RepInputs:
    """The inputs at period end at the current pace: additive figures, own amounts and
    spiff counts scaled by working days total / elapsed (ratios stay as they are)."""
    if end >= period.end or elapsed <= 0:
        return inputs
    scale = Decimal(total) / Decimal(elapsed)

    def grow(f: Figure) -> Figure:
        if not f.additive or f.numerator is None:
            return f
        return replace(f, numerator=f.numerator * scale)

    return replace(
        inputs,
        figures={k: grow(f) for k, f in inputs.figures.items()},
        team_figures={k: grow(f) for k, f in inputs.team_figures.items()},
        own={k: v * scale for k, v in inputs.own.items()},
        own_period={k: v * scale for k, v in inputs.own_period.items()},
        counts={k: v * scale for k, v in inputs.counts.items()},
        adjustments=inputs.adjustments,
    )


async def _source_rates(
    session: AsyncSession, *, tenant: Tenant, reps: Sequence[str], source: str, cut: datetime
) -> dict[str, dict[tuple[str, str], tuple[SourceRate, ...]]]:
    """What each commission component paid each rep per unit in a closed month, as
    closed: the month's earnings at its end, with the knowledge of its close (in force at
    ``cut``); one read of the month for all the reps (each rep's figures are its own)."""
    book = close_book(tenant)
    try:
        period = month_of(source, tenant)
    except ValueError:
        return {}
    close = book.close_at(period.key, cut) or book.closed_now(period.key)
    closed_at = close.closed_at if close is not None else None
    tz = ZoneInfo(tenant.timezone)
    as_of = datetime.combine(period.end, datetime.min.time(), tz)
    month = await read_earnings(
        session,
        tenant=tenant,
        reps=reps,
        period=period,
        as_of=as_of,
        known=closed_at,
        clawbacks=False,
        targets_at=closed_at,
    )
    result: dict[str, dict[tuple[str, str], tuple[SourceRate, ...]]] = {}
    for rep in reps:
        found = month.reps.get(rep)
        if found is None:
            continue
        paid: dict[tuple[str, int, str, str], list[Fraction]] = defaultdict(
            lambda: [Fraction(0), Fraction(0)]
        )
        for line in found.earned.lines:
            if line.kind != "commission" or line.base is None:
                continue
            acc = paid[(line.plan, line.version, line.component, line.basis)]
            acc[0] += line.exact
            acc[1] += Fraction(line.base)
        out: dict[tuple[str, str], list[SourceRate]] = defaultdict(list)
        for (plan, version, component, kpi), (amount, base) in sorted(paid.items()):
            rate = amount / base if base != 0 else Fraction(0)
            out[(kpi, source)].append(SourceRate(plan, version, component, rate))
        result[rep] = {k: tuple(v) for k, v in out.items()}
    return result
