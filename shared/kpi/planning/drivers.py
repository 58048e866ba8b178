"""Review drivers: a miss split exactly into the effects of its drivers.

Revenue = quotes x win rate x average deal (:func:`revenue_drivers`), deals won = quotes x
win rate (:func:`deals_drivers`), by sequential substitution, so the effects add up to
the gap. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class DriverEffect:
    """One driver's share of a gap, in the KPI's units."""

    driver: str
    planned: Decimal | None
    actual: Decimal | None
    effect: Decimal


def revenue_drivers(
    *,
    revenue: Decimal,
    deals: Decimal,
    quotes: Decimal,
    planned_revenue: Decimal,
    planned_deals: Decimal,
    planned_quotes: Decimal,
) -> list[DriverEffect]:
    """Split revenue - planned revenue into quotes, win-rate and deal-size effects.

    revenue = quotes x win rate x average deal, with win rate = deals won / quotes and
    average deal = revenue / deals won. Sequential substitution: the quotes effect at the
    planned win rate and deal size, the win-rate effect at the actual quotes and planned
    deal size, the deal-size effect at the actual deals. The three add up exactly to the
    gap (zero denominators count as zero).
    """

    def div(a: Decimal, b: Decimal) -> Decimal:
        return a / b if b else Decimal(0)

    size_p, size_a = div(planned_revenue, planned_deals), div(revenue, deals)
    rate_p, rate_a = div(planned_deals, planned_quotes), div(deals, quotes)
    quotes_effect = (quotes - planned_quotes) * rate_p * size_p
    rate_effect = quotes * (rate_a - rate_p) * size_p
    gap = revenue - planned_revenue
    size_effect = gap - quotes_effect - rate_effect  # = deals x (size_a - size_p) when exact
    return [
        DriverEffect("quotes", planned_quotes, quotes, quotes_effect),
        DriverEffect("win_rate", rate_p, rate_a if quotes else None, rate_effect),
        DriverEffect("average_deal", size_p, size_a if deals else None, size_effect),
    ]


def deals_drivers(
    *, deals: Decimal, quotes: Decimal, planned_deals: Decimal, planned_quotes: Decimal
) -> list[DriverEffect]:
    """Split deals won - planned into the quotes and win-rate effects (deals = quotes x rate)."""
    rate_p = planned_deals / planned_quotes if planned_quotes else Decimal(0)
    rate_a = deals / quotes if quotes else Decimal(0)
    quotes_effect = (quotes - planned_quotes) * rate_p
    return [
        DriverEffect("quotes", planned_quotes, quotes, quotes_effect),
        DriverEffect(
            "win_rate", rate_p, rate_a if quotes else None, deals - planned_deals - quotes_effect
        ),
    ]
