"""Re-splitting a revised target over the targets split from it.

A revision with ``children: resplit`` gives each child (``parent_id`` is the revised
target) a share of the new values in the proportion of its current target (all zero:
evenly). Each split of the parent is re-split on its own (the scopes under it in its
period; its finer periods, one period kind at a time), so each adds up to the parent again.
Rounding is the decomposition's: the target in the KPI's planned unit (the currency's minor
unit, whole numbers for counts) by largest remainder, so every child is within one unit of
its exact share and the children sum exactly; baseline and stretch split with the same
weights, each child kept in the KPI direction's order
(:func:`paceline.shared.kpi.planning.decomposition.split_values`). With ``recursive``, each
re-split child's own children are re-split from its new values, down to the leaves;
without, the grandchildren stay and the check reports where they no longer add up.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.targets.sums import plan_node
from paceline.shared.db.models import Target, TargetVersion
from paceline.shared.errors import FieldError, InvalidInput
from paceline.shared.i18n import L10n, msg
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.planning.decomposition import Values, split_values
from paceline.shared.kpi.planning.sums import SplitKind, child_groups
from paceline.shared.readmodel import targets as repo
from paceline.shared.readmodel.evaluation import is_additive

SHARE_PLACES = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class ChildChange:
    """A target below the revised one and its re-split values."""

    row: Target
    current: TargetVersion
    values: Values
    depth: int
    split: SplitKind
    share: Decimal


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def check_resplit(kpi: KpiDefinition, values: Values, *, places: int) -> None:
    """422 unless the KPI adds up and the values fit its planned unit (so the parts can
    sum exactly to them)."""
    name = L10n(kpi.name_zh, kpi.name_en)
    if not is_additive(kpi):
        raise InvalidInput(
            msg("targets.errors.resplit_not_additive"),
            fields=[FieldError("children", msg("targets.errors.children_do_not_add_up", kpi=name))],
        )
    quantum = Decimal(1).scaleb(-places)
    errors = [
        FieldError(field, msg("targets.errors.multiple_of", quantum=str(quantum), places=places))
        for field, v in (
            ("target", values.target),
            ("baseline", values.baseline),
            ("stretch", values.stretch),
        )
        if v is not None and v != v.quantize(quantum)
    ]
    if errors:
        raise InvalidInput(msg("targets.errors.too_many_decimals", kpi=name), fields=errors)


async def plan_resplit(
    session: AsyncSession,
    *,
    tenant_id: str,
    row: Target,
    values: Values,
    places: int,
    direction: str,
    recursive: bool,
    lock: bool,
) -> list[ChildChange]:
    """The new values of the targets below ``row`` once it has ``values``: its children
    (and all levels below when ``recursive``), parents before their children."""
    below = (
        await repo.descendants_of(session, tenant_id=tenant_id, root_ids=[row.id], lock=lock)
        if recursive
        else await repo.children_of(session, tenant_id=tenant_id, parent_ids=[row.id], lock=lock)
    )
    current = await repo.current_versions(session, tenant_id=tenant_id, targets=[row, *below])
    by_parent: dict[int, list[Target]] = defaultdict(list)
    for t in below:
        if t.parent_id is not None:
            by_parent[t.parent_id].append(t)
    rows = {t.id: t for t in below}
    out: list[ChildChange] = []
    queue: list[tuple[Target, Values, int]] = [(row, values, 1)]
    while queue:
        parent, new, depth = queue.pop(0)
        kids = by_parent.get(parent.id, [])
        if not kids:
            continue
        nodes = [plan_node(k, current[k.id]) for k in kids]
        for group in child_groups(plan_node(parent, current[parent.id]), nodes):
            weights = [c.target for c in group.children]
            total = sum(weights, Decimal(0))
            parts = split_values(new, weights, places=places, direction=direction)
            for node, part in zip(group.children, parts, strict=True):
                child = rows[node.id]
                share = (node.target / total if total else Decimal(1) / len(weights)).quantize(
                    SHARE_PLACES
                )
                out.append(ChildChange(child, current[child.id], part, depth, group.split, share))
                if recursive:
                    queue.append((child, part, depth + 1))
    return out


def old_values(v: TargetVersion) -> Values:
    """A stored version's values."""
    return Values(Decimal(v.target), _dec(v.baseline), _dec(v.stretch))
