"""Turning rolled-up measures into a KPI's value (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from paceline.shared.kpi.formula import Formula
from paceline.shared.money import SCALE, from_units


@dataclass(frozen=True, slots=True)
class MeasureTotal:
    """One measure rolled up over reps and days: units summed, or members counted."""

    units: int = 0  # sum/count measures, in 1/SCALE units
    records: int = 0  # contributing records (fact ``n``)
    members: int = 0  # distinct measures: distinct members


@dataclass(frozen=True, slots=True)
class KpiValue:
    """A KPI's value with its parts (numerator and denominator for ratios)."""

    value: Decimal | None
    numerator: Decimal | None
    denominator: Decimal | None
    sample: int  # records behind the denominator (or the value), for minimum-sample rules


def measure_value(formula: Formula, index: int, total: MeasureTotal) -> Decimal:
    """The rolled-up value of one measure."""
    m = formula.measures[index]
    if m.kind == "distinct":
        return Decimal(total.members)
    if m.kind == "count":
        return Decimal(total.units // SCALE)
    return from_units(total.units)


def kpi_value(
    formula: Formula,
    totals: Mapping[int, MeasureTotal],
    *,
    rep_working_days: int | None = None,
) -> KpiValue:
    """Combine measure totals into the KPI's value.

    ``rep_working_days`` is the sum over the reps in scope of the working days elapsed,
    the denominator of ``working_day_share``.
    """
    first = totals.get(0, MeasureTotal())
    if formula.shape == "value":
        v = measure_value(formula, 0, first) * formula.factor
        return KpiValue(v, v, None, first.records or first.members)
    if formula.shape == "working_day_share":
        active = Decimal(first.members)
        if not rep_working_days:
            return KpiValue(None, active, Decimal(0), 0)
        den = Decimal(rep_working_days)
        return KpiValue(active / den * formula.factor, active, den, rep_working_days)
    second = totals.get(1, MeasureTotal())
    num = measure_value(formula, 0, first)
    den = measure_value(formula, 1, second)
    sample = second.records if formula.measures[1].kind != "distinct" else second.members
    if den == 0:
        return KpiValue(None, num, den, sample)
    return KpiValue(num / den * formula.factor, num, den, sample)


def units_value(formula: Formula, units: int) -> Decimal:
    """A sum or count measure's units (measure 0) as the KPI's value."""
    return kpi_value(formula, {0: MeasureTotal(units=units)}).value or Decimal(0)
