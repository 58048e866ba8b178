"""Pace and projections with hand-computed expectations on the mainland-China calendar."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paceline.shared.kpi.calendar import WorkCalendar, builtin_calendar
from paceline.shared.kpi.pace import (
    Method,
    PaceResult,
    Status,
    Thresholds,
    cumulative_pace,
    ratio_pace,
    seasonal_curve,
    seasonal_share,
    status_for,
)

pytestmark = pytest.mark.dates

CN = builtin_calendar("cn")


def test_october_2026_has_the_national_day_week_and_a_make_up_saturday() -> None:
    # Weekdays in October 2026: Oct 1-2 (Thu-Fri), then four full weeks 5-9, 12-16, 19-23,
    # 26-30: 2 + 4*5 = 22. National Day takes the weekdays Oct 1, 2, 5, 6, 7: 22 - 5 = 17.
    # Saturday Oct 10 is a make-up working day: 17 + 1 = 18.
    assert CN.working_days(date(2026, 10, 1), date(2026, 11, 1)) == 18
    assert not CN.is_working_day(date(2026, 10, 5))  # a Monday inside the holiday
    assert CN.is_working_day(date(2026, 10, 10))  # a Saturday, 调休
    assert CN.is_working_day(date(2026, 9, 20))  # a Sunday, 调休 before National Day
    assert not CN.is_working_day(date(2026, 10, 11))  # an ordinary Sunday


def test_pace_across_the_holiday_week_and_the_make_up_saturday() -> None:
    # As of Oct 10 noon the counted days are Oct 1-10; the working days among them are
    # Oct 8 (Thu), Oct 9 (Fri) and Oct 10 (Sat, make-up): 3 of 18.
    elapsed = CN.working_days(date(2026, 10, 1), date(2026, 10, 11))
    total = CN.working_days(date(2026, 10, 1), date(2026, 11, 1))
    assert (elapsed, total) == (3, 18)
    result = cumulative_pace(
        actual=Decimal(2400),
        target=Decimal(18000),
        direction="higher",
        elapsed_working_days=elapsed,
        total_working_days=total,
        seasonal_share=None,
        method="working_days",
        thresholds=Thresholds(),
    )
    assert result.expected == Decimal(3000)  # 18000 * 3/18
    assert result.pace == Decimal("0.8")  # 2400 / 3000
    assert result.projection_linear == Decimal(14400)  # 2400 / (3/18)
    assert result.status == "behind"  # 0.80 is the lowest pace that is still "behind"


def test_nothing_is_expected_during_the_holiday() -> None:
    # As of Oct 6 only holidays have passed: no working day, nothing to judge yet.
    elapsed = CN.working_days(date(2026, 10, 1), date(2026, 10, 7))
    assert elapsed == 0
    result = cumulative_pace(
        actual=Decimal(0),
        target=Decimal(18000),
        direction="higher",
        elapsed_working_days=elapsed,
        total_working_days=18,
        seasonal_share=None,
        method="working_days",
        thresholds=Thresholds(),
    )
    assert result.expected == 0
    assert result.status == "insufficient_data"


def test_the_same_days_without_the_calendar_would_raise_a_false_alarm() -> None:
    plain = WorkCalendar()
    elapsed = plain.working_days(date(2026, 10, 1), date(2026, 10, 11))  # 1,2,5,6,7,8,9 = 7
    total = plain.working_days(date(2026, 10, 1), date(2026, 11, 1))  # 22
    result = cumulative_pace(
        actual=Decimal(2400),
        target=Decimal(18000),
        direction="higher",
        elapsed_working_days=elapsed,
        total_working_days=total,
        seasonal_share=None,
        method="working_days",
        thresholds=Thresholds(),
    )
    assert (elapsed, total) == (7, 22)
    assert result.status == "at_risk"  # 2400 / (18000*7/22 = 5727.27) = 0.42


@pytest.mark.parametrize(
    ("performance", "status"),
    [
        ("1.10", "ahead"),
        ("1.0999", "on_track"),
        ("0.95", "on_track"),
        ("0.9499", "behind"),
        ("0.80", "behind"),
        ("0.7999", "at_risk"),
    ],
)
def test_status_thresholds_are_inclusive_at_each_boundary(performance: str, status: str) -> None:
    assert status_for(Decimal(performance), Thresholds()) == status


def test_lower_is_better_inverts_the_comparison() -> None:
    result = cumulative_pace(
        actual=Decimal(6),
        target=Decimal(10),
        direction="lower",
        elapsed_working_days=10,
        total_working_days=20,
        seasonal_share=None,
        method="working_days",
        thresholds=Thresholds(),
    )
    # Expected 5 complaints by now, 6 logged: performance 5/6 = 0.833 -> behind.
    assert result.expected == 5
    assert result.status == "behind"


def test_ratio_kpis_wait_for_the_minimum_sample() -> None:
    early = ratio_pace(
        actual=Decimal("0.2"),
        target=Decimal("0.4"),
        direction="higher",
        sample=4,
        min_sample=5,
        thresholds=Thresholds(),
    )
    assert early.status == "insufficient_data"
    judged = ratio_pace(
        actual=Decimal("0.2"),
        target=Decimal("0.4"),
        direction="higher",
        sample=5,
        min_sample=5,
        thresholds=Thresholds(),
    )
    assert judged.pace == Decimal("0.5")
    assert judged.status == "at_risk"
    assert judged.projection_linear == Decimal("0.2")


def test_a_month_end_rush_learned_from_history_is_not_a_false_alarm() -> None:
    # Three past months of 4 working days each: 10% of the month in each of the first
    # three days, 70% on the last day (the month-end rush).
    days = [date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7), date(2026, 1, 8)]
    month = {days[0]: Decimal(10), days[1]: Decimal(10), days[2]: Decimal(10), days[3]: Decimal(70)}
    curve = seasonal_curve([(days, month)] * 3)
    assert curve == [Decimal("0.1"), Decimal("0.2"), Decimal("0.3"), Decimal(1)]
    share = seasonal_share(curve, elapsed=3, total=4)
    assert share == Decimal("0.3")
    # 3 of 4 days done, 30% of a 1000 target reached: linear pace says at risk,
    # the seasonal curve says on track.
    kwargs = dict(
        actual=Decimal(300),
        target=Decimal(1000),
        direction="higher",
        elapsed_working_days=3,
        total_working_days=4,
        thresholds=Thresholds(),
    )
    linear = cumulative_pace(seasonal_share=share, method="working_days", **kwargs)  # type: ignore[arg-type]
    seasonal = cumulative_pace(seasonal_share=share, method="seasonal", **kwargs)  # type: ignore[arg-type]
    assert linear.status == "at_risk"  # 300 / 750
    assert seasonal.status == "on_track"  # 300 / 300
    assert seasonal.projection_seasonal == Decimal(1000)


# -- direction-aware pace (issue 13) ------------------------------------------------------


def _old_status(actual: Fraction, expected: Fraction, direction: str, th: Thresholds) -> Status:
    """The status before pace became direction-aware, frozen here as the oracle: the
    comparison ran on a separate "performance" with 10**9 standing in for a lower-is-better
    KPI at zero."""
    if direction == "lower":
        if actual == 0:
            performance = Fraction(10**9) if expected >= 0 else None
        else:
            performance = expected / actual
    else:
        performance = None if expected == 0 else actual / expected
    return "insufficient_data" if performance is None else status_for(performance, th)


amounts = st.decimals(
    min_value=Decimal(-1000), max_value=Decimal(10**9), places=4, allow_nan=False
) | st.sampled_from([Decimal(0), Decimal("0.0001"), Decimal(-1)])
targets = st.decimals(min_value=Decimal(0), max_value=Decimal(10**9), places=4) | st.just(
    Decimal(0)
)
levels = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10), places=2)


@st.composite
def thresholds(draw: st.DrawFn) -> Thresholds:
    """Valid tenant thresholds (ahead > on_track > behind, each in (0, 10])."""
    three = draw(st.lists(levels, min_size=3, max_size=3, unique=True))
    ahead, on_track, behind = sorted(three, reverse=True)
    return Thresholds(ahead=ahead, on_track=on_track, behind=behind)


def _check_pace(
    result: PaceResult, actual: Fraction, expected: Fraction, direction: str, th: Thresholds
) -> None:
    """The direction-aware pace gives the status and is >= 1 exactly when on or better."""
    if result.pace is None:
        # No ratio: a lower-is-better KPI at zero (ahead: nothing bad happened), or nothing
        # expected of a higher-is-better one (nothing to judge).
        if direction == "lower":
            assert actual == 0
            assert result.status == ("ahead" if expected >= 0 else "insufficient_data")
        else:
            assert expected == 0
            assert result.status == "insufficient_data"
        return
    assert result.status == status_for(result.pace, th)
    if expected > 0 and (direction == "higher" or actual > 0):
        better_or_on = actual >= expected if direction == "higher" else actual <= expected
        assert (result.pace >= 1) == better_or_on


@given(
    actual=amounts,
    target=targets,
    direction=st.sampled_from(["higher", "lower"]),
    days=st.integers(min_value=0, max_value=260).flatmap(
        lambda total: st.tuples(st.integers(min_value=0, max_value=total), st.just(total))
    ),
    seasonal=st.none() | st.decimals(min_value=Decimal(0), max_value=Decimal(1), places=4),
    method=st.sampled_from(["working_days", "seasonal"]),
    th=thresholds(),
)
def test_cumulative_pace_is_direction_aware_and_keeps_every_status(
    actual: Decimal,
    target: Decimal,
    direction: str,
    days: tuple[int, int],
    seasonal: Decimal | None,
    method: Method,
    th: Thresholds,
) -> None:
    elapsed, total = days
    result = cumulative_pace(
        actual=actual,
        target=target,
        direction=direction,
        elapsed_working_days=elapsed,
        total_working_days=total,
        seasonal_share=seasonal,
        method=method,
        thresholds=th,
    )
    share = Fraction(elapsed, total) if total > 0 else Fraction(1)
    if method == "seasonal" and seasonal is not None:
        share = Fraction(seasonal)
    if share == 0:
        assert (result.status, result.pace) == ("insufficient_data", None)
        return
    expected = Fraction(target) * share
    assert result.status == _old_status(Fraction(actual), expected, direction, th)
    _check_pace(result, Fraction(actual), expected, direction, th)


@given(
    actual=amounts,
    target=targets,
    direction=st.sampled_from(["higher", "lower"]),
    sample=st.integers(min_value=0, max_value=20),
    th=thresholds(),
)
def test_ratio_pace_is_direction_aware_and_keeps_every_status(
    actual: Decimal, target: Decimal, direction: str, sample: int, th: Thresholds
) -> None:
    result = ratio_pace(
        actual=actual,
        target=target,
        direction=direction,
        sample=sample,
        min_sample=5,
        thresholds=th,
    )
    if sample < 5:
        assert (result.status, result.pace) == ("insufficient_data", None)
        return
    assert result.status == _old_status(Fraction(actual), Fraction(target), direction, th)
    _check_pace(result, Fraction(actual), Fraction(target), direction, th)


@pytest.mark.parametrize(
    ("direction", "actual", "pace", "status"),
    [
        # The user's report: response_hours against a target of 4.98 hours.
        ("lower", "4", "1.245", "ahead"),  # quicker than the target: pace above 1
        ("lower", "5.6113", "0.8875", "behind"),  # slower: pace below 1
        ("lower", "4.98", "1", "on_track"),
        ("lower", "0", None, "ahead"),  # no hours at all: nothing to divide by, ahead
        ("higher", "4", "0.8032", "behind"),
        ("higher", "0", "0", "at_risk"),
    ],
)
def test_pace_of_one_or_more_is_on_or_better_than_the_target(
    direction: str, actual: str, pace: str | None, status: str
) -> None:
    result = ratio_pace(
        actual=Decimal(actual),
        target=Decimal("4.98"),
        direction=direction,
        sample=9,
        min_sample=3,
        thresholds=Thresholds(),
    )
    shown = None if result.pace is None else result.pace.quantize(Decimal("0.0001"))
    assert (shown, result.status) == (
        None if pace is None else Decimal(pace).quantize(Decimal("0.0001")),
        status,
    )
