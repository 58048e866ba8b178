"""Month closes (月结): which changes a closed month refuses, and where they are booked.

Pure and clock-free. A tenant's closes are a short history of (month, closed_at,
reopened_at, policy). A fact change known at ``known`` for a day of month M is

* counted on its own day when M was not closed at ``known`` (the usual case);
* under the ``adjust`` policy (the default), **booked** to the first month from M on that
  was open at ``known``, on the day it became known (clamped into that month): the closed
  month keeps the figures it had when it was closed;
* under ``restate``, counted on its own day anyway (the closed month's figures move), and
  listed as a restatement.

A close is in force for knowledge times in ``(closed_at, reopened_at]``: what was known at
the instant of the close is in the closed figures. Distinct members (e.g. new customers)
cannot be booked elsewhere (a member does not add across days), so under ``adjust`` their
changes to a closed month are listed as ``frozen`` and move no count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from paceline.shared.kpi.periods import Period, months_of, period_of

POLICIES: Final = ("adjust", "restate")
RouteKind = Literal["own", "adjust", "restate"]


@dataclass(frozen=True, slots=True)
class Close:
    """One close of a month (``reopened_at`` None while in force)."""

    period: str
    start: date
    end: date
    closed_at: datetime
    policy: str = "adjust"
    reopened_at: datetime | None = None

    def in_force(self, known: datetime) -> bool:
        """Whether a change known at ``known`` meets this close."""
        return self.closed_at < known and (self.reopened_at is None or known <= self.reopened_at)

    def to_json(self) -> dict[str, Any]:
        """The form kept on the tenant row."""
        return {
            "period": self.period,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "closed_at": self.closed_at.isoformat(),
            "policy": self.policy,
            "reopened_at": self.reopened_at.isoformat() if self.reopened_at else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Close:
        """Read the tenant row's form."""
        reopened = data.get("reopened_at")
        return cls(
            period=str(data["period"]),
            start=date.fromisoformat(data["start"]),
            end=date.fromisoformat(data["end"]),
            closed_at=datetime.fromisoformat(data["closed_at"]),
            policy=str(data.get("policy", "adjust")),
            reopened_at=datetime.fromisoformat(reopened) if reopened else None,
        )


@dataclass(frozen=True, slots=True)
class Route:
    """Where one change to one day goes."""

    kind: RouteKind
    day: date  # the day it is counted on (its own, or the booked day)
    source_period: str | None = None  # the closed month, when not "own"
    booked_period: str | None = None  # the month it is booked to (adjust)


class CloseBook:
    """A tenant's closes, answering where a change is counted."""

    __slots__ = ("_by_period", "_tz", "closes")

    def __init__(self, closes: Sequence[Close], tz: ZoneInfo) -> None:
        self.closes = tuple(closes)
        self._tz = tz
        self._by_period: dict[str, list[Close]] = {}
        for c in self.closes:
            self._by_period.setdefault(c.period, []).append(c)

    @classmethod
    def of(cls, closes: Sequence[Mapping[str, Any]] | None, tz: ZoneInfo) -> CloseBook:
        """From the tenant row's ``closes``."""
        return cls([Close.from_json(c) for c in closes or ()], tz)

    def __bool__(self) -> bool:
        return bool(self.closes)

    def close_at(self, period: str, known: datetime) -> Close | None:
        """The close of ``period`` in force at ``known``, if any."""
        for c in self._by_period.get(period, ()):
            if c.in_force(known):
                return c
        return None

    def closed_now(self, period: str) -> Close | None:
        """The close of ``period`` not reopened yet, if any."""
        for c in self._by_period.get(period, ()):
            if c.reopened_at is None:
                return c
        return None

    def closed_months(self, period: Period, known: datetime | None) -> list[str]:
        """The months of ``period`` closed at ``known`` (None: closed now)."""
        return [
            m.key
            for m in months_of(period)
            if (self.close_at(m.key, known) if known else self.closed_now(m.key)) is not None
        ]

    def route(self, day: date, known: datetime) -> Route:
        """Where a change to ``day`` known at ``known`` is counted."""
        if not self._by_period:
            return Route("own", day)
        month = period_of(day, "month")
        close = self.close_at(month.key, known)
        if close is None:
            return Route("own", day)
        if close.policy == "restate":
            return Route("restate", day, source_period=month.key)
        target = month
        while self.close_at(target.key, known) is not None:
            target = _next_month(target)
        local = known.astimezone(self._tz).date()
        booked = min(max(local, target.start), target.end - timedelta(days=1))
        return Route("adjust", booked, source_period=month.key, booked_period=target.key)


def _next_month(month: Period) -> Period:
    return period_of(month.end, "month")
