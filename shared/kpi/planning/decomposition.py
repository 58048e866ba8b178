"""Decomposition: a goal split down the org and in time, every child summing to its parent.

The org split happens in the goal's period (:func:`decompose`, by given weights per
child); every org *leaf* (a rep, or a team with nobody under it) is then split in time,
level by level (:func:`time_tree`: year -> quarters -> months -> ISO weeks, each week
belonging to the period that holds its Thursday, so the weeks of a month sum exactly to
the month); an inner scope's value for a sub-period is the sum of its leaves' values. So
every target equals the sum of its children in both directions (team Q1 = its reps' Q1 =
its own months), exactly. Amounts are split by largest remainder in the currency's minor
unit (:func:`paceline.shared.money.split_largest_remainder`), counts in whole numbers;
ratio and average KPIs do not add up, so every child gets the goal's value. Baseline and
stretch are split with the same weights under bounds (:func:`split_bounded`), so each
child keeps baseline <= target <= stretch (the reverse when lower is better). Pure: no
I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Final, Literal

from paceline.shared.i18n import Invalid, msg
from paceline.shared.kpi.periods import Period, PeriodKind, parse_period
from paceline.shared.money import split_largest_remainder

KIND_ORDER: Final[dict[str, int]] = {"year": 0, "quarter": 1, "month": 2, "week": 3}

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
        raise Invalid(
            "planning.errors.level_not_finer",
            kind=msg(f"planning.period_kind.{kind}"),
            period=msg(f"planning.period_kind.{period.kind}"),
        )
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
    """A period split level by level (e.g. year -> quarter -> month -> week);
    :class:`~paceline.shared.i18n.Invalid` (a ValueError with a catalog message) unless
    each level is finer than the one before."""
    previous = KIND_ORDER[period.kind]
    for kind in levels:
        if KIND_ORDER[kind] <= previous:
            raise Invalid("planning.errors.levels_not_finer")
        previous = KIND_ORDER[kind]

    def build(p: Period, rest: Sequence[PeriodKind]) -> TimeNode:
        if not rest:
            return TimeNode(p)
        subs = sub_periods(p, rest[0], fiscal_year_start_month=fiscal_year_start_month)
        return TimeNode(p, tuple(build(s, rest[1:]) for s in subs))

    return build(period, list(levels))


# -- org trees and decomposition ---------------------------------------------------------

Split = Literal["goal", "org", "time", "sum", "copy"]  # how a target came from its parent
Splitter = Callable[[Values, Sequence[Decimal]], list[Values]]


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
    split: Split
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

    def split(parent: Values, weights: Sequence[Decimal]) -> list[Values]:
        if additive:
            return split_values(parent, weights, places=places, direction=direction)
        return [parent] * len(weights)

    out, in_goal_period, leaves = _split_org(
        goal, org, time.period, org_weight=org_weight, split=split, additive=additive
    )
    leaf_parts = _split_leaves_in_time(
        leaves, time, in_goal_period, time_weight=time_weight, split=split
    )
    out += _time_targets(org, time, goal, leaf_parts, additive=additive)
    return out


def _split_org(
    goal: Values,
    org: OrgNode,
    period: Period,
    *,
    org_weight: Callable[[OrgNode, OrgNode], Decimal],
    split: Splitter,
    additive: bool,
) -> tuple[list[PlannedTarget], dict[str, Values], list[OrgNode]]:
    """The goal split down the org in its period: the targets (the goal first, then each
    scope's children together), every scope's values, and the org leaves."""
    out = [PlannedTarget(org.scope, period, goal, None, "goal", None)]
    values: dict[str, Values] = {org.scope: goal}
    leaves: list[OrgNode] = []

    def down(node: OrgNode) -> None:
        if not node.children:
            leaves.append(node)
            return
        weights = [org_weight(node, c) for c in node.children]
        parts = split(values[node.scope], weights)
        wsum = sum(weights, Decimal(0))
        for child, v, w in zip(node.children, parts, weights, strict=True):
            values[child.scope] = v
            share = Fraction(w) / Fraction(wsum) if wsum else Fraction(1, len(weights))
            out.append(
                PlannedTarget(
                    child.scope,
                    period,
                    v,
                    (node.scope, period.key),
                    "org" if additive else "copy",
                    share if additive else None,
                )
            )
        for child in node.children:
            down(child)

    down(org)
    return out, values, leaves


def _split_leaves_in_time(
    leaves: Sequence[OrgNode],
    time: TimeNode,
    in_goal_period: Mapping[str, Values],
    *,
    time_weight: Callable[[TimeNode, TimeNode], Decimal],
    split: Splitter,
) -> dict[tuple[str, str], Values]:
    """(leaf scope, period key) -> values: every org leaf's values split level by level."""
    parts: dict[tuple[str, str], Values] = {}

    def down(scope: str, node: TimeNode) -> None:
        if not node.children:
            return
        parent_values = parts[(scope, node.period.key)]
        weights = [time_weight(node, c) for c in node.children]
        for child, v in zip(node.children, split(parent_values, weights), strict=True):
            parts[(scope, child.period.key)] = v
            down(scope, child)

    for leaf in leaves:
        parts[(leaf.scope, time.period.key)] = in_goal_period[leaf.scope]
        down(leaf.scope, time)
    return parts


def _time_targets(
    org: OrgNode,
    time: TimeNode,
    goal: Values,
    leaf_parts: Mapping[tuple[str, str], Values],
    *,
    additive: bool,
) -> list[PlannedTarget]:
    """Every scope's target in every sub-period: the sub-periods of one period together
    (each for every scope, the org in pre-order), then theirs."""
    scopes = _preorder(org)
    out: list[PlannedTarget] = []

    def emit(node: TimeNode) -> None:
        for child in node.children:
            for scope in scopes:
                out.append(_time_target(scope, node, child, goal, leaf_parts, additive=additive))
        for child in node.children:
            emit(child)

    emit(time)
    return out


def _time_target(
    scope: OrgNode,
    parent: TimeNode,
    child: TimeNode,
    goal: Values,
    leaf_parts: Mapping[tuple[str, str], Values],
    *,
    additive: bool,
) -> PlannedTarget:
    """A scope's target in a sub-period: a leaf's own split, an inner scope's leaves summed
    (ratios: the goal's values)."""
    key = child.period.key
    split: Split
    share = None
    if not scope.children:
        v = leaf_parts[(scope.scope, key)]
        split = "time" if additive else "copy"
        parent_values = leaf_parts[(scope.scope, parent.period.key)]
        if additive and parent_values.target:
            share = Fraction(v.target) / Fraction(parent_values.target)
    elif not additive:
        v, split = goal, "copy"
    else:
        members = _leaf_scopes(scope)
        v = leaf_parts[(members[0], key)]
        for m in members[1:]:
            v = _add(v, leaf_parts[(m, key)])
        split = "sum"
    return PlannedTarget(
        scope.scope, child.period, v, (scope.scope, parent.period.key), split, share
    )


def _preorder(node: OrgNode) -> list[OrgNode]:
    return [node, *(n for c in node.children for n in _preorder(c))]


def _leaf_scopes(node: OrgNode) -> list[str]:
    if not node.children:
        return [node.scope]
    return [s for c in node.children for s in _leaf_scopes(c)]


def _add(a: Values, b: Values) -> Values:
    return Values(
        a.target + b.target,
        None if a.baseline is None or b.baseline is None else a.baseline + b.baseline,
        None if a.stretch is None or b.stretch is None else a.stretch + b.stretch,
    )
