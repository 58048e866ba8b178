"""One rep's earnings for a period, from figures already read (pure).

The read side (``paceline.shared.readmodel.earnings``) gathers a :class:`RepInputs`:
the rep's plan segments (which plan version on which days, and the share of the period's
days that is), the KPI figures the plans read (period to date, with targets), the own
amount of each commission KPI per segment (what was booked on the segment's days, less
adjustments from closed months), spiff counts, pool allocations, and the adjustments
booked into the period from closed months with the rate each source month paid.
:func:`rep_earnings` turns that into lines:

- a **commission** line per segment: the plan's table applied to the period's own amount
  (tiers by attainment of the rep's target), times the segment's part of that amount;
- a **bonus** line per segment: amount × curve(attainment) × the segment's share;
- a **spiff** line per segment: amount × the qualifying count on the segment's days in
  the window (at most ``max_count`` over the period);
- a **pool** line per segment: the rep's allocation of the team pool;
- gates and modifiers multiply the lines they apply to (a withheld line is kept, at 0,
  with the gate that withheld it);
- a **clawback** (negative) or **true-up** (positive) line per commission component and
  source month: an adjustment from a closed month, at the rate that month paid.

:func:`add_amount` and :func:`add_deltas` give the inputs with more of a KPI (next tier,
what-if); the difference of two earnings is what the extra earns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

from paceline.shared.kpi.incentives.payout import (
    ONE,
    ZERO,
    CurvePoints,
    clamp,
    commission,
    next_point,
    next_tier_start,
    payout_exact,
    resolve_curve,
    round_money,
    tier_index,
    to_decimal,
)
from paceline.shared.kpi.incentives.plans import (
    Bonus,
    Commission,
    Gate,
    Modifier,
    PlanBody,
    Pool,
    Spiff,
    default_targets,
)
from paceline.shared.kpi.scorecards import UNCAPPED, attainment, scored_item, weighted_score


@dataclass(frozen=True, slots=True)
class Figure:
    """A KPI for a scope, period to date: its parts, its target, its direction."""

    kpi: str
    shape: str  # value | ratio | working_day_share
    factor: Decimal
    numerator: Decimal | None
    denominator: Decimal | None
    sample: int = 0
    min_sample: int = 0
    direction: str = "higher"
    target: Decimal | None = None
    baseline: Decimal | None = None
    stretch: Decimal | None = None
    additive: bool = True

    @property
    def actual(self) -> Decimal | None:
        """The KPI's value (None for a ratio without denominator)."""
        if self.shape == "value":
            return (self.numerator or ZERO) * self.factor
        if self.numerator is None or not self.denominator:
            return None
        return self.numerator / self.denominator * self.factor

    def attainment(self, cap: Decimal = UNCAPPED) -> Decimal | None:
        """Actual against target (direction-aware; None without a target or sample)."""
        actual = self.actual
        if self.target is None or actual is None:
            return None
        if self.shape != "value" and self.sample < self.min_sample:
            return None
        return attainment(actual, self.target, self.direction, cap)

    def target_attainment(self, value: Decimal | None) -> Decimal | None:
        """A target tier (baseline, stretch) as an attainment of the target."""
        if value is None or self.target is None:
            return None
        return attainment(value, self.target, self.direction, UNCAPPED)


@dataclass(frozen=True, slots=True)
class Segment:
    """Days of the period under one plan version, and their share of the period's days."""

    plan: str
    version: int
    body: PlanBody
    start: date
    end: date  # exclusive
    share: Fraction  # exact: days / the month's days


@dataclass(frozen=True, slots=True)
class PoolInput:
    """A rep's part in a team pool for one segment."""

    team: str
    weight: Fraction  # the rep's weight × share of days
    others: Fraction  # the sum of the other members' weights × shares
    allocated: Decimal | None = None  # the rounded allocation when the team was split


@dataclass(frozen=True, slots=True)
class Adjustment:
    """Units of a KPI booked into the period from a closed month (value terms)."""

    kpi: str
    source_period: str
    amount: Decimal
    count: int


@dataclass(frozen=True, slots=True)
class SourceRate:
    """What a closed month paid per unit of a commission KPI, by plan component."""

    plan: str
    version: int
    component: str
    rate: Fraction  # exact: commission paid / base


@dataclass(frozen=True, slots=True)
class RepInputs:
    """Everything one rep's earnings are computed from."""

    rep: str
    currency: str
    segments: tuple[Segment, ...]
    figures: Mapping[str, Figure]  # the rep's, period to date
    team_figures: Mapping[str, Figure] = field(default_factory=dict)  # the rep's team's
    score_items: tuple[tuple[str, Decimal], ...] = ()  # the scorecard: (kpi, weight)
    score_cap: Decimal = Decimal("1.5")
    own: Mapping[tuple[int, str], Decimal] = field(default_factory=dict)  # (segment, kpi)
    # The period's own amount per commission KPI over every day of the month (on any
    # plan): the tiers are reached by the month's attainment.
    own_period: Mapping[str, Decimal] = field(default_factory=dict)
    counts: Mapping[tuple[int, str], Decimal] = field(default_factory=dict)  # (seg, spiff)
    pools: Mapping[tuple[int, str], PoolInput] = field(default_factory=dict)  # (seg, pool)
    adjustments: tuple[Adjustment, ...] = ()
    source_rates: Mapping[tuple[str, str], tuple[SourceRate, ...]] = field(
        default_factory=dict
    )  # (source month, kpi)

    def own_total(self, kpi: str) -> Decimal:
        """The period's own amount of a KPI (over every segment when not given)."""
        if kpi in self.own_period:
            return self.own_period[kpi]
        return sum((v for (_s, k), v in self.own.items() if k == kpi), ZERO)


@dataclass(frozen=True, slots=True)
class Applied:
    """A gate or modifier as it applied to a line."""

    key: str
    type: str
    passed: bool | None  # gates: passed; modifiers: None
    factor: Decimal


@dataclass(frozen=True, slots=True)
class Line:
    """One line of earnings: what it pays, and every figure it was computed from."""

    kind: str  # commission | bonus | spiff | pool | clawback | true_up
    component: str
    plan: str
    version: int
    start: date | None  # the segment's days (None for clawbacks)
    end: date | None
    share: Decimal  # of the period's days
    basis: str  # KPI key or scorecard
    base: Decimal | None  # amount, count, or pool the line is computed on
    attainment: Decimal | None
    rate: Decimal | None  # commission: effective rate; bonus/pool: payout fraction
    tier: int | None  # commission tier reached (0-based)
    factor: Decimal  # gates and modifiers multiplied
    applied: tuple[Applied, ...]
    exact: Fraction  # the exact amount, rounded once into ``amount``
    amount: Decimal  # rounded to the minor unit (half up)
    source_period: str | None = None
    team: str | None = None
    split: Decimal | None = None  # pool: the rep's part of the pool


@dataclass(frozen=True, slots=True)
class NextTier:
    """How much more of a KPI reaches the next tier or curve point, and what it adds."""

    component: str
    kpi: str
    at: Decimal  # the attainment reached
    more: Decimal  # KPI units needed
    gain: Decimal  # total earnings added (rounded lines)


@dataclass(frozen=True, slots=True)
class Earnings:
    """A rep's lines and total."""

    rep: str
    currency: str
    lines: tuple[Line, ...]
    score: Decimal | None  # the scorecard attainment (1 = 100), when a plan reads it

    @property
    def total(self) -> Decimal:
        """The sum of the rounded lines."""
        return sum((ln.amount for ln in self.lines), ZERO)

    def by_component(self) -> dict[str, Decimal]:
        """Totals per component key."""
        out: dict[str, Decimal] = {}
        for ln in self.lines:
            out[ln.component] = out.get(ln.component, ZERO) + ln.amount
        return out


def score_of(inputs: RepInputs) -> Decimal | None:
    """The scorecard attainment (1 = 100%, capped like the scorecard) from the figures."""
    if not inputs.score_items:
        return None
    items = []
    for kpi, weight in inputs.score_items:
        f = inputs.figures.get(kpi)
        if f is None:
            continue
        sampled = f.shape == "value" or f.sample >= f.min_sample  # as scorecards judge
        items.append(
            scored_item(
                weight,
                actual=f.actual if sampled else None,
                target=f.target,
                baseline=f.baseline,
                stretch=f.stretch,
                direction=f.direction,
                cap=inputs.score_cap,
            )
        )
    if not items:
        return None
    score = weighted_score(items).score
    return score / 100 if score is not None else None


def _curve_of(c: Bonus | Pool, figure: Figure | None) -> CurvePoints:
    if figure is None:
        return resolve_curve(c)
    return resolve_curve(
        c,
        baseline=figure.target_attainment(figure.baseline),
        stretch=figure.target_attainment(figure.stretch),
    )


def _conditions(
    body: PlanBody, inputs: RepInputs
) -> list[tuple[Gate | Modifier, Decimal, bool | None]]:
    """Each gate and modifier of a plan with the factor it applies and, for gates,
    whether it passed."""
    out: list[tuple[Gate | Modifier, Decimal, bool | None]] = []
    for c in body.components:
        if isinstance(c, Gate):
            f = inputs.figures.get(c.kpi)
            value = None
            # A ratio below its minimum sample is no data (as in scorecards).
            if f is not None and (f.shape == "value" or f.sample >= f.min_sample):
                value = f.attainment() if c.on == "attainment" else f.actual
            if value is None:
                passed = c.when_no_data == "pass"
            elif c.min is not None:
                passed = value >= c.min
            else:
                assert c.max is not None
                passed = value <= c.max
            factor = ONE if passed else (ZERO if c.effect == "withhold" else c.factor)
            out.append((c, factor, passed))
        elif isinstance(c, Modifier):
            f = inputs.figures.get(c.kpi)
            value = f.actual if f is not None else None
            factor = ONE if value is None else clamp(ONE + c.per_unit * value, c.floor, c.ceiling)
            out.append((c, factor, None))
    return out


def _applied(
    conditions: Sequence[tuple[Gate | Modifier, Decimal, bool | None]],
    c: Commission | Bonus | Spiff | Pool,
) -> tuple[Decimal, tuple[Applied, ...]]:
    factor = ONE
    applied = []
    for cond, f, passed in conditions:
        if default_targets(cond)(c):
            factor *= f
            applied.append(Applied(cond.key, cond.type, passed, f))
    return factor, tuple(applied)


def rep_earnings(inputs: RepInputs) -> Earnings:
    """The rep's earnings lines for the period (see the module docstring)."""
    lines: list[Line] = []
    score = score_of(inputs)
    counted: dict[tuple[str, str], Decimal] = {}  # (plan, spiff) -> units paid so far
    for s_index, seg in enumerate(inputs.segments):
        conditions = _conditions(seg.body, inputs)
        for c in seg.body.paying():
            factor, applied = _applied(conditions, c)
            line = _line(inputs, s_index, seg, c, score)
            if line is None:
                continue
            if isinstance(c, Spiff) and c.max_count is not None and line.base is not None:
                used = counted.get((seg.plan, c.key), ZERO)
                units = max(ZERO, min(line.base, c.max_count - used))
                counted[(seg.plan, c.key)] = used + units
                line = replace(line, base=units, exact=Fraction(c.amount * units))
            exact = line.exact * Fraction(factor)
            lines.append(
                replace(
                    line,
                    factor=factor,
                    applied=applied,
                    exact=exact,
                    amount=round_money(exact, inputs.currency),
                )
            )
    lines.extend(_clawbacks(inputs))
    return Earnings(inputs.rep, inputs.currency, tuple(lines), score)


def _base_line(kind: str, c: Commission | Bonus | Spiff | Pool, seg: Segment, basis: str) -> Line:
    return Line(
        kind=kind,
        component=c.key,
        plan=seg.plan,
        version=seg.version,
        start=seg.start,
        end=seg.end,
        share=to_decimal(seg.share),
        basis=basis,
        base=None,
        attainment=None,
        rate=None,
        tier=None,
        factor=ONE,
        applied=(),
        exact=Fraction(0),
        amount=ZERO,
    )


def _line(
    inputs: RepInputs,
    s_index: int,
    seg: Segment,
    c: Commission | Bonus | Spiff | Pool,
    score: Decimal | None,
) -> Line | None:
    if isinstance(c, Commission):
        return _commission_line(inputs, s_index, seg, c)
    if isinstance(c, Bonus):
        figure = None
        if c.basis == "scorecard":
            att = score
        else:
            source = inputs.team_figures if c.scope == "team" else inputs.figures
            figure = source.get(c.basis)
            att = figure.attainment() if figure is not None else None
        fraction = payout_exact(_curve_of(c, figure), att)
        line = _base_line("bonus", c, seg, c.basis)
        return replace(
            line,
            base=c.amount,
            attainment=att,
            rate=to_decimal(fraction),
            exact=Fraction(c.amount) * fraction * Fraction(seg.share),
        )
    if isinstance(c, Spiff):
        count = inputs.counts.get((s_index, c.key), ZERO)
        line = _base_line("spiff", c, seg, c.kpi)
        return replace(line, base=count, rate=c.amount, exact=Fraction(c.amount * count))
    pool = inputs.pools.get((s_index, c.key))
    if pool is None:
        return None
    figure = inputs.team_figures.get(c.basis)
    att = figure.attainment() if figure is not None else None
    fraction = payout_exact(_curve_of(c, figure), att)
    total = Fraction(c.amount) * fraction
    weights = pool.weight + pool.others
    split = pool.weight / weights if weights > 0 else Fraction(0)
    line = _base_line("pool", c, seg, c.basis)
    return replace(
        line,
        base=to_decimal(total),
        attainment=att,
        rate=to_decimal(fraction),
        exact=total * split,
        team=pool.team,
        split=to_decimal(split),
    )


def _commission_line(inputs: RepInputs, s_index: int, seg: Segment, c: Commission) -> Line:
    figure = inputs.figures.get(c.kpi)
    quota = figure.target if figure is not None else None
    total = inputs.own_total(c.kpi)
    part = inputs.own.get((s_index, c.kpi), ZERO)
    att = total / quota if quota is not None and quota > 0 else None
    paid = commission(total, quota, c.tiers, c.mode)
    # The segment's part of the commission the plan's table pays on the period's amount.
    if part == total:
        exact = Fraction(paid)
    elif total != 0:
        exact = Fraction(paid) * Fraction(part) / Fraction(total)
    else:
        exact = Fraction(part * c.tiers[0].rate)
    rate = to_decimal(Fraction(paid) / Fraction(total)) if total != 0 else c.tiers[0].rate
    line = _base_line("commission", c, seg, c.kpi)
    return replace(
        line,
        base=part,
        attainment=att,
        rate=rate,
        tier=tier_index(c.tiers, att),
        exact=exact,
    )


def _clawbacks(inputs: RepInputs) -> list[Line]:
    out = []
    for adj in inputs.adjustments:
        for rate in inputs.source_rates.get((adj.source_period, adj.kpi), ()):
            exact = Fraction(adj.amount) * rate.rate
            out.append(
                Line(
                    kind="clawback" if adj.amount < 0 else "true_up",
                    component=rate.component,
                    plan=rate.plan,
                    version=rate.version,
                    start=None,
                    end=None,
                    share=ONE,
                    basis=adj.kpi,
                    base=adj.amount,
                    attainment=None,
                    rate=to_decimal(rate.rate),
                    tier=None,
                    factor=ONE,
                    applied=(),
                    exact=exact,
                    amount=round_money(exact, inputs.currency),
                    source_period=adj.source_period,
                )
            )
    return out


# -- more of a KPI: next tier and what-if ------------------------------------------------


def _add_to_figure(f: Figure, d_num: Decimal, d_den: Decimal) -> Figure:
    num = (f.numerator or ZERO) + d_num
    if f.shape == "value":
        return replace(f, numerator=num, sample=f.sample + 1)
    den = (f.denominator or ZERO) + d_den
    return replace(f, numerator=num, denominator=den, sample=f.sample + (1 if d_den else 0))


def add_deltas(
    inputs: RepInputs,
    deltas: Mapping[str, tuple[Decimal, Decimal]],
    *,
    day: date,
    spiffs: Mapping[str, Decimal] | None = None,
) -> RepInputs:
    """The inputs with more of some KPIs on ``day``: per KPI, the change of its first and
    second measure in value terms (a ratio's numerator and denominator); ``spiffs`` the
    extra qualifying units per spiff component."""
    figures = dict(inputs.figures)
    team = dict(inputs.team_figures)
    own = dict(inputs.own)
    own_period = dict(inputs.own_period)
    counts = dict(inputs.counts)
    seg_index = _segment_of(inputs, day)
    for kpi, (d0, d1) in deltas.items():
        if kpi in figures:
            figures[kpi] = _add_to_figure(figures[kpi], d0, d1)
        if kpi in team:
            team[kpi] = _add_to_figure(team[kpi], d0, d1)
        if kpi in figures and figures[kpi].shape == "value":
            if seg_index is not None and (seg_index, kpi) in own:
                own[(seg_index, kpi)] += d0 * figures[kpi].factor
            if kpi in own_period:
                own_period[kpi] += d0 * figures[kpi].factor
    if seg_index is not None:
        for key, extra in (spiffs or {}).items():
            if (seg_index, key) in counts:
                counts[(seg_index, key)] += extra
    return replace(
        inputs, figures=figures, team_figures=team, own=own, own_period=own_period, counts=counts
    )


def add_amount(inputs: RepInputs, kpi: str, amount: Decimal) -> RepInputs:
    """The inputs with ``amount`` more of an additive KPI on the last segment's days."""
    f = inputs.figures[kpi]
    last = inputs.segments[-1].start if inputs.segments else None
    if last is None:
        return inputs
    return add_deltas(inputs, {kpi: (amount / f.factor, ZERO)}, day=last)


def _segment_of(inputs: RepInputs, day: date) -> int | None:
    for i, seg in enumerate(inputs.segments):
        if seg.start <= day < seg.end:
            return i
    return None


def next_tiers(inputs: RepInputs, current: Earnings) -> list[NextTier]:
    """For each commission table and KPI bonus curve: the KPI amount that reaches its next
    tier or point, and what the rep's total gains with it (gates and modifiers included).
    Additive, higher-is-better KPIs with a target only."""
    out: list[NextTier] = []
    if not inputs.segments:
        return out
    body = inputs.segments[-1].body
    for c in body.paying():
        if isinstance(c, Commission):
            f = inputs.figures.get(c.kpi)
            if f is None or f.target is None or f.target <= 0 or not f.additive:
                continue
            total = inputs.own_total(c.kpi)
            nxt = next_tier_start(c.tiers, total / f.target)
            if nxt is None:
                continue
            more = nxt * f.target - total
        elif isinstance(c, Bonus) and c.basis != "scorecard" and c.scope == "rep":
            f = inputs.figures.get(c.basis)
            if f is None or f.target is None or f.target <= 0 or not f.additive:
                continue
            if f.direction != "higher" or f.actual is None:
                continue
            nxt = next_point(_curve_of(c, f), f.attainment())
            if nxt is None:
                continue
            more = nxt * f.target - f.actual
        else:
            continue
        if more <= 0:
            continue
        after = rep_earnings(add_amount(inputs, f.kpi, more))
        out.append(NextTier(c.key, f.kpi, nxt, more, after.total - current.total))
    return out
