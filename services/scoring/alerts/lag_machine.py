"""The lag warning's hysteresis, pure: state + observation -> new state + action.

No I/O and no clock: :func:`.lag.evaluate_lag` reads a target's stored state, observes a
level in a schedule slot, stores the state :func:`observe` returns and carries out its
action through the alert lifecycle.

Levels: 0 on track or ahead, 1 behind (warning), 2 at risk (critical). The state is the
confirmed level and at most one pending change, *worse* (above it) or *better* (below):

* an observation at the confirmed level drops the pending change (its count is lost);
* one in the other direction than the pending change starts a new one, counted 1;
* one in the pending direction counts 1 more only if its slot differs from the slot of
  the pending change's last count: observations within one slot replace each other
  rather than add up. Each still narrows the pending level (below);
* when the count reaches ``confirmations``, the pending level is confirmed — the least
  extreme level seen during the pending change (the lowest when worse, the highest when
  better) — and nothing is pending. The action: ``raise`` for a level above 0 (the
  lifecycle opens, escalates or de-escalates the alert), ``resolve`` for 0.

So with ``confirmations`` >= 2 a burst of observations within one slot (event-driven
re-evaluations) confirms at most one change, and only if the slot continues a pending
change that had already counted ``confirmations - 1`` other slots.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Direction = Literal["worse", "better"]
Action = Literal["raise", "resolve"]


@dataclass(frozen=True, slots=True)
class LagState:
    """A target's confirmed level and its pending change, if any."""

    level: int = 0
    direction: Direction | None = None  # of the pending change
    streak: int = 0  # distinct slots counted for it
    seen: int | None = None  # its least extreme level so far
    slot: str | None = None  # the slot of its last count

    @classmethod
    def load(cls, stored: Mapping[str, Any]) -> LagState:
        """The state as stored in ``alert_eval_state`` (``{}``: level 0, nothing pending)."""
        direction = stored.get("dir")
        seen = stored.get("seen")
        slot = stored.get("slot")
        return cls(
            level=int(stored.get("level", 0)),
            direction=direction if direction in ("worse", "better") else None,
            streak=int(stored.get("streak", 0)),
            seen=int(seen) if seen is not None else None,
            slot=str(slot) if slot is not None else None,
        )

    def dump(self) -> dict[str, Any]:
        """The state to store (the keys :meth:`load` reads)."""
        return {
            "level": self.level,
            "dir": self.direction,
            "streak": self.streak,
            "seen": self.seen,
            "slot": self.slot,
        }


@dataclass(frozen=True, slots=True)
class LagStep:
    """What one observation did: the new state, and the action if a level was confirmed."""

    state: LagState
    action: Action | None = None


def observe(state: LagState, *, level: int, slot: str, confirmations: int) -> LagStep:
    """Apply one observed level, made in ``slot``, to a target's state."""
    if level == state.level:
        return LagStep(state if state.direction is None else LagState(level=state.level))
    direction: Direction = "worse" if level > state.level else "better"
    if state.direction == direction:
        seen = state.seen if state.seen is not None else level
        seen = min(seen, level) if direction == "worse" else max(seen, level)
        counted = state.slot != slot
        streak = state.streak + 1 if counted else state.streak
        last_slot = slot if counted else state.slot
    else:
        seen, streak, last_slot = level, 1, slot
    if streak < confirmations:
        return LagStep(LagState(state.level, direction, streak, seen, last_slot))
    return LagStep(LagState(level=seen), "resolve" if seen == 0 else "raise")
