"""Pace and projections with hand-computed expectations on the mainland-China calendar."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from paceline.shared.kpi.calendar import WorkCalendar, builtin_calendar
from paceline.shared.kpi.pace import (
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
