"""What the planning modules share: the default caps, month arithmetic, percentages as text,
the decimals of planned values."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Final

from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.money import minor_units

# Default caps (overridable per request): growth beyond this over last year is not
# suggested; a request needing this much more growth than history showed is flagged.
DEFAULT_CAP: Final = Decimal("0.5")
DEFAULT_MARGIN: Final = Decimal("0.2")
DEFAULT_UPLIFT: Final = Decimal("0.1")


def month_index(d: date) -> int:
    """Months since year 0 (so month arithmetic is integer arithmetic)."""
    return d.year * 12 + d.month - 1


def month_start(index: int) -> date:
    """The first day of a month index."""
    return date(index // 12, index % 12 + 1, 1)


def pct(value: Decimal | None) -> str:
    """A growth rate as signed percent text (``+12.5%``), ``n/a`` for None."""
    return "n/a" if value is None else f"{value * 100:+.1f}%"


def places_for(kpi: KpiDefinition, currency: str) -> int:
    """Decimals of the KPI's planned values: the currency's minor unit, 0 for counts."""
    if kpi.unit == "currency":
        return minor_units(currency)
    if kpi.unit == "count":
        return 0
    return 2 if kpi.formula.shape == "value" else 4
