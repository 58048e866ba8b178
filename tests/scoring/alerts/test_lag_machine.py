"""The lag warning's hysteresis (``lag_machine.observe``), pure, against a reference model.

Slots in these tests only move forward (a tick's slot is the clock's, and time does not
go back), as ``slot_of`` gives them in production.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paceline.scoring.alerts.lag_machine import LagState, LagStep, observe

LEVELS = st.integers(min_value=0, max_value=2)
CONFIRMATIONS = st.integers(min_value=1, max_value=5)  # AlertOptions allows 1-10


def slot(index: int) -> str:
    """A schedule slot as ``slot_of`` names them."""
    return f"2026-11-30#{index}"


@st.composite
def observations(draw: st.DrawFn, *, first_slot: int = 0) -> list[tuple[str, int]]:
    """Observed levels with their slots, in time order: often several in one slot."""
    steps = draw(st.lists(st.tuples(st.sampled_from([0, 0, 1, 1, 3]), LEVELS), max_size=40))
    out, index = [], first_slot
    for gap, level in steps:
        index += gap
        out.append((slot(index), level))
    return out


def run(
    state: LagState, seen: list[tuple[str, int]], *, confirmations: int
) -> tuple[LagState, list[LagStep]]:
    """Observe a sequence; the last state and every step."""
    steps = []
    for at, level in seen:
        step = observe(state, level=level, slot=at, confirmations=confirmations)
        steps.append(step)
        state = step.state
    return state, steps


@dataclass
class Reference:
    """The documented rule, kept another way: the pending change is the list of its
    observations, its count the number of distinct slots among them."""

    confirmed: int
    confirmations: int
    pending: list[tuple[str, int]] = field(default_factory=list)

    def observe(self, at: str, level: int) -> str | None:
        if level == self.confirmed:
            self.pending = []
            return None
        worse = level > self.confirmed
        if self.pending and (self.pending[0][1] > self.confirmed) != worse:
            self.pending = []  # the other direction: a change of its own
        self.pending.append((at, level))
        if len({s for s, _ in self.pending}) < self.confirmations:
            return None
        levels = [lv for _, lv in self.pending]
        self.confirmed = min(levels) if worse else max(levels)
        self.pending = []
        return "resolve" if self.confirmed == 0 else "raise"


@given(LEVELS, CONFIRMATIONS, observations())
def test_the_machine_agrees_with_the_reference_model(
    start: int, confirmations: int, seen: list[tuple[str, int]]
) -> None:
    state = LagState(level=start)
    model = Reference(confirmed=start, confirmations=confirmations)
    for at, level in seen:
        step = observe(state, level=level, slot=at, confirmations=confirmations)
        assert step.action == model.observe(at, level)
        state = step.state
        assert state.level == model.confirmed
        if model.pending:
            levels = [lv for _, lv in model.pending]
            worse = levels[0] > model.confirmed
            assert state.direction == ("worse" if worse else "better")
            assert state.streak == len({s for s, _ in model.pending})
            assert state.seen == (min(levels) if worse else max(levels))
            assert state.slot == model.pending[-1][0]
        else:
            assert state == LagState(level=model.confirmed)
        # What is stored reads back as the same state.
        assert LagState.load(state.dump()) == state


@given(LEVELS, st.integers(min_value=2, max_value=5), observations(), st.data())
def test_observations_within_one_slot_do_not_flap(
    start: int, confirmations: int, before: list[tuple[str, int]], data: st.DataObject
) -> None:
    """Within one slot the pending count rises by at most one, so (with two or more
    confirmations) a burst of observations confirms at most one change, and none unless
    the slot continues a change already counted in ``confirmations - 1`` other slots."""
    state, _ = run(LagState(level=start), before, confirmations=confirmations)
    burst_slot = slot(1000)  # after every slot of ``before``
    burst = data.draw(st.lists(LEVELS, min_size=1, max_size=30), label="burst")
    entering = state
    actions = []
    for level in burst:
        step = observe(state, level=level, slot=burst_slot, confirmations=confirmations)
        state = step.state
        assert state.streak <= max(1, entering.streak + 1)
        if step.action is not None:
            actions.append(step.action)
    assert len(actions) <= 1
    if entering.direction is None or entering.streak < confirmations - 1:
        assert actions == []


@given(LEVELS, st.integers(min_value=2, max_value=5), st.data())
def test_a_burst_inside_one_slot_from_rest_confirms_nothing(
    start: int, confirmations: int, data: st.DataObject
) -> None:
    burst = data.draw(st.lists(LEVELS, min_size=1, max_size=30), label="burst")
    state, steps = run(
        LagState(level=start), [(slot(7), lv) for lv in burst], confirmations=confirmations
    )
    assert all(s.action is None for s in steps)
    assert state.level == start


def test_with_one_confirmation_every_change_is_confirmed_at_once() -> None:
    """``lag_confirmations=1`` has no hysteresis: alternating observations in one slot
    raise and resolve alternately."""
    _, steps = run(LagState(), [(slot(0), lv) for lv in (1, 0, 1, 0)], confirmations=1)
    assert [s.action for s in steps] == ["raise", "resolve", "raise", "resolve"]


@st.composite
def one_direction(draw: st.DrawFn) -> tuple[int, list[int]]:
    """A confirmed level and levels all on one side of it."""
    start = draw(LEVELS)
    sides = [side for side in (range(start + 1, 3), range(start)) if len(side) > 0]
    side = draw(st.sampled_from(sides))
    return start, draw(st.lists(st.sampled_from(list(side)), min_size=1, max_size=5))


@given(one_direction(), CONFIRMATIONS, st.data())
def test_a_change_is_confirmed_exactly_at_the_nth_distinct_slot(
    side: tuple[int, list[int]], confirmations: int, data: st.DataObject
) -> None:
    start, levels = side
    state = LagState(level=start)
    seen: list[int] = []
    for n in range(1, confirmations + 1):
        # Each slot holds one or more observations on the same side of the confirmed level.
        in_slot = data.draw(
            st.lists(st.sampled_from(levels), min_size=1, max_size=3), label=f"slot {n}"
        )
        for level in in_slot:
            step = observe(state, level=level, slot=slot(n), confirmations=confirmations)
            seen.append(level)
            state = step.state
            if n < confirmations:
                assert step.action is None
                assert state.streak == n
            else:  # the first observation of the n-th slot confirms the least extreme level
                worse = level > start
                assert state == LagState(level=min(seen) if worse else max(seen))
                assert step.action == ("resolve" if state.level == 0 else "raise")
                break


@given(one_direction(), st.integers(min_value=2, max_value=5), st.data())
def test_a_return_to_the_confirmed_level_resets_the_count(
    side: tuple[int, list[int]], confirmations: int, data: st.DataObject
) -> None:
    start, levels = side
    before = data.draw(st.integers(min_value=1, max_value=confirmations - 1), label="counted")
    state = LagState(level=start)
    index = 0
    for _ in range(before):
        index += 1
        lv = data.draw(st.sampled_from(levels))
        state = observe(state, level=lv, slot=slot(index), confirmations=confirmations).state
    assert state.streak == before
    back_in = data.draw(st.sampled_from([index, index + 1]), label="slot of the return")
    index = back_in
    step = observe(state, level=start, slot=slot(index), confirmations=confirmations)
    assert step == LagStep(LagState(level=start))
    state = step.state
    # The full count again, from the next slot on.
    for n in range(1, confirmations + 1):
        index += 1
        lv = data.draw(st.sampled_from(levels))
        step = observe(state, level=lv, slot=slot(index), confirmations=confirmations)
        state = step.state
        assert (step.action is not None) == (n == confirmations)


@pytest.mark.parametrize(
    ("start", "seen", "actions", "level"),
    [
        # Behind for two hours: raised (warning) in the second slot.
        (0, [(0, 1), (1, 1)], [None, "raise"], 1),
        # Behind, then at risk: the least extreme level seen is confirmed.
        (0, [(0, 1), (1, 2)], [None, "raise"], 1),
        # Ten re-evaluations within one slot count once.
        (0, [(0, 1)] * 10, [None] * 10, 0),
        # A morning back on track in between: the count starts again.
        (0, [(0, 1), (1, 0), (2, 1), (3, 1)], [None, None, None, "raise"], 1),
        # Worse then better than the confirmed level: a new change, counted 1.
        (1, [(0, 2), (1, 0), (2, 0)], [None, None, "resolve"], 0),
        # At risk, de-escalated to behind.
        (2, [(0, 1), (1, 1)], [None, "raise"], 1),
    ],
)
def test_cases_by_hand(
    start: int, seen: list[tuple[int, int]], actions: list[str | None], level: int
) -> None:
    state, steps = run(LagState(level=start), [(slot(i), lv) for i, lv in seen], confirmations=2)
    assert [s.action for s in steps] == actions
    assert state.level == level


def test_the_stored_form() -> None:
    # Nothing stored: on track, nothing pending.
    assert LagState.load({}) == LagState()
    pending = LagState(level=0, direction="worse", streak=1, seen=1, slot=slot(3))
    assert pending.dump() == {"level": 0, "dir": "worse", "streak": 1, "seen": 1, "slot": slot(3)}
    # A state stored before ``level`` was always written (the first change of a target).
    stored = {"dir": "worse", "streak": 1, "slot": slot(3), "seen": 1}
    assert LagState.load(stored) == pending
