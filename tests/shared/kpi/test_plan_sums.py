"""Plan sums (pure): children grouped by split, mismatches found exactly, re-splits that
add up (``shared/kpi/planning/sums.py`` with the decomposition's ``split_values``)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from paceline.shared.kpi.planning.decomposition import Values, split_values
from paceline.shared.kpi.planning.smart import plan_mismatch
from paceline.shared.kpi.planning.sums import PlanNode, child_groups, mismatches


def node(
    i: int, parent: int | None, period: str, kind: str, value: str, scope: str = "company"
) -> PlanNode:
    return PlanNode(i, parent, "revenue", scope, period, kind, Decimal(value))


def test_org_and_time_children_are_summed_apart() -> None:
    year = node(1, None, "2026", "year", "100")
    kids = [
        node(2, 1, "2026", "year", "60", "team:a"),
        node(3, 1, "2026", "year", "40", "team:b"),
        node(4, 1, "2026-Q1", "quarter", "50"),
        node(5, 1, "2026-Q2", "quarter", "50"),
        node(6, 1, "2026-01", "month", "30"),
    ]
    groups = child_groups(year, kids)
    assert [(g.split, g.period_kind, g.total) for g in groups] == [
        ("org", "year", 100),
        ("time", "quarter", 100),
        ("time", "month", 30),
    ]
    [m] = mismatches([year, *kids], additive=lambda _k: True)
    assert (m.group.period_kind, m.children_sum, m.difference) == ("month", 30, 70)
    assert mismatches([year, *kids], additive=lambda _k: False) == []
    f = plan_mismatch(m, target_index=2)
    assert (f.rule, f.severity, f.target_index) == ("plan_mismatch", "warning", 2)
    assert f.params["difference"] == "70"
    assert f.params["children_sum"] == "30"


def test_a_cent_off_is_a_mismatch() -> None:
    nodes = [node(1, None, "2026-Q4", "quarter", "100"), node(2, 1, "2026-10", "month", "99.99")]
    [m] = mismatches(nodes, additive=lambda _k: True)
    assert m.difference == Decimal("0.01")


@given(
    current=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=12),
    new=st.integers(min_value=0, max_value=10**12),
    places=st.sampled_from([0, 2, 3]),
)
def test_resplit_adds_up_within_one_unit_of_each_share(
    current: list[int], new: int, places: int
) -> None:
    quantum = Decimal(1).scaleb(-places)
    total = Decimal(new) * quantum
    weights = [Decimal(c) * quantum for c in current]
    parts = split_values(Values(total), weights, places=places, direction="higher")
    assert sum(p.target for p in parts) == total
    wsum = sum(weights) or Decimal(len(weights))
    for w, p in zip(weights if sum(weights) else [Decimal(1)] * len(weights), parts, strict=True):
        assert p.target >= 0
        assert p.target == p.target.quantize(quantum)
        assert abs(p.target - total * w / wsum) < quantum
    parent = node(0, None, "2027", "year", str(total))
    children = [
        node(i + 1, 0, "2027", "year", str(p.target), f"rep:{i}") for i, p in enumerate(parts)
    ]
    assert mismatches([parent, *children], additive=lambda _k: True) == []
