"""The arithmetic of incentives, pure (docs/INCENTIVES.md, "How each line is computed").

Everything is exact until a line is rounded, once, by :func:`round_money`: to the
currency's minor unit (ISO 4217; ¥ 0.01), half up (四舍五入). Products of Decimals are
exact; where a line divides (a curve between its points, a segment's share of the month's
days, a pool split, a commission blended over segments) it is computed as a Fraction.
A statement's total is the sum of its rounded lines, so it adds up to the cent.

Tier boundaries belong to the tier that starts there: an attainment of exactly 100%
pays the tier ``from: 1``; a curve's threshold pays the threshold payout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from itertools import pairwise

from paceline.shared.kpi.incentives.plans import Curve, Tier
from paceline.shared.money import minor_units

ZERO = Decimal(0)
ONE = Decimal(1)


def round_money(amount: Decimal | Fraction, currency: str) -> Decimal:
    """A line's amount in the currency's minor unit, half up (the one rounding rule);
    an exact rational amount is rounded exactly (a tie is a tie, not 0.52499...)."""
    places = minor_units(currency)
    quantum = ONE.scaleb(-places)
    if isinstance(amount, Fraction):
        scaled = abs(amount) * 10**places
        units = math.floor(scaled + Fraction(1, 2))  # half up, away from zero
        sign = -1 if amount < 0 else 1
        return (Decimal(sign * units) * quantum).quantize(quantum)
    return amount.quantize(quantum, rounding=ROUND_HALF_UP)


def to_decimal(value: Fraction | Decimal) -> Decimal:
    """A rational as a Decimal (exact when it terminates within the context's digits)."""
    if isinstance(value, Decimal):
        return value
    return Decimal(value.numerator) / Decimal(value.denominator)


def tier_index(tiers: Sequence[Tier], attainment: Decimal | None) -> int:
    """The tier an attainment reaches (the first tier without a target)."""
    if attainment is None:
        return 0
    reached = 0
    for i, t in enumerate(tiers):
        if attainment >= t.start:
            reached = i
    return reached


def commission(amount: Decimal, quota: Decimal | None, tiers: Sequence[Tier], mode: str) -> Decimal:
    """Commission on ``amount`` against ``quota`` (exact).

    Marginal: the slice of the amount between two tier starts (times the quota) is paid
    at that tier's rate. Retroactive: the reached tier's rate on the whole amount. With
    no quota (no target) or a non-positive amount, the first tier's rate applies to all.
    """
    if quota is None or quota <= 0 or amount <= 0:
        return amount * tiers[0].rate
    if mode == "retroactive":
        return amount * tiers[tier_index(tiers, amount / quota)].rate
    total = ZERO
    for i, t in enumerate(tiers):
        lo = t.start * quota
        if amount <= lo:
            break
        hi = tiers[i + 1].start * quota if i + 1 < len(tiers) else None
        top = amount if hi is None else min(amount, hi)
        total += (top - lo) * t.rate
    return total


@dataclass(frozen=True, slots=True)
class CurvePoints:
    """A curve with every default resolved: (attainment, payout) points, slope, cap."""

    points: tuple[tuple[Decimal, Decimal], ...]  # increasing attainment, from the threshold
    slope: Decimal  # payout per attainment above the last point
    cap: Decimal | None
    accelerator: Decimal | None = None  # the plan's slope above the last point, if given


def resolve_curve(
    curve: Curve, *, baseline: Decimal | None = None, stretch: Decimal | None = None
) -> CurvePoints:
    """The curve's points, filling the threshold and stretch from a target's baseline and
    stretch attainments where the plan leaves them out."""
    threshold = curve.threshold if curve.threshold is not None else baseline
    if threshold is not None and not ZERO <= threshold < ONE:
        threshold = None  # a target's baseline at or above the target is no threshold
    s = curve.stretch if curve.stretch is not None else stretch
    if s is not None and s <= ONE:
        s = None
    points: list[tuple[Decimal, Decimal]] = []
    if threshold is not None:
        tp = curve.threshold_payout if curve.threshold_payout is not None else threshold
        points.append((threshold, tp))
    else:
        points.append((ZERO, ZERO))
    points.append((ONE, ONE))
    if s is not None:
        sp = curve.stretch_payout if curve.stretch_payout is not None else s
        points.append((s, max(sp, ONE)))
    (a0, p0), (a1, p1) = points[-2], points[-1]
    slope = curve.accelerator if curve.accelerator is not None else (p1 - p0) / (a1 - a0)
    return CurvePoints(tuple(points), slope, curve.cap, curve.accelerator)


def payout_exact(points: CurvePoints, attainment: Decimal | None) -> Fraction:
    """The fraction of the amount a curve pays at an attainment (0 below the threshold),
    as an exact rational: straight lines between points, the slope above the last."""
    if attainment is None:
        return Fraction(0)
    at = Fraction(attainment)
    pts = [(Fraction(a), Fraction(p)) for a, p in points.points]
    if at < pts[0][0]:
        return Fraction(0)
    if points.accelerator is not None:
        slope = Fraction(points.accelerator)
    else:
        (a0, p0), (a1, p1) = pts[-2], pts[-1]
        slope = (p1 - p0) / (a1 - a0)
    value = pts[-1][1] + slope * (at - pts[-1][0])
    for (a0, p0), (a1, p1) in pairwise(pts):
        if at < a1:
            value = p0 + (p1 - p0) * (at - a0) / (a1 - a0)
            break
    if points.cap is not None:
        value = min(value, Fraction(points.cap))
    return max(value, Fraction(0))


def payout(points: CurvePoints, attainment: Decimal | None) -> Decimal:
    """The fraction of the amount a curve pays at an attainment (0 below the threshold)."""
    return to_decimal(payout_exact(points, attainment))


def next_point(points: CurvePoints, attainment: Decimal | None) -> Decimal | None:
    """The next curve point above an attainment (None past the last one)."""
    at = attainment if attainment is not None else ZERO
    for a, _p in points.points:
        if a > at:
            return a
    return None


def next_tier_start(tiers: Sequence[Tier], attainment: Decimal | None) -> Decimal | None:
    """Where the next commission tier starts (None at the top tier or without a target)."""
    if attainment is None:
        return None
    i = tier_index(tiers, attainment)
    return tiers[i + 1].start if i + 1 < len(tiers) else None


def clamp(value: Decimal, floor: Decimal, ceiling: Decimal | None) -> Decimal:
    """``value`` within ``[floor, ceiling]``."""
    value = max(value, floor)
    return min(value, ceiling) if ceiling is not None else value
