"""Pace, projections and status (docs/KPIS.md, "Progress and pace"), pure and clock-free.

Cumulative KPIs (sums, counts, distinct counts) are judged against where the period
should be by now:

* **expected by working days**: target × (working days elapsed / working days in the
  period), from the tenant's work calendar, so holidays and make-up days (调休) move the
  line;
* **expected by the seasonal curve**: target × the share of a period's total that past
  periods of the same kind had reached after the same number of working days (learned from
  history by :func:`seasonal_curve`), so a month-end rush is not a false alarm.

Ratio and average KPIs (win rate, csat...) are judged by their current value against the
target, and only once the denominator has ``min_sample`` records.

**Pace** is direction-aware: actual / expected when higher is better, expected / actual
when lower is better, so a pace of 1 or more is on or better than expected for every KPI
and sorting by pace ranks the best first. The status is ``ahead`` from
``thresholds.ahead`` up, ``on_track`` from ``on_track``, ``behind`` from ``behind``,
``at_risk`` below. Where the ratio has no value:

* lower is better and actual is 0: pace is None (nothing to divide by) and the status is
  ``ahead`` (nothing bad has happened), unless expected is negative (then
  ``insufficient_data``);
* higher is better and expected is 0: pace is None and the status ``insufficient_data``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Literal

Status = Literal["ahead", "on_track", "behind", "at_risk", "no_target", "insufficient_data"]
Method = Literal["working_days", "seasonal"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Pace thresholds (see the module docstring)."""

    ahead: Decimal = Decimal("1.10")
    on_track: Decimal = Decimal("0.95")
    behind: Decimal = Decimal("0.80")


@dataclass(frozen=True, slots=True)
class PaceResult:
    """Expected to date, direction-aware pace, projections and status."""

    expected: Decimal | None
    expected_method: Method | None
    elapsed_share: Decimal | None
    pace: Decimal | None
    projection_linear: Decimal | None
    projection_seasonal: Decimal | None
    status: Status


def status_for(pace: Decimal | Fraction, thresholds: Thresholds) -> Status:
    """The status for a (direction-aware) pace."""
    if pace >= thresholds.ahead:
        return "ahead"
    if pace >= thresholds.on_track:
        return "on_track"
    if pace >= thresholds.behind:
        return "behind"
    return "at_risk"


def _dec(value: Fraction | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(value.numerator) / Decimal(value.denominator)


def _judge(
    actual: Fraction, expected: Fraction, direction: str, thresholds: Thresholds
) -> tuple[Fraction | None, Status]:
    """The direction-aware pace and its status (see the module docstring)."""
    if direction == "lower":
        if actual == 0:
            # Nothing bad happened yet: no ratio to show, but ahead.
            return None, "ahead" if expected >= 0 else "insufficient_data"
        pace = expected / actual
    elif expected == 0:
        return None, "insufficient_data"
    else:
        pace = actual / expected
    return pace, status_for(pace, thresholds)


def cumulative_pace(
    *,
    actual: Decimal,
    target: Decimal,
    direction: str,
    elapsed_working_days: int,
    total_working_days: int,
    seasonal_share: Decimal | None,
    method: Method,
    thresholds: Thresholds,
) -> PaceResult:
    """Pace of a KPI that accumulates over the period.

    Computed in exact fractions, so a pace that is exactly on a threshold (2,400 of an
    expected 3,000 = 0.80) gets that threshold's status, not the one below it.
    """
    linear_share = (
        Fraction(elapsed_working_days, total_working_days)
        if total_working_days > 0
        else Fraction(1)
    )
    use_seasonal = method == "seasonal" and seasonal_share is not None
    share = (
        Fraction(seasonal_share) if use_seasonal and seasonal_share is not None else linear_share
    )
    actual_f, target_f = Fraction(actual), Fraction(target)
    expected = target_f * share
    projection_linear = actual_f / linear_share if linear_share > 0 else None
    projection_seasonal = (
        actual_f / Fraction(seasonal_share)
        if seasonal_share is not None and seasonal_share > 0
        else None
    )
    used: Method = "seasonal" if use_seasonal else "working_days"
    if share == 0:
        return PaceResult(
            _dec(expected),
            used,
            _dec(share),
            None,
            _dec(projection_linear),
            _dec(projection_seasonal),
            "insufficient_data",
        )
    pace, status = _judge(actual_f, expected, direction, thresholds)
    return PaceResult(
        expected=_dec(expected),
        expected_method=used,
        elapsed_share=_dec(share),
        pace=_dec(pace),
        projection_linear=_dec(projection_linear),
        projection_seasonal=_dec(projection_seasonal),
        status=status,
    )


def ratio_pace(
    *,
    actual: Decimal | None,
    target: Decimal,
    direction: str,
    sample: int,
    min_sample: int,
    thresholds: Thresholds,
) -> PaceResult:
    """Pace of a ratio or average KPI: its current value against the target."""
    if actual is None or sample < min_sample:
        return PaceResult(target, None, None, None, actual, None, "insufficient_data")
    actual_f, target_f = Fraction(actual), Fraction(target)
    pace, status = _judge(actual_f, target_f, direction, thresholds)
    return PaceResult(target, None, None, _dec(pace), actual, None, status)


def seasonal_curve(
    periods: Sequence[tuple[Sequence[date], Mapping[date, Decimal]]],
) -> list[Decimal] | None:
    """The average cumulative share reached after k working days, learned from history.

    ``periods`` are past periods of the same kind, each as (its working days in order,
    daily values). Values on non-working days count toward the next working day (or the
    last one). Periods with a total of zero are skipped; None without any usable period.
    The curve is resampled to the longest period's length so periods with different
    numbers of working days can be averaged; ``curve[k-1]`` is the share after ``k`` days.
    """
    curves: list[list[Decimal]] = []
    for working_days, values in periods:
        if not working_days:
            continue
        per_day = [Decimal(0)] * len(working_days)
        for day, value in values.items():
            idx = next((i for i, d in enumerate(working_days) if d >= day), len(working_days) - 1)
            per_day[idx] += value
        total = sum(per_day, Decimal(0))
        if total <= 0:
            continue
        running = Decimal(0)
        cumulative = []
        for v in per_day:
            running += v
            cumulative.append(running / total)
        curves.append(cumulative)
    if not curves:
        return None
    length = max(len(c) for c in curves)
    out = []
    for k in range(1, length + 1):
        shares = []
        for c in curves:
            # The same fraction of the period elapsed in a period of another length.
            pos = max(1, round(k * len(c) / length))
            shares.append(c[pos - 1])
        out.append(sum(shares, Decimal(0)) / len(shares))
    return out


def seasonal_share(curve: Sequence[Decimal], elapsed: int, total: int) -> Decimal:
    """The expected share after ``elapsed`` of ``total`` working days on a curve."""
    if elapsed <= 0 or total <= 0:
        return Decimal(0)
    if elapsed >= total:
        return Decimal(1)
    pos = max(1, round(elapsed * len(curve) / total))
    return curve[min(pos, len(curve)) - 1]
