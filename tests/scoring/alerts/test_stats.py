"""The anomaly maths: Poisson tails, the detector, persistence, the baseline rules."""

from __future__ import annotations

import math
import random

from hypothesis import given
from hypothesis import strategies as st

from paceline.scoring.alerts.stats import (
    Persistence,
    PoissonDetector,
    mad_flags,
    nbinom_cdf,
    nbinom_sf,
    poisson_cdf,
    poisson_sf,
    robust_rate,
    scan,
)

WEEKDAYS = [d % 5 + 1 for d in range(200)]


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


# -- the sustained test ---------------------------------------------------------------------


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth; fine for small rates)."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def draws(rng: random.Random, *spans: tuple[float, int]) -> list[int]:
    """Poisson counts, ``days`` at ``rate`` for each (rate, days) in turn."""
    return [poisson(rng, rate) for rate, days in spans for _ in range(days)]


def test_negative_binomial_tails_by_hand() -> None:
    # size 1 is the geometric distribution: P(X = k) = (1/(1+m)) (m/(1+m))^k.
    assert math.isclose(nbinom_cdf(0, 1.0, 2.0), 1 / 3)
    assert math.isclose(nbinom_cdf(1, 1.0, 2.0), 1 / 3 + 2 / 9)
    assert math.isclose(nbinom_sf(2, 1.0, 2.0), 4 / 9)
    assert nbinom_sf(0, 3.0, 5.0) == 1.0
    assert nbinom_cdf(-1, 3.0, 5.0) == 0.0
    # A rate known from very many events: the Poisson.
    for k in (0, 3, 12, 30):
        assert math.isclose(nbinom_cdf(k, 1e7, 12.0), poisson_cdf(k, 12.0), rel_tol=1e-4)
    # Wider than the Poisson with the same mean: a rate estimated from 60 events.
    assert nbinom_cdf(2, 60.0, 12.0) > poisson_cdf(2, 12.0)
    assert 0 < nbinom_sf(200, 60.0, 12.0) < 1e-30


@given(
    st.integers(min_value=0, max_value=300),
    st.floats(min_value=0.5, max_value=500),
    st.floats(min_value=0.01, max_value=200),
)
def test_negative_binomial_cdf_and_sf_add_up_to_one(k: int, size: float, mean: float) -> None:
    assert math.isclose(nbinom_cdf(k, size, mean) + nbinom_sf(k + 1, size, mean), 1.0, abs_tol=1e-9)


@given(st.lists(st.integers(min_value=0, max_value=6), min_size=90, max_size=90))
def test_a_sustained_flag_is_what_it_says(counts: list[int]) -> None:
    """Whatever the series: a low flag has fewer events than expected, a high one at least
    min_high and twice the expectation, and neither is judged under min_expected."""
    detector = PoissonDetector()
    verdict = detector.sustained(counts, WEEKDAYS, len(counts) - 1)
    if verdict.direction is None:
        return
    assert verdict.test == "sustained"
    assert (verdict.window, verdict.baseline_days) == (30, 60)
    assert verdict.observed == sum(counts[-30:])
    assert verdict.expected >= detector.min_expected
    assert verdict.p_value < detector.alpha
    if verdict.direction == "low":
        assert verdict.observed < verdict.expected
    else:
        assert verdict.observed >= max(detector.min_high, 2 * verdict.expected)


def test_the_sustained_test_keeps_its_false_positive_rate_on_stationary_poisson() -> None:
    """Independent stationary Poisson series (window 30, baseline 60 working days), judged
    on their last day, at alpha 0.01 (the calibration does not depend on alpha; 0.01 keeps
    the sample small). Each tail stays within alpha, give or take the sampling error
    (about 0.0016 here). The plug-in Poisson tail against the same expectation, which
    treats a rate estimated from 30-180 events as known, flags two to three times too
    often: why the sustained test integrates the rate's uncertainty."""
    alpha, n = 0.01, 4000
    detector = PoissonDetector(alpha=alpha)
    for rate in (0.5, 1.2, 3.0):
        rng = random.Random(f"null:{rate}")
        low = high = plug_in = 0
        for _ in range(n):
            counts = draws(rng, (rate, 90))
            verdict = detector.sustained(counts, WEEKDAYS, 89)
            low += verdict.direction == "low"
            high += verdict.direction == "high"
            win = detector.window(counts, WEEKDAYS, 89, 30, 60)
            assert win is not None
            plug_in += poisson_cdf(win.observed, win.expected) < alpha
        assert low / n <= 1.5 * alpha, rate
        assert high / n <= 1.5 * alpha, rate
        if rate >= 1:
            assert plug_in / n > 1.5 * alpha, rate


def test_a_drop_to_a_third_at_sparse_rates_is_flagged_over_thirty_days_not_ten() -> None:
    """1.2 events a working day for 60 days, then 0.4 for the window: over 30 days the
    sustained test flags it about 4 times in 5 at alpha 0.001. Over 10 days it cannot,
    whatever the method: 12 expected, at most 2 observed is significant at 0.001, and a
    rate of 0.4 gives at most 2 in 10 days only 24% of the time (with the rate known)."""
    assert poisson_cdf(2, 12.0) < 0.001 < poisson_cdf(3, 12.0)
    assert math.isclose(poisson_cdf(2, 4.0), 0.238, abs_tol=0.001)
    n = 1000
    for window, at_least, at_most in ((30, 0.7, 1.0), (10, 0.0, 0.3)):
        detector = PoissonDetector(window_days=window)
        rng = random.Random(f"drop:{window}")
        flagged = sum(
            detector.sustained(
                draws(rng, (1.2, 60), (0.4, window)), WEEKDAYS, 59 + window
            ).direction
            == "low"
            for _ in range(n)
        )
        assert at_least <= flagged / n <= at_most, window


def test_a_sustained_rise_at_sparse_rates_is_flagged() -> None:
    """1.2 events a working day, then three times that for 30 days: flagged high."""
    detector = PoissonDetector()
    rng = random.Random("rise")
    n = 500
    flagged = sum(
        detector.sustained(draws(rng, (1.2, 60), (3.6, 30)), WEEKDAYS, 89).direction == "high"
        for _ in range(n)
    )
    assert flagged / n >= 0.95


def test_a_steady_sparse_drop_stays_flagged_by_the_sustained_test() -> None:
    """The demo's laggard: steady counts at 1.2 a day (1, 1, 2, 1, 1...), then at 0.4 (0, 1,
    0, 1, 0...) for 30 days. The short windows flag the drop from its 19th day, and stop
    again by its 28th: their 40-day baseline now holds most of the drop. The sustained
    test (30 days against the 60 before) keeps it flagged, so it is still raised at the end
    (and on a first run that judges only the last 20 days)."""
    counts = [math.floor(0.3 + 1.2 * (d + 1)) - math.floor(0.3 + 1.2 * d) for d in range(60)]
    counts += [math.floor(0.3 + 0.4 * (d + 1)) - math.floor(0.3 + 0.4 * d) for d in range(30)]
    with_test, without = PoissonDetector(), PoissonDetector(window_days=0)
    assert [d for d in range(60, 90) if without.assess(counts, WEEKDAYS, d).direction] == list(
        range(78, 87)
    )
    verdict = with_test.assess(counts, WEEKDAYS, 89)
    assert (verdict.direction, verdict.test, verdict.observed) == ("low", "sustained", 12)
    for detector, end in ((with_test, "low"), (without, None)):
        for first in (0, 70):  # day by day, or a first run over the last 20 days
            state = Persistence(detector.persistence)
            for day in range(first, 90):
                state.step(detector.assess(counts, WEEKDAYS, day).direction)
            assert state.active == end, (detector.window_days, first)
