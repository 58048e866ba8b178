"""Anomaly statistics for sparse daily counts: pure, clock-free, I/O-free.

The detector (:class:`PoissonDetector`) judges a rep's daily counts of one KPI (visits,
leads, quotes...) on working days only:

* **baseline**: the ``baseline_days`` working days before the tested window, as a
  robust rate (the trimmed mean of week-long block means: one unusual week cannot move
  it) times a same-weekday factor (the rep's own weekday profile, shrunk towards 1 by a
  pseudo-count, so a sparse rep's Mondays do not make a profile out of noise);
* **test**: the sum over the last ``w`` working days against a Poisson with the summed
  expected rate, for several window lengths (a one-week window sees a sudden stop, a
  four-week one a slow fade); the lower tail for drops, the upper tail for spikes, each
  window at ``alpha / len(windows)`` (Bonferroni);
* **volume gate**: a drop is only judged when the window expects at least
  ``min_expected`` events (with fewer, even zero is not evidence); a spike needs at
  least ``min_high`` events and ``high_ratio`` times the expectation;
* **persistence**: a flag is raised after ``persistence`` consecutive flagged working
  days and cleared after as many clean ones (hysteresis).

Poisson tails use the standard library (``math.lgamma`` and ``math.fsum`` in log space):
two functions do not justify SciPy's 40 MB, and the property tests check them. The
median/MAD rule and the Poisson EWMA chart are here too, as the baselines the noise
study (bench/alerts_noise.py) compares against.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def _log_pmf(k: int, mu: float) -> float:
    if mu <= 0:
        return 0.0 if k == 0 else -math.inf
    return k * math.log(mu) - mu - math.lgamma(k + 1)


def poisson_cdf(k: int, mu: float) -> float:
    """P(X <= k) for X ~ Poisson(mu)."""
    if k < 0:
        return 0.0
    if mu <= 0:
        return 1.0
    if k > mu + 40 * math.sqrt(mu) + 40:
        return 1.0 - poisson_sf(k + 1, mu)
    return min(1.0, math.fsum(math.exp(_log_pmf(i, mu)) for i in range(k + 1)))


def poisson_sf(k: int, mu: float) -> float:
    """P(X >= k) for X ~ Poisson(mu)."""
    if k <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    if k <= mu:
        return max(0.0, 1.0 - poisson_cdf(k - 1, mu))
    terms = []
    i = k
    while True:
        t = math.exp(_log_pmf(i, mu))
        terms.append(t)
        if t < 1e-300 or (i > k and t < terms[0] * 1e-17):
            break
        i += 1
    return min(1.0, math.fsum(terms))


def robust_rate(values: Sequence[float], block: int = 5) -> float:
    """A rate per day robust to one unusual block: trimmed mean of block means."""
    if not values:
        return 0.0
    blocks = [values[i : i + block] for i in range(0, len(values), block)]
    means = sorted(sum(b) / len(b) for b in blocks if len(b) >= max(1, block // 2))
    if not means:
        return sum(values) / len(values)
    if len(means) >= 4:
        means = means[1:-1]
    return sum(means) / len(means)


def weekday_factors(
    values: Sequence[float], weekdays: Sequence[int], *, pseudo_count: float = 10.0
) -> dict[int, float]:
    """Each weekday's rate relative to the mean, shrunk towards 1 by a pseudo-count."""
    if not values:
        return {}
    mean = sum(values) / len(values)
    sums: dict[int, float] = {}
    counts: dict[int, int] = {}
    for v, wd in zip(values, weekdays, strict=True):
        sums[wd] = sums.get(wd, 0.0) + v
        counts[wd] = counts.get(wd, 0) + 1
    return {
        wd: (sums[wd] + pseudo_count) / (counts[wd] * mean + pseudo_count) if mean > 0 else 1.0
        for wd in sums
    }


@dataclass(frozen=True, slots=True)
class Assessment:
    """One day's verdict: the direction flagged (or None) and the evidence."""

    direction: str | None  # low | high | None
    window: int
    observed: int
    expected: float
    p_value: float

    def as_dict(self) -> dict[str, float | int | str | None]:
        """The evidence as JSON-ready data."""
        return {
            "direction": self.direction,
            "window_days": self.window,
            "observed": self.observed,
            "expected": round(self.expected, 3),
            "p_value": float(f"{self.p_value:.3g}"),
        }


@dataclass(frozen=True, slots=True)
class PoissonDetector:
    """Poisson tail tests on working-day counts (see the module docstring)."""

    baseline_days: int = 40
    min_baseline_days: int = 20
    low_windows: tuple[int, ...] = (5, 10, 20)
    high_windows: tuple[int, ...] = (1, 5)
    alpha: float = 0.001
    min_expected: float = 5.0
    min_high: int = 5
    high_ratio: float = 2.0
    persistence: int = 2
    pseudo_count: float = 10.0

    def expected(
        self, counts: Sequence[int], weekdays: Sequence[int], start: int, end: int
    ) -> float | None:
        """Expected sum over days [start, end) from the baseline before ``start``."""
        lo = max(0, start - self.baseline_days)
        if start - lo < self.min_baseline_days:
            return None
        base = [float(c) for c in counts[lo:start]]
        rate = robust_rate(base)
        factors = weekday_factors(base, weekdays[lo:start], pseudo_count=self.pseudo_count)
        return sum(rate * factors.get(weekdays[i], 1.0) for i in range(start, end))

    def assess(self, counts: Sequence[int], weekdays: Sequence[int], day: int) -> Assessment:
        """The verdict for the window(s) ending on working day index ``day``."""
        best = Assessment(None, 0, 0, 0.0, 1.0)
        low_alpha = self.alpha / max(1, len(self.low_windows))
        high_alpha = self.alpha / max(1, len(self.high_windows))
        for w in self.low_windows:
            start = day - w + 1
            mu = self.expected(counts, weekdays, start, day + 1) if start >= 0 else None
            if mu is None or mu < self.min_expected:
                continue
            obs = sum(counts[start : day + 1])
            p = poisson_cdf(obs, mu)
            if p < low_alpha and p < best.p_value:
                best = Assessment("low", w, obs, mu, p)
        for w in self.high_windows:
            start = day - w + 1
            mu = self.expected(counts, weekdays, start, day + 1) if start >= 0 else None
            if mu is None:
                continue
            obs = sum(counts[start : day + 1])
            if obs < self.min_high or obs < self.high_ratio * mu:
                continue
            p = poisson_sf(obs, mu)
            if p < high_alpha and p < best.p_value:
                best = Assessment("high", w, obs, mu, p)
        return best


@dataclass(slots=True)
class Persistence:
    """Hysteresis on daily verdicts: raise after N in a row, clear after N clean days."""

    needed: int
    active: str | None = None
    streak_dir: str | None = None
    streak: int = 0

    def step(self, direction: str | None) -> str | None:
        """Feed one day's direction; returns ``raise:<dir>``, ``clear`` or None."""
        if direction == self.active:
            self.streak_dir, self.streak = None, 0
            return None
        target = direction
        if target == self.streak_dir:
            self.streak += 1
        else:
            self.streak_dir, self.streak = target, 1
        if self.streak < self.needed:
            return None
        self.streak_dir, self.streak = None, 0
        self.active = target
        return f"raise:{target}" if target is not None else "clear"

    def to_json(self) -> dict[str, object]:
        """The state as JSON."""
        return {"active": self.active, "streak_dir": self.streak_dir, "streak": self.streak}

    @classmethod
    def from_json(cls, data: dict[str, object], needed: int) -> Persistence:
        """The state from JSON."""
        streak = data.get("streak", 0)
        return cls(
            needed=needed,
            active=data.get("active") if isinstance(data.get("active"), str) else None,  # type: ignore[arg-type]
            streak_dir=data.get("streak_dir")  # type: ignore[arg-type]
            if isinstance(data.get("streak_dir"), str)
            else None,
            streak=streak if isinstance(streak, int) else 0,
        )


def scan(
    counts: Sequence[int], weekdays: Sequence[int], detector: PoissonDetector
) -> list[tuple[int, str]]:
    """Every (day index, direction) where a flag is raised over a whole series."""
    state = Persistence(detector.persistence)
    out = []
    for day in range(len(counts)):
        event = state.step(detector.assess(counts, weekdays, day).direction)
        if event is not None and event.startswith("raise:"):
            out.append((day, event.removeprefix("raise:")))
    return out


def mad_flags(
    counts: Sequence[int], *, window: int = 28, k: float = 3.0, min_history: int = 20
) -> list[tuple[int, str]]:
    """A robust median/MAD rule: |x - median| > k * 1.4826 * MAD of the trailing window.

    As dashboards commonly run it: no special case for a zero MAD, so on sparse counts
    (median 0 or 1, MAD 0) any day off the median is flagged.
    """
    out = []
    for day in range(len(counts)):
        hist = counts[max(0, day - window) : day]
        if len(hist) < min_history:
            continue
        med = statistics.median(hist)
        mad = statistics.median(abs(x - med) for x in hist) * 1.4826
        dev = counts[day] - med
        if abs(dev) > k * mad:
            out.append((day, "low" if dev < 0 else "high"))
    return out


def ewma_flags(
    counts: Sequence[int],
    *,
    weight: float,
    limit: float,
    burn_in: int = 20,
    side: str = "low",
) -> list[tuple[int, str]]:
    """A Poisson EWMA chart: rate from the burn-in days; flags when the EWMA crosses
    ``rate -/+ limit * sqrt(rate * weight / (2 - weight))``; re-arms after coming back."""
    if len(counts) <= burn_in:
        return []
    rate = sum(counts[:burn_in]) / burn_in
    sigma = math.sqrt(max(rate, 1e-9) * weight / (2 - weight))
    z = rate
    out = []
    armed = True
    for day in range(burn_in, len(counts)):
        z = (1 - weight) * z + weight * counts[day]
        beyond = z < rate - limit * sigma if side == "low" else z > rate + limit * sigma
        if beyond and armed:
            out.append((day, side))
            armed = False
        elif not beyond:
            armed = True
    return out
