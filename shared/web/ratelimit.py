"""Per-key rate limits: a token bucket per API key, in this process.

Each key may make ``burst`` requests at once and ``rate`` requests per second on
average; a request that finds the bucket empty is refused with 429 and a Retry-After of
the seconds until a token is back. Time comes from the injected clock.

The buckets live in the process: with several api or ingest replicas behind a load
balancer each replica limits on its own, so a key's effective limit is the per-process
limit times the replicas that serve it (docs/SECURITY.md). That keeps the hot path free
of a database round trip; a shared limit would need a shared store.

Hand-written rather than a library: the limiters we looked at (``limits``,
``pyrate-limiter``) read the wall clock themselves, and this is twenty lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from paceline.shared.clock import Clock

_MAX_BUCKETS = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float  # clock seconds of the last refill


class RateLimiter:
    """Token buckets keyed by API key id."""

    def __init__(self, *, rate_per_s: float, burst: int, clock: Clock) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    @property
    def enabled(self) -> bool:
        """False when the rate is 0 (limits off)."""
        return self.rate > 0

    def acquire(self, key: str) -> int | None:
        """Take a token for ``key``: None if allowed, else the seconds to wait."""
        if not self.enabled:
            return None
        now = self.clock.now().timestamp()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _MAX_BUCKETS:
                self._buckets.clear()  # only forgets spent tokens: errs towards allowing
            bucket = self._buckets[key] = _Bucket(tokens=float(self.burst), at=now)
        elapsed = max(0.0, now - bucket.at)  # a clock set back never adds tokens
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
        bucket.at = max(bucket.at, now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))
