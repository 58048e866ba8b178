"""Plan sums: whether each parent target equals the sum of its children, and re-splits.

A target's children are the targets whose ``parent_id`` is it. A decomposition gives a
parent two kinds of children: in its own period, the scopes under it (``org``: company ->
teams -> reps), and in finer periods, its own scope (``time``: year -> quarters ->
months). Each kind is a split of the parent on its own, so each is summed on its own: the
``org`` children together, and the ``time`` children one period kind at a time (a year
with quarters and months directly under it has two time splits). Only additive KPIs (sums
and counts) are expected to add up; the caller says which KPIs are. Values compare
exactly (Decimal): a parent one cent off its children is a mismatch.

A re-split of a revised parent over its children is
:func:`paceline.shared.kpi.planning.decomposition.split_values` with the children's current
targets as weights. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from paceline.shared.kpi.planning.decomposition import KIND_ORDER

SplitKind = Literal["org", "time"]


@dataclass(frozen=True, slots=True)
class PlanNode:
    """A stored (or proposed) target: where it sits in the plan and its target value."""

    id: int
    parent_id: int | None
    kpi: str
    scope: str
    period: str
    period_kind: str
    target: Decimal


@dataclass(frozen=True, slots=True)
class ChildGroup:
    """One split of a parent: its org children, or its time children of one period kind."""

    split: SplitKind
    period_kind: str  # the children's
    children: tuple[PlanNode, ...]

    @property
    def total(self) -> Decimal:
        """The children's targets added up."""
        return sum((c.target for c in self.children), Decimal(0))


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A parent whose children (of one split) do not add up to it."""

    parent: PlanNode
    group: ChildGroup

    @property
    def children_sum(self) -> Decimal:
        """What the children add up to."""
        return self.group.total

    @property
    def difference(self) -> Decimal:
        """Parent minus children: positive when the children fall short of the parent."""
        return self.parent.target - self.group.total


def child_groups(parent: PlanNode, children: Iterable[PlanNode]) -> list[ChildGroup]:
    """A parent's children, split by kind: org (same period), then time by period kind."""
    groups: dict[tuple[SplitKind, str], list[PlanNode]] = defaultdict(list)
    for c in children:
        split: SplitKind = "org" if c.period == parent.period else "time"
        groups[(split, c.period_kind)].append(c)
    order = sorted(groups, key=lambda k: (k[0] != "org", KIND_ORDER.get(k[1], 9)))
    return [
        ChildGroup(split, kind, tuple(sorted(groups[(split, kind)], key=lambda n: n.id)))
        for split, kind in order
    ]


def mismatches(nodes: Iterable[PlanNode], *, additive: Callable[[str], bool]) -> list[Mismatch]:
    """Every parent among ``nodes`` whose children (each split apart) do not sum to it,
    for the KPIs ``additive`` accepts; parents by id."""
    by_id = {n.id: n for n in nodes}
    children: dict[int, list[PlanNode]] = defaultdict(list)
    for n in by_id.values():
        if n.parent_id is not None and n.parent_id in by_id:
            children[n.parent_id].append(n)
    out = []
    for parent_id in sorted(children):
        parent = by_id[parent_id]
        if not additive(parent.kpi):
            continue
        for group in child_groups(parent, children[parent_id]):
            if group.total != parent.target:
                out.append(Mismatch(parent, group))
    return out
