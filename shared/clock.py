"""Time, injected: logic takes a Clock and never reads the wall clock itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current time, always timezone-aware (UTC), and measures
    intervals on a time line that never goes back."""

    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...

    def monotonic(self) -> float:
        """Seconds on a time line that never goes back; only differences mean anything."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current instant in UTC."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """``time.monotonic()``: no change of the system's date moves it."""
        return time.monotonic()


class FixedClock:
    """A clock for tests: stands still until advanced.

    Its monotonic time is the sum of the moves forward (``advance``, or ``set`` to a later
    instant) since it was made: a jump back moves ``now()`` but not ``monotonic()``.
    """

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._at = at.astimezone(UTC)
        self._elapsed = 0.0

    def now(self) -> datetime:
        """The instant the clock was set to."""
        return self._at

    def monotonic(self) -> float:
        """Seconds the clock was moved forward since it was made."""
        return self._elapsed

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward."""
        self._elapsed += max(delta.total_seconds(), 0.0)
        self._at += delta

    def set(self, at: datetime) -> None:
        """Jump to an instant."""
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        at = at.astimezone(UTC)
        self._elapsed += max((at - self._at).total_seconds(), 0.0)
        self._at = at


class StartedClock:
    """A clock that starts at a chosen instant and then runs at the wall clock's speed.

    ``paceline serve --today`` runs the whole stack on one: the demo, the default
    ``as_of``, arrival times and the alert schedule all see the reference day, while
    live events and timeouts still move as real time passes (elapsed time comes from
    ``time.monotonic``, which no date setting changes).
    """

    def __init__(self, start: datetime, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        if start.tzinfo is None:
            raise ValueError("StartedClock needs a timezone-aware datetime")
        self._start = start.astimezone(UTC)
        self._monotonic = monotonic
        self._t0 = monotonic()

    def now(self) -> datetime:
        """The start instant plus the time elapsed since the clock was made."""
        return self._start + timedelta(seconds=self._monotonic() - self._t0)

    def monotonic(self) -> float:
        """The monotonic time it runs on (``time.monotonic`` unless given another)."""
        return self._monotonic()


def reference_instant(text: str, *, wall: datetime, tz: tzinfo) -> datetime:
    """``--today``'s value as an instant: ``YYYY-MM-DD`` keeps the wall clock's time of day
    (in ``tz``); a full ISO 8601 time (``2026-12-01T10:30+08:00``) is taken as it is, and
    one without an offset is read in ``tz``."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            local = wall.astimezone(tz)
            return datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=tz)
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date or an ISO 8601 time: {text!r}") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=tz)
