"""Planning maths: decomposition sums, time trees, bounded splits, suggestions, drivers."""

from __future__ import annotations

import itertools
import math
import zlib
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paceline.shared.kpi.calendar import WorkCalendar
from paceline.shared.kpi.periods import parse_period
from paceline.shared.kpi.planning.common import month_index
from paceline.shared.kpi.planning.decomposition import (
    OrgNode,
    PlannedTarget,
    TimeNode,
    Values,
    decompose,
    split_bounded,
    split_values,
    sub_periods,
    time_tree,
)
from paceline.shared.kpi.planning.drivers import deals_drivers, revenue_drivers
from paceline.shared.kpi.planning.suggestions import seasonal_model, suggest_additive

pytestmark = pytest.mark.dates

# -- strategies --------------------------------------------------------------------------


@st.composite
def org_trees(draw: st.DrawFn, depth: int = 3, prefix: str = "company") -> OrgNode:
    """A random org: teams nest, reps are leaves; sometimes an empty team."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return OrgNode(prefix)
    n = draw(st.integers(1, 4))
    kids = []
    for i in range(n):
        if draw(st.booleans()):
            kids.append(OrgNode(f"rep:{prefix}-{i}"))
        else:
            kids.append(draw(org_trees(depth - 1, f"team:{prefix}-{i}")))
    return OrgNode(prefix, tuple(kids))


@st.composite
def calendars(draw: st.DrawFn) -> WorkCalendar:
    """Random holidays and make-up working days in 2026-2028."""
    start = date(2026, 1, 1)
    offsets = st.integers(0, 3 * 366)
    holidays = {start + timedelta(days=d): "h" for d in draw(st.sets(offsets, max_size=60))}
    makeup = {start + timedelta(days=d): "w" for d in draw(st.sets(offsets, max_size=10))}
    return WorkCalendar(holidays=holidays, makeup_workdays=makeup)


@st.composite
def periods_and_levels(draw: st.DrawFn) -> tuple[str, list[str], int]:
    """A goal period (year, quarter or month) and finer levels in order."""
    fiscal = draw(st.integers(1, 12))
    kind = draw(st.sampled_from(["year", "quarter", "month"]))
    year = draw(st.integers(2026, 2027))
    if kind == "year":
        key = str(year)
        finer = ["quarter", "month", "week"]
    elif kind == "quarter":
        key = f"{year}-Q{draw(st.integers(1, 4))}"
        finer = ["month", "week"]
    else:
        key = f"{year}-{draw(st.integers(1, 12)):02d}"
        finer = ["week"]
    levels = [k for k in finer if draw(st.booleans())]
    return key, levels, fiscal


goals = st.decimals(min_value=Decimal(0), max_value=Decimal(10) ** 12, places=2)


def _children(plan: list[PlannedTarget]) -> dict[tuple[str, str], list[PlannedTarget]]:
    out: dict[tuple[str, str], list[PlannedTarget]] = defaultdict(list)
    for p in plan:
        if p.parent is not None:
            out[p.parent].append(p)
    return out


def _assert_exact(plan: list[PlannedTarget], *, places: int, direction: str = "higher") -> None:
    by_key = {p.key: p for p in plan}
    assert len(by_key) == len(plan), "one target per scope and period"
    quantum = Decimal(1).scaleb(-places)
    for p in plan:
        for v in (p.values.target, p.values.baseline, p.values.stretch):
            if v is not None:
                assert v % quantum == 0, f"{p.key}: {v} is not a multiple of {quantum}"
                assert v >= 0
        b, t, s = p.values.baseline, p.values.target, p.values.stretch
        if direction == "higher":
            assert b is None or b <= t
            assert s is None or s >= t
        else:
            assert b is None or b >= t
            assert s is None or s <= t
    for parent, kids in _children(plan).items():
        par = by_key[parent]
        # Children of one parent: the org split (same period) or the time split (same scope).
        groups: dict[str, list[PlannedTarget]] = defaultdict(list)
        for k in kids:
            groups["org" if k.period.key == par.period.key else "time"].append(k)
        for group in groups.values():
            assert sum((k.values.target for k in group), Decimal(0)) == par.values.target
            if par.values.baseline is not None:
                assert sum((k.values.baseline or 0 for k in group), Decimal(0)) == (
                    par.values.baseline
                )
            if par.values.stretch is not None:
                assert sum((k.values.stretch or 0 for k in group), Decimal(0)) == (
                    par.values.stretch
                )


# -- decomposition properties ------------------------------------------------------------


@given(
    goal=goals,
    gap=st.decimals(min_value=Decimal(0), max_value=Decimal(10) ** 6, places=2),
    org=org_trees(),
    spec=periods_and_levels(),
    calendar=calendars(),
    weights=st.lists(st.integers(0, 1000), min_size=64, max_size=64),
    time_method=st.sampled_from(["working_days", "even", "random"]),
    places=st.sampled_from([0, 2, 3]),
    direction=st.sampled_from(["higher", "lower"]),
)
def test_decomposition_sums_are_exact(
    goal: Decimal,
    gap: Decimal,
    org: OrgNode,
    spec: tuple[str, list[str], int],
    calendar: WorkCalendar,
    weights: list[int],
    time_method: str,
    places: int,
    direction: str,
) -> None:
    """Every parent equals the sum of its children, exactly, in the minor unit; order kept."""
    key, levels, fiscal = spec
    period = parse_period(key, fiscal_year_start_month=fiscal)
    tree = time_tree(period, levels, fiscal_year_start_month=fiscal)  # type: ignore[arg-type]
    quantum = Decimal(1).scaleb(-places)
    target = goal.quantize(quantum)
    other = min(gap.quantize(quantum), target)
    values = (
        Values(target, target - other, target + gap.quantize(quantum))
        if direction == "higher"
        else Values(target, target + gap.quantize(quantum), target - other)
    )

    def org_weight(parent: OrgNode, child: OrgNode) -> Decimal:
        return Decimal(weights[zlib.crc32(child.scope.encode()) % 64])

    def time_weight(parent: TimeNode, child: TimeNode) -> Decimal:
        if time_method == "working_days":
            return Decimal(calendar.working_days(child.period.start, child.period.end))
        if time_method == "even":
            return Decimal(1)
        return Decimal(weights[child.period.start.toordinal() % 64])

    plan = decompose(
        goal=values,
        org=org,
        time=tree,
        org_weight=org_weight,
        time_weight=time_weight,
        places=places,
        additive=True,
        direction=direction,
    )
    _assert_exact(plan, places=places, direction=direction)
    by_key = {p.key: p for p in plan}
    # Cross sums: a team's value for a sub-period is its children's for that sub-period.

    def walk(node: OrgNode) -> list[OrgNode]:
        return [node, *(n for c in node.children for n in walk(c))]

    scopes = walk(org)
    periods = {p.period.key for p in plan}
    for s in scopes:
        if not s.children:
            continue
        for pk in periods:
            kids = sum((by_key[(c.scope, pk)].values.target for c in s.children), Decimal(0))
            assert kids == by_key[(s.scope, pk)].values.target
    assert len(plan) == len(scopes) * len(periods)


@given(goal=st.integers(0, 10**9), org=org_trees(), spec=periods_and_levels())
def test_counts_stay_whole_numbers(
    goal: int, org: OrgNode, spec: tuple[str, list[str], int]
) -> None:
    """Counts (places 0) split into whole numbers that still add up."""
    key, levels, fiscal = spec
    period = parse_period(key, fiscal_year_start_month=fiscal)
    tree = time_tree(period, levels, fiscal_year_start_month=fiscal)  # type: ignore[arg-type]
    plan = decompose(
        goal=Values(Decimal(goal)),
        org=org,
        time=tree,
        org_weight=lambda p, c: Decimal(len(c.scope)),
        time_weight=lambda p, c: Decimal(c.period.days),
        places=0,
        additive=True,
        direction="higher",
    )
    assert all(p.values.target == p.values.target.to_integral_value() for p in plan)
    _assert_exact(plan, places=0)


def test_ratio_kpis_are_copied_not_split() -> None:
    org = OrgNode("company", (OrgNode("rep:a"), OrgNode("rep:b")))
    tree = time_tree(parse_period("2027"), ["quarter"], fiscal_year_start_month=1)
    plan = decompose(
        goal=Values(Decimal("0.35")),
        org=org,
        time=tree,
        org_weight=lambda p, c: Decimal(1),
        time_weight=lambda p, c: Decimal(1),
        places=4,
        additive=False,
        direction="higher",
    )
    assert {p.values.target for p in plan} == {Decimal("0.35")}
    assert len(plan) == 3 * 5
    assert {p.split for p in plan[1:]} == {"copy"}


def test_hand_computed_split_of_200_million() -> None:
    """200,000,000 CNY over three teams 5:3:2, then quarters by working days."""
    org = OrgNode("company", (OrgNode("team:a"), OrgNode("team:b"), OrgNode("team:c")))
    w = {"team:a": Decimal(5), "team:b": Decimal(3), "team:c": Decimal(2)}
    tree = time_tree(parse_period("2027"), ["quarter"], fiscal_year_start_month=1)
    plan = decompose(
        goal=Values(Decimal("200000000.00")),
        org=org,
        time=tree,
        org_weight=lambda p, c: w[c.scope],
        time_weight=lambda p, c: Decimal(1),
        places=2,
        additive=True,
        direction="higher",
    )
    by = {p.key: p.values.target for p in plan}
    assert by[("team:a", "2027")] == Decimal("100000000.00")
    assert by[("team:b", "2027")] == Decimal("60000000.00")
    assert by[("team:c", "2027")] == Decimal("40000000.00")
    assert by[("team:a", "2027-Q1")] == Decimal("25000000.00")
    assert by[("company", "2027-Q4")] == Decimal("50000000.00")
    # Largest remainder: 100.00 over three equal parts is 33.34 + 33.33 + 33.33.
    small = decompose(
        goal=Values(Decimal("100.00")),
        org=org,
        time=TimeNode(parse_period("2027")),
        org_weight=lambda p, c: Decimal(1),
        time_weight=lambda p, c: Decimal(1),
        places=2,
        additive=True,
        direction="higher",
    )
    assert [p.values.target for p in small[1:]] == [
        Decimal("33.34"),
        Decimal("33.33"),
        Decimal("33.33"),
    ]


def test_parents_come_before_children_and_name_them() -> None:
    org = OrgNode("company", (OrgNode("team:a", (OrgNode("rep:x"), OrgNode("rep:y"))),))
    tree = time_tree(parse_period("2027-Q1"), ["month"], fiscal_year_start_month=1)
    plan = decompose(
        goal=Values(Decimal(90)),
        org=org,
        time=tree,
        org_weight=lambda p, c: Decimal(1),
        time_weight=lambda p, c: Decimal(1),
        places=0,
        additive=True,
        direction="higher",
    )
    seen: set[tuple[str, str]] = set()
    for p in plan:
        assert p.parent is None or p.parent in seen
        seen.add(p.key)
    by = {p.key: p for p in plan}
    assert by[("rep:x", "2027-Q1")].parent == ("team:a", "2027-Q1")
    assert by[("rep:x", "2027-02")].parent == ("rep:x", "2027-Q1")
    assert by[("team:a", "2027-02")].split == "sum"
    assert by[("team:a", "2027-02")].values.target == 30


# -- time trees ---------------------------------------------------------------------------


def test_weeks_belong_to_the_month_of_their_thursday() -> None:
    weeks = sub_periods(parse_period("2026-10"), "week", fiscal_year_start_month=1)
    # 2026-10-01 is a Thursday: W40 (Sep 28 - Oct 4) is October's; W44 (Oct 26 - Nov 1) too.
    assert [w.key for w in weeks] == ["2026-W40", "2026-W41", "2026-W42", "2026-W43", "2026-W44"]
    nov = sub_periods(parse_period("2026-11"), "week", fiscal_year_start_month=1)
    assert nov[0].key == "2026-W45"


@given(fiscal=st.integers(1, 12), year=st.integers(2020, 2030))
def test_time_trees_partition_the_days(fiscal: int, year: int) -> None:
    """Quarters and months tile the year; every week is counted in exactly one month."""
    y = parse_period(str(year), fiscal_year_start_month=fiscal)
    tree = time_tree(y, ["quarter", "month", "week"], fiscal_year_start_month=fiscal)
    assert len(tree.children) == 4
    months = [m for q in tree.children for m in q.children]
    assert len(months) == 12
    assert months[0].period.start == y.start
    assert months[-1].period.end == y.end
    for a, b in itertools.pairwise(months):
        assert a.period.end == b.period.start
    weeks = [w.period.key for m in months for w in m.children]
    assert len(weeks) == len(set(weeks)) in (52, 53)


def test_levels_must_get_finer() -> None:
    with pytest.raises(ValueError, match="finer"):
        time_tree(parse_period("2027-Q1"), ["quarter"], fiscal_year_start_month=1)


# -- bounded splits -----------------------------------------------------------------------


@given(
    total=st.integers(0, 10**7),
    weights=st.lists(st.integers(0, 50), min_size=1, max_size=12),
    slack=st.integers(0, 10**6),
)
def test_bounded_split_respects_bounds_and_sum(total: int, weights: list[int], slack: int) -> None:
    fw = [Fraction(w) for w in weights]
    upper = split_bounded(total + slack, fw)
    parts = split_bounded(total, fw, lower=[0] * len(fw), upper=upper)
    assert sum(parts) == total
    assert all(0 <= p <= u for p, u in zip(parts, upper, strict=True))
    # Never more than one quantum from the proportional share when unconstrained.
    wsum = sum(fw) or len(fw)
    plain = split_bounded(total, fw)
    for p, w in zip(plain, fw if sum(fw) else [Fraction(1)] * len(fw), strict=True):
        assert abs(p - total * w / wsum) < 1


def test_split_values_keeps_baseline_below_target() -> None:
    # 0.03 of baseline over three equal children next to 0.04 of target: 0.02/0.01/0.01
    # would put a baseline above its target; the bounded split does not.
    parts = split_values(
        Values(Decimal("0.04"), Decimal("0.03"), Decimal("0.05")),
        [Decimal(1)] * 3,
        places=2,
        direction="higher",
    )
    assert sum(p.target for p in parts) == Decimal("0.04")
    assert sum(p.baseline or 0 for p in parts) == Decimal("0.03")
    assert all((p.baseline or 0) <= p.target <= (p.stretch or 0) for p in parts)


# -- suggestions --------------------------------------------------------------------------

SEASON = [0.7, 0.8, 1.0, 1.1, 1.0, 0.9, 0.8, 0.9, 1.1, 1.2, 1.3, 1.2]
GROWTH = 0.20
BASE = 100_000.0


def _synthetic(months: int = 24) -> tuple[dict[int, Decimal], int]:
    start = month_index(date(2024, 1, 1))
    history = {
        start + i: Decimal(str(round(BASE * (1 + GROWTH) ** (i / 12) * SEASON[i % 12], 2)))
        for i in range(months)
    }
    return history, start + months


def test_suggestions_recover_a_known_seasonal_pattern_and_growth() -> None:
    """Two years of exact monthly history: level x (1.2)^t x season.

    Tolerance: 1% per month. The series is noise-free, so the only error is the method's
    own bias: the centred moving average and the mean of a year treat exponential growth
    as linear within a 12-month window; at 20% a year that bias is below 0.7% (second
    order in ln 1.2 / 12 per month). Growth is recovered exactly (ratio of two 12-month
    sums of the same seasonal shape).
    """
    history, cutoff = _synthetic()
    model = seasonal_model(history, cutoff=cutoff)
    assert model is not None
    assert model.growth is not None
    assert abs(model.growth - Decimal(str(GROWTH))) < Decimal("0.0001")
    mean = sum(SEASON) / 12
    for month in range(1, 13):
        assert abs(float(model.indices[month]) - SEASON[month - 1] / mean) < 0.01
    for i in range(24, 36):
        period = parse_period(f"{2024 + i // 12}-{i % 12 + 1:02d}")
        s = suggest_additive(
            history=history,
            cutoff=cutoff,
            period=period,
            week_share=None,
            growth=None,
            direction="higher",
            places=2,
        )
        truth = BASE * (1 + GROWTH) ** (i / 12) * SEASON[i % 12]
        assert s.baseline is not None
        assert abs(float(s.baseline) / truth - 1) < 0.01, (period.key, s.baseline, truth)
        assert s.reasoning["trend"]["growth"] == "0.2000"
        assert s.flags == []


def test_growth_goal_is_applied_to_last_year_and_flagged_beyond_history() -> None:
    history, cutoff = _synthetic()
    period = parse_period("2026-03")
    s = suggest_additive(
        history=history,
        cutoff=cutoff,
        period=period,
        week_share=None,
        growth=Decimal("0.45"),
        direction="higher",
        places=2,
    )
    last_year = history[month_index(date(2025, 3, 1))]
    assert s.target == (last_year * Decimal("1.45")).quantize(Decimal("0.01"))
    assert [f.code for f in s.flags] == ["growth_beyond_history"]
    assert s.reasoning["last_year"]["actual"] == str(last_year.quantize(Decimal("0.01")))
    assert s.reasoning["growth_goal"]["applied"] == "0.45"
    # Within history + margin: no flag; above the cap: capped and flagged.
    ok = suggest_additive(
        history=history,
        cutoff=cutoff,
        period=period,
        week_share=None,
        growth=Decimal("0.3"),
        direction="higher",
        places=2,
    )
    assert ok.flags == []
    capped = suggest_additive(
        history=history,
        cutoff=cutoff,
        period=period,
        week_share=None,
        growth=Decimal("0.8"),
        direction="higher",
        places=2,
    )
    assert {f.code for f in capped.flags} == {"growth_above_cap", "growth_beyond_history"}
    assert capped.target == (last_year * Decimal("1.5")).quantize(Decimal("0.01"))
    assert s.baseline is not None
    assert s.stretch is not None
    assert s.target is not None
    assert s.baseline <= s.target <= s.stretch


def test_short_history_says_so() -> None:
    history, cutoff = _synthetic(months=8)
    s = suggest_additive(
        history=history,
        cutoff=cutoff,
        period=parse_period("2024-09"),
        week_share=None,
        growth=None,
        direction="higher",
        places=0,
    )
    assert [f.code for f in s.flags] == ["insufficient_history"]
    assert s.reasoning["seasonality"]["learned"] is False
    assert s.reasoning["trend"]["growth"] is None
    # No seasonality, no trend: the mean month of the history.
    mean = sum(history.values(), Decimal(0)) / 8
    assert s.baseline == mean.quantize(Decimal(1))


# -- drivers ------------------------------------------------------------------------------


def test_revenue_drivers_add_up_to_the_gap() -> None:
    effects = revenue_drivers(
        revenue=Decimal(80_000),
        deals=Decimal(8),
        quotes=Decimal(40),
        planned_revenue=Decimal(120_000),
        planned_deals=Decimal(12),
        planned_quotes=Decimal(48),
    )
    by = {e.driver: e.effect for e in effects}
    # Planned: 48 quotes x 25% x 10,000. Quotes: (40-48) x 0.25 x 10,000 = -20,000;
    # win rate: 40 x (0.20-0.25) x 10,000 = -20,000; deal size: 8 x (10,000-10,000) = 0.
    assert by == {"quotes": Decimal(-20000), "win_rate": Decimal(-20000), "average_deal": 0}
    assert sum(by.values()) == Decimal(-40000)
    deals = deals_drivers(
        deals=Decimal(8), quotes=Decimal(40), planned_deals=Decimal(12), planned_quotes=Decimal(48)
    )
    assert [d.effect for d in deals] == [Decimal(-2), Decimal(-2)]
    assert math.isclose(float(sum(d.effect for d in deals)), -4)
