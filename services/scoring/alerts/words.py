"""The parameters of alert and digest messages: KPI names, periods and values as
:mod:`paceline.shared.i18n` formats them per locale (never pre-formatted text)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from babel.dates import get_month_names

from paceline.shared.i18n import L10n, Money, Msg, Pct, babel_locale, msg
from paceline.shared.kpi.catalog import KpiDefinition


def kpi_name(kpi: KpiDefinition | None, key: str) -> L10n:
    """A KPI's name in both languages (its key when the KPI is not known any more)."""
    if kpi is None:
        return L10n(zh=key, en=key)
    return L10n(zh=kpi.name_zh or key, en=kpi.name_en or key)


def period_label(key: str) -> Msg | str:
    """A period key as people name it: 2026年11月 / Nov 2026, 2026年第4季度 / Q4 2026,
    2026年第48周 / week 48 of 2026, 2026年度 / 2026 (the key itself if it is none of them).

    Years and numbers go in as text: a year is not a quantity (no "2,026")."""
    if m := re.fullmatch(r"(\d{4})", key):
        return msg("alerts.period.year", year=m[1])
    if m := re.fullmatch(r"(\d{4})-Q([1-4])", key, flags=re.IGNORECASE):
        return msg("alerts.period.quarter", year=m[1], quarter=m[2])
    if m := re.fullmatch(r"(\d{4})-(\d{2})", key):
        month = int(m[2])
        if 1 <= month <= 12:
            return msg(
                "alerts.period.month",
                year=m[1],
                month=L10n(zh=str(month), en=_month_name(month, "en")),
            )
    if m := re.fullmatch(r"(\d{4})-W(\d{2})", key, flags=re.IGNORECASE):
        return msg("alerts.period.week", year=m[1], week=str(int(m[2])))
    return key


def _month_name(month: int, locale: str) -> str:
    return str(get_month_names("abbreviated", locale=babel_locale(locale))[month])


def value_of(kpi: KpiDefinition | None, value: Decimal | None, currency: str) -> Any:
    """A KPI value as a parameter of its unit: money in the tenant's currency, a ratio as
    a percentage, hours and days with their unit, anything else a number (None when there
    is none)."""
    if value is None:
        return None
    unit = kpi.unit if kpi is not None else "count"
    if unit == "currency":
        return Money(Decimal(value), currency)
    if unit == "ratio":
        return Pct(Decimal(value))
    amount = number(value, 2)
    if unit == "hours":
        return msg("alerts.unit.hours", value=amount)
    if unit == "days":
        return msg("alerts.unit.days", value=amount)
    if unit == "per_100_customers":
        return msg("alerts.unit.per_100_customers", value=amount)
    return amount


def number(value: float | Decimal | int, places: int = 1) -> Decimal:
    """A measured number rounded for people (12.345 → 12.3); whole numbers stay whole."""
    quantum = Decimal(1).scaleb(-places)
    out = Decimal(str(value)).quantize(quantum)
    return out.to_integral() if out == out.to_integral() else out.normalize()
