"""The faked dates are what they claim to be, by the calendar data the project ships; and a
faked-date process sees its date and keeps the servers on the real clock."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

import pytest

from paceline.shared.kpi.calendar import builtin_calendar
from tests.dates import (
    DATES,
    SHANGHAI,
    FakedDate,
    by_name,
    faked_env,
    faketime_lib,
    real_time,
)

CN = builtin_calendar("cn")

CLAIMS: dict[str, Callable[[FakedDate], bool]] = {
    "month-start": lambda d: d.at.day == 1,
    "month-end": lambda d: (d.at.date() + timedelta(days=1)).day == 1,
    "new-year": lambda d: (d.at.month, d.at.day) == (1, 1),
    "holiday": lambda d: d.at.date() in CN.holidays and not CN.is_working_day(d.at.date()),
    "make-up-workday": lambda d: (
        d.at.date() in CN.makeup_workdays and d.at.weekday() >= 5 and CN.is_working_day(d.at.date())
    ),
    "sunday": lambda d: d.at.weekday() == 6,
    "weekday": lambda d: d.at.weekday() < 5,
    "ordinary": lambda d: d.at.date() not in CN.holidays and d.at.date() not in CN.makeup_workdays,
    "utc-day-before": lambda d: d.utc.date() == d.at.date() - timedelta(days=1),
}
# What issue 12 asks for: the first and the last day of a month, 1 January, a public
# holiday, a make-up working day (调休) and an ordinary Sunday.
REQUIRED = {"month-start", "month-end", "new-year", "holiday", "make-up-workday"}


@pytest.mark.parametrize("faked", DATES, ids=[d.name for d in DATES])
def test_each_date_is_what_it_claims_by_the_shipped_calendar(faked: FakedDate) -> None:
    assert faked.at.tzinfo is SHANGHAI
    assert faked.claims <= set(CLAIMS), faked.claims - set(CLAIMS)
    assert {claim for claim in faked.claims if not CLAIMS[claim](faked)} == set()
    assert any(h.year == faked.at.year for h in CN.holidays), "the calendar covers the year"


def test_the_dates_cover_what_the_issue_asks_for() -> None:
    covered = set().union(*(d.claims for d in DATES))
    assert covered >= REQUIRED
    assert any({"sunday", "ordinary"} <= d.claims for d in DATES)
    assert len({d.name for d in DATES}) == len(DATES)
    # At least one run starts minutes from local midnight, where the UTC day differs.
    assert any(
        min(
            abs(datetime.combine(d.at.date(), time(), SHANGHAI) - d.at),
            abs(datetime.combine(d.at.date() + timedelta(days=1), time(), SHANGHAI) - d.at),
        )
        <= timedelta(minutes=10)
        for d in DATES
    )


def test_the_make_up_day_is_a_make_up_day_in_the_calendar_file() -> None:
    day = by_name("make-up-day").at.date()
    assert day == date(2026, 10, 10)
    assert "调休" in CN.makeup_workdays[day]


needs_faketime = pytest.mark.skipif(
    not shutil.which("faketime"), reason="libfaketime is not installed (make services)"
)


@needs_faketime
def test_a_process_under_faked_env_reads_the_date_and_can_sleep() -> None:
    faked = by_name("new-year")
    script = (
        "import datetime, os, time; time.sleep(0.01); "
        "print(datetime.datetime.now(datetime.UTC).isoformat(), os.environ['TZ'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=faked_env(faked),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    # Not a FixedClock: this checks the faked wall clock of another process.
    assert abs(datetime.fromisoformat(out[0]) - faked.utc) < timedelta(seconds=30)
    assert out[1] == faked.tz


@needs_faketime
def test_the_servers_get_the_real_clock() -> None:
    from tests.infra import server_env

    env = faked_env(by_name("national-day"))
    stripped = server_env(env)
    assert faketime_lib() in env["LD_PRELOAD"]
    assert not {"LD_PRELOAD", "FAKETIME", "FAKETIME_DONT_FAKE_MONOTONIC"} & set(stripped)
    out = subprocess.run(
        ["date", "-u", "+%s"], env=stripped, capture_output=True, text=True, check=True
    ).stdout
    assert abs(int(out) - real_time()) < 60
