"""What the planning modules share: the default caps, month arithmetic, percentages as text."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Final

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
