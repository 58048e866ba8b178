"""Pace in ``GET /v1/progress``: expected, pace, projections and status, computed by hand.

The 2026 China calendar: 1-7 October are holidays, Sunday 20 September and Saturday
10 October are make-up working days (调休), 25 September is Mid-Autumn. So October 2026
has 18 working days: the weekdays 8-9, 12-16, 19-23, 26-30 (2 + 5 + 5 + 5 = 17) plus
Saturday 10 October.

Targets are set on a fixed clock before their period: progress reads the target version
in force at ``as_of``, and a target recorded after ``as_of`` is not in force yet.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from paceline.shared.clock import FixedClock
from paceline.shared.kpi.calendar import builtin_calendar
from tests.support import Stack

pytestmark = pytest.mark.dates

TODAY = datetime.fromisoformat("2026-11-26T10:00:00+08:00")
BEFORE_OCTOBER = datetime.fromisoformat("2026-09-28T10:00:00+08:00")
BEFORE_SEPTEMBER = datetime.fromisoformat("2026-08-25T10:00:00+08:00")
# When the tests' events are received: before every as_of they read at.
KNOWN_BY = datetime.fromisoformat("2026-01-05T09:00:00+08:00")
ORG: dict[str, Any] = {
    "teams": [{"id": "north", "name": "North"}],
    "reps": [
        {"id": "r1", "name": "Ann", "team_id": "north", "role": "account_manager"},
        {"id": "r2", "name": "Bo", "team_id": "north", "role": "account_manager"},
    ],
}
Clocked = tuple[Stack, FixedClock]


# -- helpers ------------------------------------------------------------------------------


async def load_org(s: Stack) -> None:
    """PUT /v1/org."""
    resp = await s.client.put("/v1/org", json=ORG, headers=s.auth())
    assert resp.status_code == 200, resp.text


async def set_target(
    s: Stack, clock: FixedClock, at: datetime, *, kpi: str, period: str, target: str, **kw: Any
) -> dict[str, Any]:
    """Create a target for rep r1 with the clock at ``at`` (then back to today)."""
    clock.set(at)
    resp = await s.client.post(
        "/v1/targets",
        json={"kpi": kpi, "scope": "rep:r1", "period": period, "target": target, **kw},
        headers=s.auth(),
    )
    clock.set(TODAY)
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


def deal(deal_id: str, day: str, amount: str, *, stage: str = "won") -> dict[str, Any]:
    """A deal by r1 closed at 10:00 Beijing time."""
    return {
        "event_id": f"{deal_id}-{stage}",
        "type": "deal",
        "entity_id": deal_id,
        "occurred_at": f"{day}T10:00:00+08:00",
        "rep_id": "r1",
        "stage": stage,
        "amount": amount,
    }


async def post_scored(s: Stack, clock: FixedClock, events: list[dict[str, Any]]) -> None:
    """POST events (all accepted) with the clock before every as_of read here (so what is
    read is what was known then: docs/KPIS.md, "As of a moment"), and wait until they are
    scored."""
    clock.set(KNOWN_BY)
    resp = await s.post_events(events)
    clock.set(TODAY)
    assert resp.status_code == 202, resp.text
    assert resp.json()["accepted"] == len(events), resp.text
    await s.wait_scored()


async def progress(s: Stack, *, kpi: str, period: str, as_of: str) -> dict[str, Any]:
    """GET /v1/progress for rep r1."""
    resp = await s.client.get(
        "/v1/progress",
        params={"kpi": kpi, "scope": "rep:r1", "period": period, "as_of": as_of},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


def nums(body: dict[str, Any], *names: str) -> tuple[Decimal | None, ...]:
    """Decimal fields of a progress body (None stays None)."""
    return tuple(None if body[n] is None else Decimal(body[n]) for n in names)


async def put_thresholds(s: Stack, ahead: str, on_track: str, behind: str) -> None:
    """PUT /v1/settings pace_thresholds."""
    resp = await s.client.put(
        "/v1/settings",
        json={"pace_thresholds": {"ahead": ahead, "on_track": on_track, "behind": behind}},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["pace_thresholds"] == {
        "ahead": ahead,
        "on_track": on_track,
        "behind": behind,
    }


OCTOBER_DEALS = [
    deal("d8", "2026-10-08", "700"),
    deal("d9", "2026-10-09", "800"),
    deal("d10", "2026-10-10", "900"),  # the make-up Saturday
    deal("d11", "2026-10-11", "5000"),  # Sunday: not yet begun at noon on the 10th
    deal("lost", "2026-10-09", "9999", stage="lost"),
]


# -- cumulative KPIs ----------------------------------------------------------------------


async def test_revenue_pace_by_hand(clocked_both: Clocked) -> None:
    s, clock = clocked_both
    t = await set_target(s, clock, BEFORE_OCTOBER, kpi="revenue", period="2026-10", target="18000")
    await post_scored(s, clock, OCTOBER_DEALS)

    body = await progress(s, kpi="revenue", period="2026-10", as_of="2026-10-10T12:00:00+08:00")
    # Counted days: 1-10 October. Working days among them: 8, 9 and the make-up 10th = 3.
    # Working days in October: 18 (see the module docstring).
    assert (body["working_days_elapsed"], body["working_days_total"]) == (3, 18)
    assert body["through_day"] == "2026-10-10"
    # actual = 700 + 800 + 900 = 2400 (the lost deal and Sunday's deal do not count)
    # expected = 18000 * 3 / 18 = 3000
    # pace = 2400 / 3000 = 0.8 -> "behind" (0.80 <= pace < 0.95)
    # projection_linear = 2400 / (3 / 18) = 14400
    # elapsed_share = 3 / 18 = 0.16666... -> 0.1667
    assert nums(body, "actual", "target", "expected", "pace", "projection_linear") == (
        Decimal("2400"),
        Decimal("18000"),
        Decimal("3000"),
        Decimal("0.8"),
        Decimal("14400"),
    )
    assert body["expected"] == "3000.0000"
    assert body["pace"] == "0.8000"
    assert body["projection_linear"] == "14400.0000"
    assert body["elapsed_share"] == "0.1667"
    assert (body["status"], body["expected_method"], body["projection_seasonal"]) == (
        "behind",
        "working_days",
        None,
    )
    assert (body["target_id"], body["target_version"]) == (t["id"], 1)

    # Inside the holiday: no working day has elapsed, nothing can be judged.
    body = await progress(s, kpi="revenue", period="2026-10", as_of="2026-10-05T12:00:00+08:00")
    # expected = 18000 * 0 / 18 = 0; pace and projection are undefined
    assert (body["working_days_elapsed"], body["working_days_total"]) == (0, 18)
    assert nums(body, "actual", "expected", "pace", "projection_linear") == (
        Decimal(0),
        Decimal(0),
        None,
        None,
    )
    assert body["status"] == "insufficient_data"

    # Midnight starting the 10th: the 10th has not begun to count.
    body = await progress(s, kpi="revenue", period="2026-10", as_of="2026-10-10T00:00:00+08:00")
    # working days 8, 9 = 2; expected = 18000 * 2 / 18 = 2000; actual = 700 + 800 = 1500
    # pace = 1500 / 2000 = 0.75 -> "at_risk" (below 0.80)
    assert body["working_days_elapsed"] == 2
    assert nums(body, "actual", "expected", "pace", "projection_linear") == (
        Decimal(1500),
        Decimal(2000),
        Decimal("0.75"),
        Decimal(13500),  # 1500 / (2 / 18)
    )
    assert body["status"] == "at_risk"

    # After the period: the whole month counts.
    body = await progress(s, kpi="revenue", period="2026-10", as_of="2026-11-02T00:00:00+08:00")
    # actual = 2400 + 5000 = 7400; expected = 18000; pace = 7400 / 18000 = 0.41111 -> at_risk
    assert (body["working_days_elapsed"], body["working_days_total"]) == (18, 18)
    assert nums(body, "actual", "expected", "pace", "projection_linear") == (
        Decimal(7400),
        Decimal(18000),
        Decimal("0.4111"),
        Decimal(7400),
    )
    assert body["status"] == "at_risk"


async def test_tenant_thresholds_change_the_status(clocked: Clocked) -> None:
    s, clock = clocked
    await set_target(s, clock, BEFORE_OCTOBER, kpi="revenue", period="2026-10", target="18000")
    await post_scored(s, clock, OCTOBER_DEALS)
    as_of = "2026-10-10T12:00:00+08:00"
    # pace = 2400 / 3000 = 0.80 throughout; only the thresholds move.
    for thresholds, status in [
        (("1.10", "0.95", "0.80"), "behind"),  # the defaults: 0.80 <= 0.80 < 0.95
        (("1.10", "0.95", "0.85"), "at_risk"),  # 0.80 < 0.85
        (("1.00", "0.80", "0.50"), "on_track"),  # 0.80 <= 0.80 < 1.00
        (("0.80", "0.70", "0.60"), "ahead"),  # 0.80 >= 0.80
    ]:
        await put_thresholds(s, *thresholds)
        body = await progress(s, kpi="revenue", period="2026-10", as_of=as_of)
        assert nums(body, "expected", "pace") == (Decimal(3000), Decimal("0.8"))
        assert body["status"] == status, thresholds
    # Thresholds out of order are refused and change nothing.
    resp = await s.client.put(
        "/v1/settings",
        json={"pace_thresholds": {"ahead": "0.9", "on_track": "0.95", "behind": "0.5"}},
        headers=s.auth(),
    )
    assert resp.status_code == 422, resp.text
    assert (await progress(s, kpi="revenue", period="2026-10", as_of=as_of))["status"] == "ahead"


async def test_a_make_up_sunday_counts_as_a_working_day(clocked: Clocked) -> None:
    s, clock = clocked
    # September 2026: 22 weekdays - Friday the 25th (Mid-Autumn) + Sunday the 20th = 22.
    await set_target(s, clock, BEFORE_SEPTEMBER, kpi="visits", period="2026-09", target="44")
    working_days = [1, 2, 3, 4, 7, 8, 9, 10, 11, 14, 15, 16, 17, 18, 20]
    visits = [
        {
            "event_id": f"v-{day}-{n}",
            "type": "visit",
            "occurred_at": f"2026-09-{day:02d}T0{n + 1}:00:00+08:00",
            "rep_id": "r1",
            "channel": "onsite",
        }
        for day in working_days
        for n in range(2)
    ]
    await post_scored(s, clock, visits)

    body = await progress(s, kpi="visits", period="2026-09", as_of="2026-09-20T18:00:00+08:00")
    # 15 working days (14 weekdays + Sunday the 20th) of 22; 2 visits each: actual 30
    # expected = 44 * 15 / 22 = 30; pace = 1.0 -> on_track; projection = 30 / (15 / 22) = 44
    assert (body["working_days_elapsed"], body["working_days_total"]) == (15, 22)
    assert nums(body, "actual", "expected", "pace", "projection_linear") == (
        Decimal(30),
        Decimal(30),
        Decimal(1),
        Decimal(44),
    )
    assert body["status"] == "on_track"
    # Saturday the 19th is an ordinary weekend day.
    body = await progress(s, kpi="visits", period="2026-09", as_of="2026-09-19T18:00:00+08:00")
    # 14 working days; actual 28; expected = 44 * 14 / 22 = 28; pace 1.0
    assert body["working_days_elapsed"] == 14
    assert nums(body, "actual", "expected", "pace") == (Decimal(28), Decimal(28), Decimal(1))


# -- ratio and average KPIs ---------------------------------------------------------------


async def test_ratio_kpi_needs_the_minimum_sample(clocked: Clocked) -> None:
    s, clock = clocked
    await set_target(s, clock, BEFORE_OCTOBER, kpi="win_rate", period="2026-10", target="0.5")
    as_of = "2026-11-01T00:00:00+08:00"
    await post_scored(
        s,
        clock,
        [
            deal("w1", "2026-10-08", "1"),
            deal("w2", "2026-10-09", "1"),
            deal("w3", "2026-10-12", "1"),
            deal("l1", "2026-10-13", "1", stage="lost"),
            deal("o1", "2026-10-14", "1", stage="open"),  # not closed: not in the sample
        ],
    )
    body = await progress(s, kpi="win_rate", period="2026-10", as_of=as_of)
    # 3 won / 4 closed = 0.75, but 4 closed deals < min_sample 5: not judged.
    assert nums(body, "actual", "numerator", "denominator", "target") == (
        Decimal("0.75"),
        Decimal(3),
        Decimal(4),
        Decimal("0.5"),
    )
    assert (body["sample"], body["status"], body["pace"]) == (4, "insufficient_data", None)
    assert Decimal(body["expected"]) == Decimal("0.5")  # a ratio is expected at its target

    await post_scored(s, clock, [deal("l2", "2026-10-15", "1", stage="lost")])
    body = await progress(s, kpi="win_rate", period="2026-10", as_of=as_of)
    # 3 won / 5 closed = 0.6; performance = 0.6 / 0.5 = 1.2 >= 1.10 -> ahead
    assert nums(body, "actual", "expected", "pace") == (
        Decimal("0.6"),
        Decimal("0.5"),
        Decimal("1.2"),
    )
    assert (body["sample"], body["status"]) == (5, "ahead")
    # A ratio is not prorated by working days.
    assert body["working_days_elapsed"] == 18
    assert body["elapsed_share"] is None

    # Read mid-month, before the 5th closed deal: the sample was too small then.
    body = await progress(s, kpi="win_rate", period="2026-10", as_of="2026-10-14T00:00:00+08:00")
    # closed by the 13th: w1, w2, w3, l1 -> 4 < 5
    assert (body["sample"], body["status"]) == (4, "insufficient_data")


async def test_lower_is_better_average_is_judged_by_target_over_actual(clocked: Clocked) -> None:
    s, clock = clocked
    await set_target(s, clock, BEFORE_OCTOBER, kpi="response_hours", period="2026-10", target="4")

    def complaint(n: int, day: str, hours: int) -> dict[str, Any]:
        return {
            "event_id": f"c{n}",
            "type": "complaint",
            "occurred_at": f"{day}T09:00:00+08:00",
            "opened_at": f"{day}T09:00:00+08:00",
            "first_response_at": f"{day}T{9 + hours:02d}:00:00+08:00",
            "rep_id": "r1",
            "customer_id": f"cust-{n}",
        }

    as_of = "2026-11-01T00:00:00+08:00"
    await post_scored(s, clock, [complaint(1, "2026-10-08", 3), complaint(2, "2026-10-09", 5)])
    body = await progress(s, kpi="response_hours", period="2026-10", as_of=as_of)
    # (3 + 5) / 2 = 4 hours, but 2 complaints < min_sample 3
    assert (Decimal(body["actual"]), body["sample"], body["status"]) == (
        Decimal(4),
        2,
        "insufficient_data",
    )
    await post_scored(s, clock, [complaint(3, "2026-10-12", 7)])
    body = await progress(s, kpi="response_hours", period="2026-10", as_of=as_of)
    # (3 + 5 + 7) / 3 = 5 hours against a ceiling of 4: pace is direction-aware,
    # target / actual = 4 / 5 = 0.8 -> behind (below 1: worse than the target)
    assert body["direction"] == "lower"
    assert nums(body, "actual", "expected", "pace") == (
        Decimal(5),
        Decimal(4),
        Decimal("0.8"),
    )
    assert (body["sample"], body["status"]) == (3, "behind")


# -- seasonal pace of a quarter: the same quarter of earlier years --------------------------


def _visits_by_pattern(first: date, last: date, per_month: dict[int, int]) -> list[dict[str, Any]]:
    """Visits by r1 on every working day of [first, last], ``per_month[month]`` a day (2
    when the month is not named), at 10:00 Beijing time."""
    cal = builtin_calendar("cn")
    out = []
    for day in cal.working_day_list(first, last + timedelta(days=1)):
        for n in range(per_month.get(day.month, 2)):
            out.append(
                {
                    "event_id": f"v-{day}-{n}",
                    "type": "visit",
                    "occurred_at": f"{day}T10:{n:02d}:00+08:00",
                    "rep_id": "r1",
                    "customer_id": f"c-{day}-{n}",
                }
            )
    return out


async def test_a_quarter_that_builds_up_to_december_is_not_a_false_alarm(
    clocked_both: Clocked,
) -> None:
    """Every fourth quarter runs 1, 2 and 3 visits a working day in October, November and
    December (2 in every other month). At the end of November 2026 the rep is exactly on
    that curve: the seasonal pace must say so. Learned from the latest four quarters (three
    of them flat), the curve expected far more by now and called it behind."""
    s, clock = clocked_both
    resp = await s.client.put("/v1/settings", json={"pace_method": "seasonal"}, headers=s.auth())
    assert resp.status_code == 200, resp.text
    back_loaded = {10: 1, 11: 2, 12: 3}
    history = _visits_by_pattern(date(2024, 10, 1), date(2026, 9, 30), back_loaded)
    this_quarter = _visits_by_pattern(date(2026, 10, 1), date(2026, 11, 30), back_loaded)
    for i in range(0, len(history + this_quarter), 500):
        await post_scored(s, clock, (history + this_quarter)[i : i + 500])
    cal = builtin_calendar("cn")
    days = {
        m: cal.working_days(date(2026, m, 1), date(2026 + m // 12, m % 12 + 1, 1))
        for m in (10, 11, 12)
    }
    target = sum(back_loaded[m] * n for m, n in days.items())
    await set_target(s, clock, BEFORE_OCTOBER, kpi="visits", period="2026-Q4", target=str(target))
    body = await progress(s, kpi="visits", period="2026-Q4", as_of="2026-11-30T20:00:00+08:00")
    assert Decimal(body["actual"]) == days[10] + 2 * days[11]
    assert body["expected_method"] == "seasonal"
    assert Decimal("0.95") <= Decimal(body["pace"]) <= Decimal("1.05"), body
    assert body["status"] == "on_track"
    # By working days alone the quarter is far behind (its big month is still to come).
    linear = Decimal(target) * (days[10] + days[11]) / sum(days.values())
    assert Decimal(body["actual"]) / linear < Decimal("0.8")
