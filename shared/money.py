"""Money and fixed-point facts: Decimal in, scaled integers stored, Decimal out.

Every fact value is stored as an integer count of 1/10,000 units (``SCALE``): sums stay
exact in SQLite and PostgreSQL alike, and rolling up is plain integer addition. Amounts
with more than four decimals are rounded half-to-even once, when they become facts; the
event itself keeps every digit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Final

from babel.numbers import list_currencies

from paceline.shared.i18n import Invalid

SCALE: Final[int] = 10_000
_QUANTUM: Final[Decimal] = Decimal("0.0001")

# ISO 4217 minor units for the currencies whose minor unit is not 2.
_MINOR_UNITS: Final[dict[str, int]] = {
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
    "CLP": 0,
    "ISK": 0,
    "PYG": 0,
    "UGX": 0,
    "XAF": 0,
    "XOF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}


# ISO 4217 codes as CLDR knows them (Babel's data: current and historical currencies),
# without the codes for "no currency" and testing.
CURRENCIES: Final[frozenset[str]] = frozenset(list_currencies()) - {"XXX", "XTS"}


def is_currency(code: str) -> bool:
    """Whether ``code`` is an ISO 4217 currency code (upper case)."""
    return code in CURRENCIES


def to_units(value: Decimal) -> int:
    """A Decimal as an integer number of 1/SCALE units (rounded half-to-even)."""
    return int(value.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN) * SCALE)


def from_units(units: int) -> Decimal:
    """Integer units back to a Decimal with four decimals."""
    return (Decimal(units) / SCALE).quantize(_QUANTUM)


def minor_units(currency: str) -> int:
    """How many decimals the currency's minor unit has (ISO 4217; 2 if not listed)."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def split_largest_remainder(
    total: Decimal, weights: Sequence[Decimal], *, places: int
) -> list[Decimal]:
    """Split ``total`` in proportion to ``weights`` so the parts sum exactly to it.

    Parts are multiples of 10^-places; the remainder left by rounding down goes one
    quantum at a time to the parts with the largest fractional remainders (ties: the
    earlier part). Zero weights everywhere split evenly.
    """
    if not weights:
        raise ValueError("weights must not be empty")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    quantum = Decimal(1).scaleb(-places)
    total_q = total.quantize(quantum, rounding=ROUND_HALF_EVEN)
    sign = -1 if total_q < 0 else 1
    steps = int(abs(total_q) / quantum)
    ws = list(weights)
    wsum = sum(ws, Decimal(0))
    if wsum == 0:
        ws = [Decimal(1)] * len(ws)
        wsum = Decimal(len(ws))
    exact = [Decimal(steps) * w / wsum for w in ws]
    floors = [int(e) for e in exact]
    left = steps - sum(floors)
    order = sorted(range(len(ws)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [sign * f * quantum for f in floors]


# -- amounts as people write them -------------------------------------------------------

# Currency marks in amount text (a CSV cell, a CRM field). ¥ and 元 mean CNY (the
# product's default audience).
_SYMBOLS: Final[tuple[tuple[str, str], ...]] = (
    ("US$", "USD"),
    ("HK$", "HKD"),
    ("RMB", "CNY"),
    ("¥", "CNY"),
    ("￥", "CNY"),
    ("元", "CNY"),
    ("$", "USD"),
    ("€", "EUR"),
    ("£", "GBP"),
)
# Chinese magnitude suffixes (5万 = 50,000; 1.2亿 = 120,000,000), longest first: exact
# Decimal multiplication, so 1.2亿 is 120000000.0, never a float's 119999999.99999999.
_MAGNITUDES: Final[tuple[tuple[str, int], ...]] = (
    ("万亿", 10**12),
    ("千万", 10**7),
    ("百万", 10**6),
    ("亿", 10**8),
    ("万", 10**4),
)
_CODE: Final = re.compile(r"^([A-Za-z]{3})\s*(.+)$|^(.+?)\s*([A-Za-z]{3})$")


def parse_amount(text: str, decimal_separator: str = ".") -> tuple[Decimal, str | None]:
    """An amount as people write it — a history file's cell, a CRM's text field: thousands
    separators, a currency code or symbol, (negatives), a Chinese magnitude (``5万``,
    ``1.2亿元``). The one parser of the history import and the webhook mappings.

    Text that is not an amount raises :class:`~paceline.shared.i18n.Invalid` (a
    ValueError) with a catalog message (``money.not_a_number``)."""
    value = text.strip()
    negative = value.startswith("(") and value.endswith(")")
    if negative:
        value = value[1:-1].strip()
    currency = None
    for mark, code in _SYMBOLS:
        if mark in value:
            currency = code
            value = value.replace(mark, "").strip()
            break
    if currency is None and (m := _CODE.match(value)):
        code, rest = (m[1], m[2]) if m[1] else (m[4], m[3])
        if code.isalpha() and not re.fullmatch(r"[eE]\d*", code):
            currency, value = code.upper(), rest.strip()
    value = value.replace(" ", "").replace("'", "").replace("\u00a0", "").replace("，", ",")
    factor = 1
    for suffix, magnitude in _MAGNITUDES:
        if value.endswith(suffix):
            value, factor = value.removesuffix(suffix), magnitude
            break
    if decimal_separator == ",":
        value = value.replace(".", "").replace(",", ".")
    else:
        value = value.replace(",", "")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise Invalid("money.not_a_number", text=text[:100]) from None
    if not amount.is_finite():
        raise Invalid("money.not_finite", text=text[:100])
    amount *= factor
    return (-amount if negative else amount), currency
