"""Work calendars: the fast working-day count equals counting day by day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paceline.shared.kpi.calendar import WorkCalendar, builtin_calendar, days_between

pytestmark = pytest.mark.dates

DAYS = st.dates(min_value=date(2025, 6, 1), max_value=date(2028, 1, 1))


@given(
    start=DAYS,
    length=st.integers(-5, 500),
    changes=st.lists(st.tuples(DAYS, st.sampled_from(["holiday", "workday"])), max_size=8),
    base=st.sampled_from(["cn", "none"]),
)
def test_working_days_equals_counting_day_by_day(
    start: date, length: int, changes: list[tuple[date, str]], base: str
) -> None:
    cal = builtin_calendar(base).with_changes([(d, k, "") for d, k in changes])  # type: ignore[misc]
    end = start + timedelta(days=length)
    slow = sum(1 for d in days_between(start, end) if cal.is_working_day(d))
    assert cal.working_days(start, end) == slow


def test_a_tenant_change_overrides_the_builtin_day() -> None:
    cn = builtin_calendar("cn")
    assert not cn.is_working_day(date(2026, 10, 1))
    changed = cn.with_changes([(date(2026, 10, 1), "workday", "on duty")])
    assert changed.is_working_day(date(2026, 10, 1))
    assert changed.describe(date(2026, 10, 1)) == ("workday", "on duty")
    assert WorkCalendar().describe(date(2026, 10, 3)) == ("weekend", "")
