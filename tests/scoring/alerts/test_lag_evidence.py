"""A lag warning needs enough to judge: a count KPI expected below ``lag_min_expected``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from paceline.scoring.alerts.lag import _too_few
from paceline.shared.alert_options import AlertOptions
from paceline.shared.kpi.catalog import builtin
from paceline.shared.kpi.pace import PaceResult
from paceline.shared.kpi.periods import parse_period
from paceline.shared.kpi.values import KpiValue
from paceline.shared.progress import ProgressResult
from paceline.shared.scopes import Scope


def result(kpi: str, expected: str | None) -> ProgressResult:
    pace = PaceResult(
        expected=None if expected is None else Decimal(expected),
        expected_method="working_days",
        elapsed_share=Decimal("0.5"),
        pace=Decimal("0.5"),
        projection_linear=None,
        projection_seasonal=None,
        status="at_risk",
    )
    return ProgressResult(
        kpi=builtin(kpi),
        scope=Scope("rep", "r1"),
        period=parse_period("2026-11", fiscal_year_start_month=1),
        as_of=datetime(2026, 11, 16, tzinfo=UTC),
        end=date(2026, 11, 16),
        value=KpiValue(value=Decimal(1), numerator=None, denominator=None, sample=1),
        pace=pace,
    )


@pytest.mark.parametrize(
    ("kpi", "expected", "too_few"),
    [
        ("new_customers", "2", True),  # one of an expected two: not judged
        ("new_customers", "4.99", True),
        ("new_customers", "5", False),  # the boundary is judged
        ("visits", "30", False),
        ("revenue", "2", False),  # money is not a count
        ("win_rate", "0.45", False),  # ratios have their own minimum sample
    ],
)
def test_counts_below_the_minimum_expected_are_not_judged(
    kpi: str, expected: str, too_few: bool
) -> None:
    assert _too_few(builtin(kpi), result(kpi, expected), AlertOptions()) is too_few


def test_the_minimum_is_a_tenant_option() -> None:
    options = AlertOptions(lag_min_expected=1)
    assert _too_few(builtin("new_customers"), result("new_customers", "2"), options) is False
