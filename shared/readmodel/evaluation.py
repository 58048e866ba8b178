"""Pure evaluation: which measures a KPI needs, the days counted at an instant, pace and
status, and the one rounding rule for figures. No I/O, no clock reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from paceline.shared.errors import FieldError, InvalidInput
from paceline.shared.i18n import msg
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.pace import PaceResult, Thresholds, cumulative_pace, ratio_pace
from paceline.shared.kpi.periods import Period
from paceline.shared.kpi.values import KpiValue

# Figures (KPI values, pace, attainment, projections) are shown to 4 decimal places,
# rounded half-even (banker's rounding: no drift when many rounded figures are summed).
FIGURE_QUANTUM = Decimal("0.0001")


def round4(value: Decimal) -> Decimal:
    """A finite figure rounded to 4 places, half-even."""
    return value.quantize(FIGURE_QUANTUM, rounding=ROUND_HALF_EVEN)


def q4(value: Decimal | None) -> Decimal | None:
    """A figure rounded to 4 places (half-even); None for None and non-finite values."""
    if value is None or not value.is_finite():
        return None
    return round4(value)


def fmt4(value: Decimal | str | int | None) -> str | None:
    """:func:`q4` as text (for alert details and digests), None stays None."""
    if value is None:
        return None
    rounded = q4(value if isinstance(value, Decimal) else Decimal(value))
    return None if rounded is None else str(rounded)


@dataclass(frozen=True, slots=True)
class MeasurePlan:
    """Which of a formula's measures the roll-up sums, counts distinct, or pairs by day.

    A ``working_day_share`` formula (e.g. field days) pairs its one measure with the
    working days; otherwise sum and count measures are summed and distinct measures are
    counted as member sets.
    """

    value_measures: list[int]
    distinct_measures: list[int]
    pair_measures: list[int]

    @property
    def working_day_share(self) -> bool:
        """True when the value is a share of working days."""
        return bool(self.pair_measures)


def measure_plan(kpi: KpiDefinition) -> MeasurePlan:
    """The roll-up a KPI's formula needs."""
    if kpi.formula.shape == "working_day_share":
        return MeasurePlan(value_measures=[], distinct_measures=[], pair_measures=[0])
    measures = list(enumerate(kpi.formula.measures))
    return MeasurePlan(
        value_measures=[i for i, m in measures if m.kind != "distinct"],
        distinct_measures=[i for i, m in measures if m.kind == "distinct"],
        pair_measures=[],
    )


def is_additive(kpi: KpiDefinition) -> bool:
    """A KPI whose daily values add up (a sum or count, not a ratio or distinct count)."""
    return kpi.formula.shape == "value" and kpi.formula.measures[0].kind != "distinct"


def counted_days_end(period: Period, as_of: datetime, tz: ZoneInfo) -> date:
    """The exclusive end of the days counted at ``as_of``: whole days that began before it."""
    local = as_of.astimezone(tz)
    end = local.date() + (timedelta(days=1) if local.time() != time(0) else timedelta(0))
    return max(period.start, min(period.end, end))


def check_as_of(as_of: datetime) -> None:
    """422 unless ``as_of`` has an offset and a year Paceline can count in."""
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise InvalidInput(
            msg("progress.as_of.no_offset"),
            fields=[FieldError("as_of", msg("progress.as_of.no_offset_reason"))],
        )
    if not 1990 <= as_of.year <= 2100:
        raise InvalidInput(
            msg("progress.as_of.out_of_range"),
            fields=[FieldError("as_of", msg("progress.as_of.year_range"))],
        )


def pace_of(
    kpi: KpiDefinition,
    value: KpiValue,
    *,
    target: Decimal,
    thresholds: Thresholds,
    elapsed_working_days: int,
    total_working_days: int,
    seasonal_share: Decimal | None = None,
) -> PaceResult:
    """Expected, pace, projections and status of a value against its target.

    Ratios and averages are judged on their level (with the KPI's minimum sample);
    cumulative KPIs on the share of the target expected by now (working days, or the
    seasonal share history teaches when one is given).
    """
    if kpi.is_ratio:
        return ratio_pace(
            actual=value.value,
            target=target,
            direction=kpi.direction,
            sample=value.sample,
            min_sample=kpi.min_sample,
            thresholds=thresholds,
        )
    return cumulative_pace(
        actual=value.value or Decimal(0),
        target=target,
        direction=kpi.direction,
        elapsed_working_days=elapsed_working_days,
        total_working_days=total_working_days,
        seasonal_share=seasonal_share,
        method="seasonal" if seasonal_share is not None else "working_days",
        thresholds=thresholds,
    )
