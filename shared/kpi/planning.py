"""Planning maths (PRODUCT.md sections 5 and 6), pure: no I/O, no clock.

* **Decomposition** (:func:`decompose`): a goal for a scope and a period splits down the
  org (by given weights per child) and down in time (by given weights per sub-period).
  The org split happens in the goal's period; every org *leaf* (a rep, or a team with
  nobody under it) is then split in time, level by level; an inner scope's value for a
  sub-period is the sum of its leaves' values. So every target equals the sum of its
  children in both directions (team Q1 = its reps' Q1 = its own months), exactly.
  Amounts are split by largest remainder in the currency's minor unit
  (:func:`paceline.shared.money.split_largest_remainder`), counts in whole numbers; ratio
  and average KPIs do not add up, so every child gets the goal's value. Baseline and
  stretch are split with the same weights under bounds (:func:`split_bounded`), so each
  child keeps baseline <= target <= stretch (the reverse when lower is better).
* **Time trees** (:func:`time_tree`): year -> quarters -> months -> ISO weeks, each week
  belonging to the period that holds its Thursday (the ISO rule), so the weeks of a month
  sum exactly to the month.
* **Suggestions** (:func:`suggest_additive`, :func:`suggest_ratio`): a multiplicative
  seasonal model on monthly history (seasonal index = ratio to the centred 12-month
  moving average; trend = last 12 months over the 12 before), the same period last year,
  the team's growth goal and caps, with the reasoning returned as data.
* **SMART check** (:func:`check_plan`): findings with a severity and a suggested fix.
* **Review drivers** (:func:`revenue_drivers`): a revenue miss split exactly into the
  quotes, win-rate and deal-size effects (revenue = quotes x win rate x average deal).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any, Final, Literal

from paceline.shared.kpi.periods import Period, PeriodKind, parse_period
from paceline.shared.money import split_largest_remainder

KIND_ORDER: Final[dict[str, int]] = {"year": 0, "quarter": 1, "month": 2, "week": 3}
Direction = Literal["higher", "lower"]

# -- splitting ---------------------------------------------------------------------------


def split_bounded(
    total: int,
    weights: Sequence[Fraction],
    *,
    lower: Sequence[int | None] | None = None,
    upper: Sequence[int | None] | None = None,
) -> list[int]:
    """Split an integer ``total`` in proportion to ``weights`` within per-part bounds.

    Each part starts at its exact share rounded down (clamped to its bounds); the quanta
    still missing go to the parts furthest below their exact share (ties: the earlier
    part), the ones in excess come off the parts furthest above it. The parts sum exactly
    to ``total``; ValueError if the bounds make that impossible. Zero weights everywhere
    split evenly.
    """
    n = len(weights)
    if n == 0:
        raise ValueError("weights must not be empty")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    lo = list(lower) if lower is not None else [None] * n
    hi = list(upper) if upper is not None else [None] * n
    if sum(x for x in lo if x is not None) > total and all(x is not None for x in lo):
        raise ValueError("the lower bounds exceed the total")
    if all(x is not None for x in hi) and sum(x for x in hi if x is not None) < total:
        raise ValueError("the upper bounds are below the total")
    ws = list(weights)
    wsum = sum(ws, Fraction(0))
    if wsum == 0:
        ws = [Fraction(1)] * n
        wsum = Fraction(n)
    exact = [Fraction(total) * w / wsum for w in ws]

    def clamp(i: int, v: int) -> int:
        lb, ub = lo[i], hi[i]
        if lb is not None and v < lb:
            v = lb
        if ub is not None and v > ub:
            v = ub
        return v

    parts = [clamp(i, math.floor(e)) for i, e in enumerate(exact)]
    left = total - sum(parts)
    while left != 0:
        if left > 0:
            room = [i for i in range(n) if hi[i] is None or parts[i] < hi[i]]  # type: ignore[operator]
            order = sorted(room, key=lambda i: (-(exact[i] - parts[i]), i))
            step = 1
        else:
            room = [i for i in range(n) if lo[i] is None or parts[i] > lo[i]]  # type: ignore[operator]
            order = sorted(room, key=lambda i: (-(parts[i] - exact[i]), i))
            step = -1
        if not order:
            raise ValueError("the bounds leave no room for the total")
        # Bulk first when far away (never the case for consistent bounds), then one by one.
        bulk = abs(left) // len(order)
        if bulk > 1:
            for i in order:
                parts[i] += step * bulk
                parts[i] = clamp(i, parts[i])
            left = total - sum(parts)
            continue
        for i in order:
            if left == 0:
                break
            parts[i] += step
            left -= step
    return parts


@dataclass(frozen=True, slots=True)
class Values:
    """A target's values: target, and optional baseline (floor) and stretch (ambition)."""

    target: Decimal
    baseline: Decimal | None = None
    stretch: Decimal | None = None


def split_values(
    values: Values,
    weights: Sequence[Decimal],
    *,
    places: int,
    direction: str,
) -> list[Values]:
    """Split values over children: exact sums, each child ordered like its parent."""
    quantum = Decimal(1).scaleb(-places)
    targets = split_largest_remainder(values.target, weights, places=places)
    steps = [int(t / quantum) for t in targets]
    fw = [Fraction(w) for w in weights]
    higher = direction != "lower"

    def part(total: Decimal | None, below_target: bool) -> list[Decimal | None]:
        if total is None:
            return [None] * len(targets)
        total_steps = int(total.quantize(quantum, rounding=ROUND_HALF_EVEN) / quantum)
        if below_target:  # each part at most the child's target, at least zero
            split = split_bounded(total_steps, fw, lower=[0] * len(steps), upper=steps)
        else:  # each part at least the child's target
            split = split_bounded(total_steps, fw, lower=steps)
        return [s * quantum for s in split]

    # Higher is better: baseline <= target <= stretch; lower is better: the reverse.
    baselines = part(values.baseline, below_target=higher)
    stretches = part(values.stretch, below_target=not higher)
    return [Values(t, b, s) for t, b, s in zip(targets, baselines, stretches, strict=True)]


# -- time trees --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeNode:
    """A period and the sub-periods it splits into."""

    period: Period
    children: tuple[TimeNode, ...] = ()


def _months(start: date, end: date) -> list[Period]:
    out = []
    d = start
    while d < end:
        out.append(parse_period(f"{d.year}-{d.month:02d}"))
        d = out[-1].end
    return out


def sub_periods(period: Period, kind: PeriodKind, *, fiscal_year_start_month: int) -> list[Period]:
    """The periods of a finer kind that make up a period (weeks: those whose Thursday is in it)."""
    if KIND_ORDER[kind] <= KIND_ORDER[period.kind]:
        raise ValueError(f"{kind} is not finer than {period.kind}")
    if kind == "quarter":
        fy = period.key[:4]
        quarters = [
            parse_period(f"{fy}-Q{q}", fiscal_year_start_month=fiscal_year_start_month)
            for q in range(1, 5)
        ]
        return [q for q in quarters if period.start <= q.start and q.end <= period.end]
    if kind == "month":
        return _months(period.start, period.end)
    # ISO weeks whose Thursday lies in the period.
    first_thursday = period.start + timedelta(days=(3 - period.start.weekday()) % 7)
    out = []
    d = first_thursday
    while d < period.end:
        iso = d.isocalendar()
        out.append(parse_period(f"{iso.year}-W{iso.week:02d}"))
        d += timedelta(days=7)
    return out


def time_tree(
    period: Period, levels: Sequence[PeriodKind], *, fiscal_year_start_month: int
) -> TimeNode:
    """A period split level by level (e.g. year -> quarter -> month -> week)."""
    previous = KIND_ORDER[period.kind]
    for kind in levels:
        if KIND_ORDER[kind] <= previous:
            raise ValueError("time levels must each be finer than the one before")
        previous = KIND_ORDER[kind]

    def build(p: Period, rest: Sequence[PeriodKind]) -> TimeNode:
        if not rest:
            return TimeNode(p)
        subs = sub_periods(p, rest[0], fiscal_year_start_month=fiscal_year_start_month)
        return TimeNode(p, tuple(build(s, rest[1:]) for s in subs))

    return build(period, list(levels))


# -- org trees and decomposition ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrgNode:
    """A scope of the plan and the scopes under it."""

    scope: str
    children: tuple[OrgNode, ...] = ()


@dataclass(frozen=True, slots=True)
class PlannedTarget:
    """One target of a decomposition, with its parent (scope, period) and its share."""

    scope: str
    period: Period
    values: Values
    parent: tuple[str, str] | None  # (scope, period key) of the parent target
    split: Literal["goal", "org", "time", "sum", "copy"]
    share: Fraction | None  # of the parent's target (org and time splits)

    @property
    def key(self) -> tuple[str, str]:
        """(scope, period key)."""
        return (self.scope, self.period.key)


def decompose(
    *,
    goal: Values,
    org: OrgNode,
    time: TimeNode,
    org_weight: Callable[[OrgNode, OrgNode], Decimal],
    time_weight: Callable[[TimeNode, TimeNode], Decimal],
    places: int,
    additive: bool,
    direction: str,
) -> list[PlannedTarget]:
    """Every target of the plan, parents before children (see the module docstring).

    ``org_weight(parent, child)`` and ``time_weight(parent, child)`` give the weights
    (relative within one parent). ``additive=False`` (ratios, averages): every target
    gets the goal's values.
    """
    out: list[PlannedTarget] = []
    top = time.period
    values: dict[tuple[str, str], Values] = {(org.scope, top.key): goal}
    out.append(PlannedTarget(org.scope, top, goal, None, "goal", None))
    leaves: list[OrgNode] = []

    def down_org(node: OrgNode) -> None:
        if not node.children:
            leaves.append(node)
            return
        parent_values = values[(node.scope, top.key)]
        weights = [org_weight(node, c) for c in node.children]
        if additive:
            parts = split_values(parent_values, weights, places=places, direction=direction)
        else:
            parts = [parent_values] * len(node.children)
        wsum = sum(weights, Decimal(0))
        for child, v, w in zip(node.children, parts, weights, strict=True):
            values[(child.scope, top.key)] = v
            share = Fraction(w) / Fraction(wsum) if wsum else Fraction(1, len(weights))
            out.append(
                PlannedTarget(
                    child.scope,
                    top,
                    v,
                    (node.scope, top.key),
                    "org" if additive else "copy",
                    share if additive else None,
                )
            )
        for child in node.children:
            down_org(child)

    down_org(org)
    # Time: every leaf scope splits its period values level by level.
    leaf_parts: dict[tuple[str, str], Values] = {}

    def down_time(scope: str, node: TimeNode) -> None:
        if not node.children:
            return
        parent_values = leaf_parts.get((scope, node.period.key)) or values[(scope, top.key)]
        weights = [time_weight(node, c) for c in node.children]
        if additive:
            parts = split_values(parent_values, weights, places=places, direction=direction)
        else:
            parts = [parent_values] * len(node.children)
        for child, v in zip(node.children, parts, strict=True):
            leaf_parts[(scope, child.period.key)] = v
            down_time(scope, child)

    for leaf in leaves:
        leaf_parts[(leaf.scope, top.key)] = values[(leaf.scope, top.key)]
        down_time(leaf.scope, time)

    def subtree_leaves(node: OrgNode) -> list[str]:
        if not node.children:
            return [node.scope]
        return [s for c in node.children for s in subtree_leaves(c)]

    def add(a: Values, b: Values) -> Values:
        return Values(
            a.target + b.target,
            None if a.baseline is None or b.baseline is None else a.baseline + b.baseline,
            None if a.stretch is None or b.stretch is None else a.stretch + b.stretch,
        )

    scopes: list[OrgNode] = []

    def walk(node: OrgNode) -> None:
        scopes.append(node)
        for c in node.children:
            walk(c)

    walk(org)

    def emit_time(node: TimeNode) -> None:
        for child in node.children:
            for s in scopes:
                if not s.children:
                    v = leaf_parts[(s.scope, child.period.key)]
                    split: Literal["time", "sum", "copy"] = "time" if additive else "copy"
                elif not additive:
                    v = goal
                    split = "copy"
                else:
                    members = subtree_leaves(s)
                    v = leaf_parts[(members[0], child.period.key)]
                    for m in members[1:]:
                        v = add(v, leaf_parts[(m, child.period.key)])
                    split = "sum"
                parent_values = (
                    values[(s.scope, top.key)]
                    if node is time
                    else (leaf_parts[(s.scope, node.period.key)] if not s.children else None)
                )
                share = None
                if split == "time" and parent_values is not None and parent_values.target:
                    share = Fraction(v.target) / Fraction(parent_values.target)
                out.append(
                    PlannedTarget(
                        s.scope, child.period, v, (s.scope, node.period.key), split, share
                    )
                )
        for child in node.children:
            emit_time(child)

    emit_time(time)
    return out


# -- suggestions from history --------------------------------------------------------------

# Default caps (overridable per request): growth beyond this over last year is not
# suggested; a request needing this much more growth than history showed is flagged.
DEFAULT_CAP: Final = Decimal("0.5")
DEFAULT_MARGIN: Final = Decimal("0.2")
DEFAULT_UPLIFT: Final = Decimal("0.1")


def month_index(d: date) -> int:
    """Months since year 0 (so month arithmetic is integer arithmetic)."""
    return d.year * 12 + d.month - 1


def month_start(index: int) -> date:
    """The first day of a month index."""
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True, slots=True)
class SeasonalModel:
    """A multiplicative model of a monthly series: level x (1 + growth)^t x index(month)."""

    first: int  # month index of the first month with data
    cutoff: int  # month index of the first month not in the history
    indices: dict[int, Decimal]  # month of year (1-12) -> seasonal index (mean 1)
    index_months: dict[int, int]  # month of year -> how many months taught its index
    growth: Decimal | None  # trend: last 12 months over the 12 before, minus 1 (uncapped)
    last12: Decimal
    previous12: Decimal | None
    level: Decimal  # average month of the last 12 months, deseasonalised

    @property
    def months(self) -> int:
        """Months of history (from the first month with data)."""
        return self.cutoff - self.first

    def estimate(self, index: int, growth: Decimal) -> Decimal:
        """The model's value for a month, with an annual ``growth`` from the last 12 months."""
        centre = Fraction(2 * self.cutoff - 12, 2)  # the mean position of the last 12 months
        years = (Fraction(index) + Fraction(1, 2) - centre) / 12
        factor = _power(Decimal(1) + growth, years)
        return self.level * factor * self.indices.get(index % 12 + 1, Decimal(1))


def _power(base: Decimal, exponent: Fraction) -> Decimal:
    if base <= 0:
        return Decimal(0)
    return Decimal(str(math.exp(float(exponent) * math.log(float(base)))))


def seasonal_model(history: Mapping[int, Decimal], *, cutoff: int) -> SeasonalModel | None:
    """Fit the model on monthly values (month index -> value) before ``cutoff``.

    Seasonal index of month m: the mean over the history of value / centred 12-month
    moving average (the classical ratio-to-moving-average method), normalised to a mean
    of 1; months the history cannot teach (less than 13 months around them) get 1.
    Trend: the last 12 months over the 12 before (needs 24 months of history).
    None without any data.
    """
    present = [m for m, v in history.items() if m < cutoff and v != 0]
    if not present:
        return None
    first = min(present)
    series = {m: history.get(m, Decimal(0)) for m in range(first, cutoff)}
    ratios: dict[int, list[Decimal]] = {}
    for t in range(first + 6, cutoff - 6):
        cma = (
            series[t - 6] / 2
            + sum((series[t + k] for k in range(-5, 6)), Decimal(0))
            + series[t + 6] / 2
        ) / 12
        if cma > 0:
            ratios.setdefault(t % 12 + 1, []).append(series[t] / cma)
    raw = {m: sum(rs, Decimal(0)) / len(rs) for m, rs in ratios.items()}
    if len(raw) == 12:
        mean = sum(raw.values(), Decimal(0)) / 12
        indices = {m: v / mean for m, v in raw.items()} if mean > 0 else {}
    else:
        indices = {}  # an index from part of a year would not average to 1: none
    window = range(max(first, cutoff - 12), cutoff)
    last12 = sum((series[m] for m in window), Decimal(0))
    previous12 = None
    growth = None
    if cutoff - first >= 24:
        previous12 = sum((series[m] for m in range(cutoff - 24, cutoff - 12)), Decimal(0))
        if previous12 > 0:
            growth = last12 / previous12 - 1
    # Level: the mean deseasonalised month of the last (up to) 12 months.
    deseason = [
        series[m] / indices[m % 12 + 1] if indices.get(m % 12 + 1) else series[m] for m in window
    ]
    level = sum(deseason, Decimal(0)) / len(deseason)
    return SeasonalModel(
        first=first,
        cutoff=cutoff,
        indices=indices,
        index_months={m: len(rs) for m, rs in ratios.items()} if indices else {},
        growth=growth,
        last12=last12,
        previous12=previous12,
        level=level,
    )


@dataclass(frozen=True, slots=True)
class Flag:
    """Something the planner should know about a suggestion or a plan."""

    code: str
    message: str


@dataclass
class Suggestion:
    """Suggested baseline, target and stretch, with the reasoning as data."""

    baseline: Decimal | None
    target: Decimal | None
    stretch: Decimal | None
    reasoning: dict[str, Any]
    steps: list[str]
    flags: list[Flag] = field(default_factory=list)


def _round(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def _pct(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f}%"


def period_months(period: Period) -> list[int]:
    """Month indexes a period covers (a week: the month of its Thursday)."""
    if period.kind == "week":
        return [month_index(period.start + timedelta(days=3))]
    return list(range(month_index(period.start), month_index(period.end)))


def suggest_additive(
    *,
    history: Mapping[int, Decimal],
    cutoff: int,
    period: Period,
    week_share: Decimal | None,
    growth: Decimal | None,
    direction: str,
    places: int,
    cap: Decimal = DEFAULT_CAP,
    margin: Decimal = DEFAULT_MARGIN,
    uplift: Decimal = DEFAULT_UPLIFT,
) -> Suggestion:
    """Suggest values for a sum or count KPI from monthly history (see the module docstring).

    * baseline: what history projects, the trend growth capped at ``cap`` a year;
    * target: the same period last year x (1 + ``growth``) when a growth goal is given
      (capped at ``cap``), else the baseline;
    * stretch: the better of baseline and target, ``uplift`` further (within the cap).

    ``week_share`` is the week's share of its month (working days) for week periods.
    Lower-is-better KPIs apply growth as a reduction.
    """
    sign = Decimal(-1) if direction == "lower" else Decimal(1)
    model = seasonal_model(history, cutoff=cutoff)
    months = period_months(period)
    factor = week_share if period.kind == "week" and week_share is not None else Decimal(1)
    reasoning: dict[str, Any] = {
        "method": "seasonal model: level x trend x seasonal index (ratio to moving average)",
        "history": None,
        "seasonality": None,
        "trend": None,
        "last_year": None,
        "growth_goal": None,
        "caps": {"growth_cap": str(cap), "history_margin": str(margin), "applied": []},
    }
    steps: list[str] = []
    flags: list[Flag] = []
    if model is None:
        flags.append(Flag("no_history", "no history for this KPI and scope: nothing to suggest"))
        return Suggestion(None, None, None, reasoning, ["no history"], flags)
    reasoning["history"] = {
        "from": month_start(model.first).isoformat(),
        "to": (month_start(model.cutoff) - timedelta(days=1)).isoformat(),
        "months": model.months,
        "last_12_months": str(model.last12),
        "previous_12_months": None if model.previous12 is None else str(model.previous12),
    }
    if model.months < 12:
        flags.append(
            Flag("insufficient_history", f"only {model.months} months of history (12+ needed)")
        )
    share = (
        sum((model.indices.get(m % 12 + 1, Decimal(1)) for m in months), Decimal(0)) / 12 * factor
    )
    reasoning["seasonality"] = {
        "indices": {f"{m:02d}": str(_round(v, 4)) for m, v in sorted(model.indices.items())},
        "period_months": [month_start(m).strftime("%Y-%m") for m in months],
        "period_share_of_year": str(_round(share, 4)),
        "week_share_of_month": None if period.kind != "week" else str(_round(factor, 4)),
        "learned": bool(model.indices),
    }
    steps.append(
        f"history {month_start(model.first):%Y-%m}..{month_start(model.cutoff - 1):%Y-%m} "
        f"({model.months} months); last 12 months {model.last12}"
    )
    if model.indices:
        shown = ", ".join(
            f"{month_start(m):%m}={_round(model.indices[m % 12 + 1], 2)}" for m in months
        )
        steps.append(
            f"seasonality: {period.key} is {_round(share * 100, 1)}% of a year (index {shown})"
        )
    else:
        steps.append("seasonality: not enough history (13+ months): every month weighs the same")
    trend = model.growth
    applied_trend = trend if trend is not None else Decimal(0)
    if trend is not None and trend > cap:
        applied_trend = cap
        reasoning["caps"]["applied"].append("trend")
    elif trend is not None and trend < -cap:
        applied_trend = -cap
        reasoning["caps"]["applied"].append("trend")
    reasoning["trend"] = {
        "growth": None if trend is None else str(_round(trend, 4)),
        "applied": str(_round(applied_trend, 4)),
        "basis": "last 12 months over the 12 months before",
    }
    steps.append(
        f"trend: {_pct(trend)} a year"
        + (f", capped at {_pct(applied_trend)}" if applied_trend != (trend or 0) else "")
        if trend is not None
        else "trend: under 24 months of history, no growth assumed"
    )
    projected = sum((model.estimate(m, applied_trend) for m in months), Decimal(0)) * factor
    last_year_months = [m - 12 for m in months]
    ly_raw = None
    if all(model.first <= m < model.cutoff for m in last_year_months):
        ly_raw = sum((history.get(m, Decimal(0)) for m in last_year_months), Decimal(0)) * factor
    ly_model = (
        sum((model.estimate(m, applied_trend) for m in last_year_months), Decimal(0)) * factor
    )
    basis = ly_raw if ly_raw is not None and ly_raw > 0 else ly_model
    reasoning["last_year"] = {
        "months": [month_start(m).strftime("%Y-%m") for m in last_year_months],
        "actual": None if ly_raw is None else str(_round(ly_raw, places)),
        "modelled": str(_round(ly_model, places)),
        "basis": "actual" if basis is ly_raw else "modelled",
    }
    baseline = projected
    steps.append(f"baseline: history projects {_round(projected, places)} for {period.key}")
    target = baseline
    if growth is not None:
        applied_growth = growth
        if growth > cap:
            applied_growth = cap
            reasoning["caps"]["applied"].append("growth_goal")
            flags.append(
                Flag(
                    "growth_above_cap",
                    f"the growth goal {_pct(growth)} is above the cap {_pct(cap)}: "
                    f"the target uses {_pct(cap)}",
                )
            )
        target = basis * (1 + sign * applied_growth)
        reasoning["growth_goal"] = {
            "requested": str(growth),
            "applied": str(applied_growth),
            "on": str(_round(basis, places)),
        }
        steps.append(
            f"target: last year's {_round(basis, places)} {'-' if sign < 0 else '+'}"
            f"{_round(applied_growth * 100, 1)}% goal = {_round(target, places)}"
        )
        beyond = growth - max(trend or Decimal(0), Decimal(0))
        if beyond > margin:
            flags.append(
                Flag(
                    "growth_beyond_history",
                    f"the goal needs {_pct(growth)} but history grew {_pct(trend)} a year: "
                    f"{_round(beyond * 100, 1)} points beyond it (more than "
                    f"{_round(margin * 100, 1)})",
                )
            )
    else:
        steps.append("target: no growth goal given, the baseline")
    better = max(baseline, target) if sign > 0 else min(baseline, target)
    stretch = better * (1 + sign * uplift)
    ceiling = basis * (1 + cap) if sign > 0 else None
    if ceiling is not None and basis > 0 and stretch > ceiling and better <= ceiling:
        stretch = ceiling
        reasoning["caps"]["applied"].append("stretch")
    steps.append(
        f"stretch: {_round(better, places)} {'-' if sign < 0 else '+'}"
        f"{_round(uplift * 100, 1)}% = {_round(stretch, places)}"
    )
    # Order: baseline <= target <= stretch (reversed when lower is better).
    baseline = min(baseline, target) if sign > 0 else max(baseline, target)
    return Suggestion(
        _round(baseline, places),
        _round(target, places),
        _round(stretch, places),
        reasoning,
        steps,
        flags,
    )


def suggest_ratio(
    *,
    trailing: Decimal | None,
    trailing_sample: int,
    last_year: Decimal | None,
    growth: Decimal | None,
    direction: str,
    unit: str,
    cap: Decimal = DEFAULT_CAP,
    uplift: Decimal = DEFAULT_UPLIFT,
) -> Suggestion:
    """Suggest values for a ratio or average KPI: the last 12 months' value, improved.

    Ratios do not add up over months, so there is no seasonal sum: the baseline is the
    ratio over the last 12 months; growth is a relative improvement (down when lower is
    better); ratios stay within [0, 1].
    """
    reasoning: dict[str, Any] = {
        "method": "ratio: value over the last 12 months (numerator and denominator summed)",
        "last_12_months": None if trailing is None else str(_round(trailing, 4)),
        "sample": trailing_sample,
        "last_year_same_period": None if last_year is None else str(_round(last_year, 4)),
        "growth_goal": None if growth is None else str(growth),
        "caps": {"growth_cap": str(cap), "applied": []},
    }
    if trailing is None:
        return Suggestion(
            None,
            None,
            None,
            reasoning,
            ["no history"],
            [Flag("no_history", "no history for this KPI and scope: nothing to suggest")],
        )
    sign = Decimal(-1) if direction == "lower" else Decimal(1)
    applied = growth if growth is not None else Decimal(0)
    flags = []
    if applied > cap:
        applied = cap
        reasoning["caps"]["applied"].append("growth_goal")
        flags.append(Flag("growth_above_cap", f"the goal is above the cap {_pct(cap)}"))
    target = trailing * (1 + sign * applied)
    stretch = target * (1 + sign * uplift)
    if unit == "ratio":
        target, stretch = min(target, Decimal(1)), min(stretch, Decimal(1))
    steps = [
        f"baseline: the last 12 months' value {_round(trailing, 4)} ({trailing_sample} records)",
        f"target: {_pct(sign * applied)} relative = {_round(target, 4)}",
        f"stretch: {_pct(sign * uplift)} further = {_round(stretch, 4)}",
    ]
    return Suggestion(
        _round(trailing, 4), _round(target, 4), _round(stretch, 4), reasoning, steps, flags
    )


# -- SMART check --------------------------------------------------------------------------

Severity = Literal["error", "warning", "info"]
MAX_CORE_KPIS: Final = 5


@dataclass(frozen=True, slots=True)
class Finding:
    """One SMART rule or pitfall a plan breaks, with what to do about it."""

    rule: str
    severity: Severity
    message: str
    fix: str
    kpi: str | None = None
    target_index: int | None = None


@dataclass(frozen=True, slots=True)
class PlanKpi:
    """What the check knows about a KPI of the plan (``None`` fields: not applicable)."""

    key: str
    known: bool  # has a definition (a formula)
    category: str | None  # result | process | capability
    event_types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanTarget:
    """A target of the plan, with the facts the check needs about it."""

    index: int
    kpi: str
    scope: str
    period: str | None  # None: not given
    period_valid: bool
    period_ended: bool
    value: Decimal
    has_parent: bool  # names a parent goal (or is the company's top goal)
    recent_events: bool | None  # None: unknown KPI
    required_growth: Decimal | None  # over the same period last year; None: no basis
    history_growth: Decimal | None  # trend growth of the scope's history


@dataclass(frozen=True, slots=True)
class PlanFacts:
    """A plan with the facts gathered about it."""

    items: tuple[tuple[str, Decimal], ...]  # the role template's (kpi, weight)
    kpis: Mapping[str, PlanKpi]
    targets: tuple[PlanTarget, ...]
    lookback_days: int = 90
    margin: Decimal = DEFAULT_MARGIN


def check_plan(plan: PlanFacts) -> list[Finding]:
    """Every finding of the SMART rules and the known pitfalls, in rule order."""
    out: list[Finding] = []
    keys = [k for k, _w in plan.items]
    target_kpis = [t.kpi for t in plan.targets]
    # Specific: every KPI has a definition with a formula.
    for key in dict.fromkeys([*keys, *target_kpis]):
        info = plan.kpis.get(key)
        if info is None or not info.known:
            out.append(
                Finding(
                    "not_specific",
                    "error",
                    f"{key!r} has no definition: nobody can say what counts",
                    "use a catalog KPI or define it with a formula (POST /v1/kpis)",
                    kpi=key,
                )
            )
    for t in plan.targets:
        info = plan.kpis.get(t.kpi)
        if info is None or not info.known:
            continue
        # Measurable: events of the formula's types arrived recently.
        if t.recent_events is False:
            types = ", ".join(info.event_types) or "any"
            out.append(
                Finding(
                    "not_measurable",
                    "warning",
                    f"no {types} events for {t.scope} in the last {plan.lookback_days} days: "
                    f"{t.kpi} cannot be measured from what is logged",
                    f"send {types} events (CRM webhook, POST /v1/events) or import history "
                    "(POST /v1/imports) before setting this target",
                    kpi=t.kpi,
                    target_index=t.index,
                )
            )
        # Achievable: required growth within history plus a margin.
        if t.required_growth is not None:
            history = t.history_growth if t.history_growth is not None else Decimal(0)
            if t.required_growth - max(history, Decimal(0)) > plan.margin:
                out.append(
                    Finding(
                        "not_achievable",
                        "warning",
                        f"{t.kpi} for {t.scope} needs {_pct(t.required_growth)} over last "
                        f"year; history grew {_pct(t.history_growth)} a year",
                        f"lower the target toward {_pct(max(history, Decimal(0)) + plan.margin)}"
                        " growth (GET /v1/targets/suggestions), or plan what changes "
                        "(headcount, territory, product) to justify it",
                        kpi=t.kpi,
                        target_index=t.index,
                    )
                )
        # Relevant: linked to a parent goal.
        if not t.has_parent:
            out.append(
                Finding(
                    "not_relevant",
                    "warning",
                    f"the {t.kpi} target for {t.scope} is not linked to a parent goal",
                    "set parent_id to the team or company target it contributes to "
                    "(POST /v1/targets/decompose links them for you)",
                    kpi=t.kpi,
                    target_index=t.index,
                )
            )
        # Time-bound: a valid period that has not ended.
        if t.period is None or not t.period_valid:
            out.append(
                Finding(
                    "not_time_bound",
                    "error",
                    f"the {t.kpi} target has no valid period"
                    + (f" ({t.period!r})" if t.period else ""),
                    "give a period: 2027, 2027-Q1, 2027-03 or 2027-W09",
                    kpi=t.kpi,
                    target_index=t.index,
                )
            )
        elif t.period_ended:
            out.append(
                Finding(
                    "not_time_bound",
                    "warning",
                    f"the period {t.period} of the {t.kpi} target has already ended",
                    "set the target for a current or future period",
                    kpi=t.kpi,
                    target_index=t.index,
                )
            )
    if len(set(keys)) > MAX_CORE_KPIS:
        out.append(
            Finding(
                "too_many_core_kpis",
                "warning",
                f"{len(set(keys))} core KPIs: attention spreads thin beyond {MAX_CORE_KPIS}",
                f"keep at most {MAX_CORE_KPIS} weighted KPIs; track the others without weight",
            )
        )
    total = sum((w for _k, w in plan.items), Decimal(0))
    if plan.items and total != 100:
        out.append(
            Finding(
                "weights_not_100",
                "error",
                f"the weights sum to {total.normalize():f}, not 100",
                "rescale the weights so they sum to 100 (default mix result 60 / process 30 / "
                "capability 10)",
            )
        )
    categories = {plan.kpis[k].category for k in keys if k in plan.kpis and plan.kpis[k].known}
    if categories and "process" not in categories and "result" in categories:
        out.append(
            Finding(
                "result_only",
                "warning",
                "only result KPIs: nothing says what to do to get there",
                "add process KPIs (visits, quotes, win rate) that lead to the results",
            )
        )
    if categories and "result" not in categories and "process" in categories:
        out.append(
            Finding(
                "process_only",
                "warning",
                "only process KPIs: activity without the outcome it is for",
                "add the result KPI the activity should produce (revenue, deals won)",
            )
        )
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            out.append(
                Finding(
                    "duplicated_kpi",
                    "error",
                    f"{key} appears more than once in the template",
                    "keep one entry per KPI and merge the weights",
                    kpi=key,
                )
            )
        seen.add(key)
    seen_targets: set[tuple[str, str, str | None]] = set()
    for t in plan.targets:
        ident = (t.kpi, t.scope, t.period)
        if ident in seen_targets:
            out.append(
                Finding(
                    "duplicated_kpi",
                    "error",
                    f"two targets for {t.kpi} / {t.scope} / {t.period}",
                    "keep one target per KPI, scope and period",
                    kpi=t.kpi,
                    target_index=t.index,
                )
            )
        seen_targets.add(ident)
    return out


# -- review drivers -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DriverEffect:
    """One driver's share of a gap, in the KPI's units."""

    driver: str
    planned: Decimal | None
    actual: Decimal | None
    effect: Decimal


def revenue_drivers(
    *,
    revenue: Decimal,
    deals: Decimal,
    quotes: Decimal,
    planned_revenue: Decimal,
    planned_deals: Decimal,
    planned_quotes: Decimal,
) -> list[DriverEffect]:
    """Split revenue - planned revenue into quotes, win-rate and deal-size effects.

    revenue = quotes x win rate x average deal, with win rate = deals won / quotes and
    average deal = revenue / deals won. Sequential substitution: the quotes effect at the
    planned win rate and deal size, the win-rate effect at the actual quotes and planned
    deal size, the deal-size effect at the actual deals. The three add up exactly to the
    gap (zero denominators count as zero).
    """

    def div(a: Decimal, b: Decimal) -> Decimal:
        return a / b if b else Decimal(0)

    size_p, size_a = div(planned_revenue, planned_deals), div(revenue, deals)
    rate_p, rate_a = div(planned_deals, planned_quotes), div(deals, quotes)
    quotes_effect = (quotes - planned_quotes) * rate_p * size_p
    rate_effect = quotes * (rate_a - rate_p) * size_p
    gap = revenue - planned_revenue
    size_effect = gap - quotes_effect - rate_effect  # = deals x (size_a - size_p) when exact
    return [
        DriverEffect("quotes", planned_quotes, quotes, quotes_effect),
        DriverEffect("win_rate", rate_p, rate_a if quotes else None, rate_effect),
        DriverEffect("average_deal", size_p, size_a if deals else None, size_effect),
    ]


def deals_drivers(
    *, deals: Decimal, quotes: Decimal, planned_deals: Decimal, planned_quotes: Decimal
) -> list[DriverEffect]:
    """Split deals won - planned into the quotes and win-rate effects (deals = quotes x rate)."""
    rate_p = planned_deals / planned_quotes if planned_quotes else Decimal(0)
    rate_a = deals / quotes if quotes else Decimal(0)
    quotes_effect = (quotes - planned_quotes) * rate_p
    return [
        DriverEffect("quotes", planned_quotes, quotes, quotes_effect),
        DriverEffect(
            "win_rate", rate_p, rate_a if quotes else None, deals - planned_deals - quotes_effect
        ),
    ]
