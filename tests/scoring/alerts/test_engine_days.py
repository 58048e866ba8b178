"""Which closed days the alert scheduler judges on a tick (``scheduler.days_to_judge``)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from paceline.scoring.alerts.scheduler import MAX_CATCH_UP_DAYS, days_to_judge
from paceline.shared.kpi.calendar import builtin_calendar

TZ = ZoneInfo("Asia/Shanghai")
CAL = builtin_calendar("cn")
NOW = datetime(2026, 7, 7, 9, 0, tzinfo=TZ)  # a Tuesday, after anomaly_hour (6)
LAST_CLOSED = date(2026, 7, 6)
# The 20th working day back from Monday 6 July (Dragon Boat, Friday 19 June, is a holiday).
REACH = date(2026, 6, 8)


def span(first: date, last: date) -> list[date]:
    """Every calendar day of [first, last]."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def judge(
    sched: dict[str, Any], *, now: datetime = NOW, history_from: str | None = None
) -> list[date]:
    """The days a tick at ``now`` judges, with the default lookback of 20 working days."""
    return days_to_judge(
        sched, now=now, tz=TZ, hour=6, calendar=CAL, lookback=20, history_from=history_from
    )


def test_the_lookback_reaches_twenty_working_days() -> None:
    assert len(CAL.working_day_list(REACH, LAST_CLOSED + timedelta(days=1))) == 20


@pytest.mark.parametrize(
    ("sched", "history_from", "expected"),
    [
        # First run: the last 20 working days (and the weekends between them).
        ({}, None, span(REACH, LAST_CLOSED)),
        ({}, "2026-03-02", span(REACH, LAST_CLOSED)),
        # Every day: the day before.
        ({"anomaly_day": "2026-07-05"}, None, [LAST_CLOSED]),
        ({"anomaly_day": "2026-07-06"}, None, []),
        # After an outage: at most MAX_CATCH_UP_DAYS.
        (
            {"anomaly_day": "2026-05-01"},
            None,
            span(LAST_CLOSED - timedelta(days=MAX_CATCH_UP_DAYS - 1), LAST_CLOSED),
        ),
        # History for judged days: from its first day, at most 20 working days back.
        ({"anomaly_day": "2026-07-06"}, "2026-07-01", span(date(2026, 7, 1), LAST_CLOSED)),
        ({"anomaly_day": "2026-07-06"}, "2025-11-30", span(REACH, LAST_CLOSED)),
        ({"anomaly_day": "2026-07-05"}, "2026-06-30", span(date(2026, 6, 30), LAST_CLOSED)),
        # History only for days not judged yet: judged as they come.
        ({"anomaly_day": "2026-07-05"}, "2026-07-06", [LAST_CLOSED]),
        ({"anomaly_day": "2026-07-06"}, "2026-07-07", []),
    ],
)
def test_days_to_judge(
    sched: dict[str, Any], history_from: str | None, expected: list[date]
) -> None:
    assert judge(sched, history_from=history_from) == expected


def test_before_the_anomaly_hour_yesterday_is_not_closed_yet() -> None:
    early = NOW.replace(hour=5)
    assert judge({"anomaly_day": "2026-07-04"}, now=early) == [date(2026, 7, 5)]
    assert judge({}, now=early)[-1] == date(2026, 7, 5)
