"""What the planning modules share: the default caps, month arithmetic, the decimals of
planned values, and how a period, an amount or an event type is named in a message."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any, Final

from paceline.shared.events import EVENT_TYPES
from paceline.shared.i18n import Money, Msg, msg
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


_PERIOD: Final = re.compile(r"^(\d{4})(?:-(Q[1-4]|W\d{2}|\d{2}))?$")


def period_name(key: str | None) -> Msg | str | None:
    """A period key as people read it (``2027-Q1`` → 2027年第1季度, Q1 2027); a text that
    is not a period key as it is."""
    found = _PERIOD.match(key or "")
    if key is None or found is None:
        return key
    year, part = found.group(1), found.group(2)
    if part is None:
        return msg("planning.period.year", year=year)
    if part.startswith("Q"):
        return msg("planning.period.quarter", year=year, quarter=part[1:])
    if part.startswith("W"):
        return msg("planning.period.week", year=year, week=str(int(part[1:])))
    return msg("planning.period.month", year=year, month=str(int(part)))


def amount(value: Decimal, currency: str | None) -> Money | Decimal:
    """A value of a KPI in a message: money when the KPI counts an amount, else the number."""
    return Money(value, currency) if currency else value


def currency_of(kpi: KpiDefinition | None, tenant_currency: str) -> str | None:
    """The currency a KPI's values are in (None: counts, ratios, averages)."""
    return tenant_currency if kpi is not None and kpi.unit == "currency" else None


def event_type_names(types: Iterable[str]) -> list[Any]:
    """Event types named in a message (``any``: any event)."""
    return [
        msg(f"planning.event_type.{t}") if t in EVENT_TYPES or t == "any" else t
        for t in sorted(types)
    ] or [msg("planning.event_type.any")]


def places_for(kpi: KpiDefinition, currency: str) -> int:
    """Decimals of the KPI's planned values: the currency's minor unit, 0 for counts."""
    if kpi.unit == "currency":
        return minor_units(currency)
    if kpi.unit == "count":
        return 0
    return 2 if kpi.formula.shape == "value" else 4
