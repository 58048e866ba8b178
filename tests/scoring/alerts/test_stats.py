"""The anomaly maths: Poisson tails, the detector, persistence, the baseline rules."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from paceline.scoring.alerts.stats import (
    Persistence,
    PoissonDetector,
    mad_flags,
    poisson_cdf,
    poisson_sf,
    robust_rate,
    scan,
)


def test_poisson_tails_by_hand() -> None:
    assert poisson_cdf(0, 2.0) == math.exp(-2.0)
    assert math.isclose(poisson_cdf(1, 2.0), 3 * math.exp(-2.0))
    assert math.isclose(poisson_sf(2, 2.0), 1 - 3 * math.exp(-2.0))
    assert poisson_sf(0, 5.0) == 1.0
    assert poisson_cdf(-1, 5.0) == 0.0
    # Far in the upper tail: still a positive, tiny probability (no cancellation to 0).
    assert 0 < poisson_sf(60, 5.0) < 1e-30


@given(st.integers(min_value=0, max_value=300), st.floats(min_value=0.01, max_value=200))
def test_cdf_and_sf_add_up_to_one(k: int, mu: float) -> None:
    assert math.isclose(poisson_cdf(k, mu) + poisson_sf(k + 1, mu), 1.0, abs_tol=1e-9)


def test_robust_rate_ignores_one_odd_week() -> None:
    weeks = [2.0] * 35 + [20.0] * 5
    assert robust_rate(weeks) == 2.0


def test_persistence_needs_two_days_each_way() -> None:
    p = Persistence(2)
    assert [p.step(d) for d in ["low", None, "low", "low", "low", None, None]] == [
        None,
        None,
        None,
        "raise:low",
        None,
        None,
        "clear",
    ]


def test_a_rep_gone_quiet_is_flagged_low_and_constant_series_never() -> None:
    weekdays = [d % 5 + 1 for d in range(60)]
    steady = [3] * 60
    assert scan(steady, weekdays, PoissonDetector()) == []
    stopped = [3] * 45 + [0] * 15
    flags = scan(stopped, weekdays, PoissonDetector())
    assert flags == [(49, "low")]  # 4th idle day flagged, confirmed on the 5th


def test_sparse_counts_are_not_judged_without_volume() -> None:
    weekdays = [d % 5 + 1 for d in range(60)]
    sparse = [0, 1, 0, 0, 1] * 12
    assert scan(sparse, weekdays, PoissonDetector()) == []
    # The median/MAD rule flags every day off the median of such a series.
    assert len(mad_flags(sparse)) > 10
