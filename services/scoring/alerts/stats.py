"""Anomaly statistics for sparse daily counts: pure, clock-free, I/O-free.

The detector (:class:`PoissonDetector`) judges a rep's daily counts of one KPI (visits,
leads, quotes...) on working days only:

* **expectation**: from a baseline of working days before the tested window, as a
  robust rate (the trimmed mean of week-long block means: one unusual week cannot move
  it) times a same-weekday factor (the rep's own weekday profile, shrunk towards 1 by a
  pseudo-count, so a sparse rep's Mondays do not make a profile out of noise);
* **recent test** (:meth:`PoissonDetector.recent`): the sum over the last ``w`` working
  days against a Poisson with the expected sum from the ``baseline_days`` before, for
  several window lengths (a one-week window sees a sudden stop, a four-week one a fade);
  the lower tail for drops, the upper tail for spikes, each window at
  ``alpha / len(windows)`` (Bonferroni);
* **sustained test** (:meth:`PoissonDetector.sustained`): the sum over the last
  ``window_days`` (30) against the expected sum from the ``window_baseline_days`` (60)
  before them, one-sided at ``alpha`` each way. At 0-3 events a day only a long window
  holds enough events to tell a lasting drop from noise, and a long baseline still
  predates a drop of six weeks (the recent test's fills with the drop and clears it).
  Its tail is the Poisson's with the baseline rate's uncertainty integrated out (a Gamma
  posterior for the rate, hence a negative binomial, :func:`nbinom_cdf`): the plug-in
  Poisson tail takes a rate estimated from a few dozen events as known and, on
  stationary Poisson series, flags 2-10 times as often as ``alpha`` at this length.
  Drops are judged against the lower of the robust rate and the plain mean, rises
  against the higher (the trimmed mean runs a few percent low on skewed sparse counts);
* **volume gate**: a drop is only judged when the window expects at least
  ``min_expected`` events (with fewer, even zero is not evidence; the sustained test
  gates rises so too); a rise needs at least ``min_high`` events and ``high_ratio``
  times the expectation;
* a day is **flagged** when either test flags it (if both do, the evidence kept is the
  one further below its own threshold);
* **persistence**: a flag is raised after ``persistence`` consecutive flagged working
  days and cleared after as many clean ones (hysteresis).

Poisson and negative binomial tails use the standard library (``math.lgamma`` and
``math.fsum`` in log space): four functions do not justify SciPy's 40 MB, and the
property tests check them. The
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


def _nbinom_log_pmf(k: int, size: float, mean: float) -> float:
    return (
        math.lgamma(k + size)
        - math.lgamma(size)
        - math.lgamma(k + 1)
        + size * math.log(size / (size + mean))
        + k * math.log(mean / (size + mean))
    )


def nbinom_cdf(k: int, size: float, mean: float) -> float:
    """P(X <= k) for X negative binomial with ``size`` and ``mean`` (variance
    ``mean + mean**2 / size``): a Poisson whose rate is Gamma distributed, e.g. a count
    predicted from a rate estimated on ``size`` events."""
    if k < 0:
        return 0.0
    if mean <= 0:
        return 1.0
    if k > mean + 40 * math.sqrt(mean + mean * mean / size) + 40:
        return 1.0 - nbinom_sf(k + 1, size, mean)
    return min(1.0, math.fsum(math.exp(_nbinom_log_pmf(i, size, mean)) for i in range(k + 1)))


def nbinom_sf(k: int, size: float, mean: float) -> float:
    """P(X >= k) for the negative binomial of :func:`nbinom_cdf`."""
    if k <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    if k <= mean:
        return max(0.0, 1.0 - nbinom_cdf(k - 1, size, mean))
    terms = []
    i = k
    while True:
        t = math.exp(_nbinom_log_pmf(i, size, mean))
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
class Window:
    """A window of working days and its baseline (rates per working day)."""

    observed: int
    weight: float  # the window's working days, each weighted by its weekday factor
    robust: float  # the baseline's robust rate (:func:`robust_rate`)
    mean: float  # the baseline's plain mean
    baseline_days: int

    @property
    def expected(self) -> float:
        """The expected sum from the robust rate."""
        return self.robust * self.weight


@dataclass(frozen=True, slots=True)
class Assessment:
    """One day's verdict: the direction flagged (or None) and the evidence."""

    direction: str | None  # low | high | None
    window: int
    observed: int
    expected: float
    p_value: float
    test: str | None = None  # recent (the short windows) | sustained
    baseline_days: int = 0
    level: float = 1.0  # the test's threshold for this p-value (after Bonferroni)

    def as_dict(self) -> dict[str, float | int | str | None]:
        """The evidence as JSON-ready data."""
        return {
            "direction": self.direction,
            "test": self.test,
            "window_days": self.window,
            "observed": self.observed,
            "expected": round(self.expected, 3),
            "baseline_days": self.baseline_days,
            "p_value": float(f"{self.p_value:.3g}"),
        }


NOTHING = Assessment(None, 0, 0, 0.0, 1.0)


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
    window_days: int = 30  # the sustained test's window (0: no sustained test)
    window_baseline_days: int = 60

    def window(
        self, counts: Sequence[int], weekdays: Sequence[int], day: int, w: int, length: int
    ) -> Window | None:
        """The ``w`` working days ending on ``day`` and their baseline, the ``length`` days
        before them (None: fewer than ``min_baseline_days`` of baseline)."""
        start = day - w + 1
        lo = max(0, start - length)
        if w <= 0 or start < 0 or start - lo < self.min_baseline_days:
            return None
        base = [float(c) for c in counts[lo:start]]
        factors = weekday_factors(base, weekdays[lo:start], pseudo_count=self.pseudo_count)
        return Window(
            observed=sum(counts[start : day + 1]),
            weight=sum(factors.get(weekdays[i], 1.0) for i in range(start, day + 1)),
            robust=robust_rate(base),
            mean=sum(base) / len(base),
            baseline_days=start - lo,
        )

    def assess(self, counts: Sequence[int], weekdays: Sequence[int], day: int) -> Assessment:
        """The verdict for the window(s) ending on working day index ``day``: the short
        windows' (:meth:`recent`) or the sustained test's (:meth:`sustained`), whichever
        flags; if both do, the one further below its own threshold."""
        verdicts = [
            v
            for v in (self.recent(counts, weekdays, day), self.sustained(counts, weekdays, day))
            if v.direction is not None
        ]
        return min(verdicts, key=lambda v: v.p_value / v.level, default=NOTHING)

    def recent(self, counts: Sequence[int], weekdays: Sequence[int], day: int) -> Assessment:
        """The short windows ending on ``day``, each against the ``baseline_days`` before
        it (plug-in Poisson tails, Bonferroni over the windows of a direction)."""
        best = NOTHING
        low_alpha = self.alpha / max(1, len(self.low_windows))
        high_alpha = self.alpha / max(1, len(self.high_windows))
        for w in self.low_windows:
            win = self.window(counts, weekdays, day, w, self.baseline_days)
            if win is None or win.expected < self.min_expected:
                continue
            obs, mu = win.observed, win.expected
            p = poisson_cdf(obs, mu)
            if p < low_alpha and p < best.p_value:
                best = Assessment("low", w, obs, mu, p, "recent", win.baseline_days, low_alpha)
        for w in self.high_windows:
            win = self.window(counts, weekdays, day, w, self.baseline_days)
            if win is None:
                continue
            obs, mu = win.observed, win.expected
            if obs < self.min_high or obs < self.high_ratio * mu:
                continue
            p = poisson_sf(obs, mu)
            if p < high_alpha and p < best.p_value:
                best = Assessment("high", w, obs, mu, p, "recent", win.baseline_days, high_alpha)
        return best

    def sustained(self, counts: Sequence[int], weekdays: Sequence[int], day: int) -> Assessment:
        """The sum over the ``window_days`` ending on ``day`` against the
        ``window_baseline_days`` before them, at ``alpha``: negative binomial tails (the
        Poisson with the baseline rate's uncertainty, size = the baseline's events + 1/2);
        each direction against the rate (robust or plain mean) less favourable to it."""
        w = self.window_days
        win = self.window(counts, weekdays, day, w, self.window_baseline_days)
        if win is None:
            return NOTHING
        obs, n = win.observed, win.baseline_days
        rate = min(win.robust, win.mean)
        mu = rate * win.weight
        if mu >= self.min_expected:
            p = nbinom_cdf(obs, rate * n + 0.5, mu)
            if p < self.alpha:
                return Assessment("low", w, obs, mu, p, "sustained", n, self.alpha)
        rate = max(win.robust, win.mean)
        mu = rate * win.weight
        if mu < self.min_expected or obs < self.min_high or obs < self.high_ratio * mu:
            return NOTHING
        p = nbinom_sf(obs, rate * n + 0.5, mu)
        if p < self.alpha:
            return Assessment("high", w, obs, mu, p, "sustained", n, self.alpha)
        return NOTHING


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
