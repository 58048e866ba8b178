"""Plan sums over stored targets: ``plan_mismatch`` findings for parents whose children do
not add up, for one level (a target's own children: GET and list) or whole trees (the
SMART check, a revision's preview).

The rule is pure (:mod:`paceline.shared.kpi.planning.sums`); this module loads the
targets, their current values and which KPIs add up (sums and counts:
:func:`paceline.shared.readmodel.evaluation.is_additive`; ratios, averages and distinct
counts are never flagged). A finding names the KPI, the scope and the period as people
read them (:mod:`paceline.api.targets.names`) and is answered in the caller's language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.targets.names import names_of
from paceline.api.targets.schemas import FindingOut
from paceline.shared.db.context import find_kpi
from paceline.shared.db.models import Target, TargetVersion
from paceline.shared.i18n import params_json, render
from paceline.shared.kpi.planning.smart import Finding, plan_mismatch
from paceline.shared.kpi.planning.sums import Mismatch, PlanNode, mismatches
from paceline.shared.readmodel import targets as repo
from paceline.shared.readmodel.evaluation import is_additive


def finding_out(f: Finding, locale: str) -> FindingOut:
    """A finding as the API answers it (its rule is its code), its words in ``locale``."""
    return FindingOut(
        rule=f.rule,
        code=f.rule,
        severity=f.severity,
        message=render(f.message, locale),
        message_code=f.message.code,
        message_params=params_json(f.message.params),
        fix=render(f.fix, locale),
        fix_code=f.fix.code,
        fix_params=params_json(f.fix.params),
        kpi=f.kpi,
        target_index=f.target_index,
        params=dict(f.params),
    )


def plan_node(t: Target, current: TargetVersion, target: Decimal | None = None) -> PlanNode:
    """A stored target as a node of its plan (``target``: a value to use instead)."""
    return PlanNode(
        id=t.id,
        parent_id=t.parent_id,
        kpi=t.kpi,
        scope=t.scope,
        period=t.period,
        period_kind=t.period_kind,
        target=Decimal(current.target) if target is None else target,
    )


async def additive_kpis(session: AsyncSession, *, tenant_id: str, kpis: Iterable[str]) -> set[str]:
    """Which of ``kpis`` add up (sums and counts); unknown KPIs do not."""
    out = set()
    for key in set(kpis):
        found = await find_kpi(session, tenant_id=tenant_id, key=key)
        if found is not None and is_additive(found):
            out.add(key)
    return out


async def _mismatches_of(
    session: AsyncSession,
    *,
    tenant_id: str,
    targets: Sequence[Target],
    overrides: Mapping[int, Decimal],
) -> list[Mismatch]:
    versions = await repo.current_versions(session, tenant_id=tenant_id, targets=targets)
    nodes = [plan_node(t, versions[t.id], overrides.get(t.id)) for t in targets if t.id in versions]
    additive = await additive_kpis(session, tenant_id=tenant_id, kpis=(n.kpi for n in nodes))
    return mismatches(nodes, additive=additive.__contains__)


async def mismatch_findings(
    session: AsyncSession,
    *,
    tenant_id: str,
    found: Sequence[Mismatch],
    index_of: Mapping[int, int] | None = None,
) -> list[Finding]:
    """``plan_mismatch`` findings of mismatches, with the names of their KPIs and scopes
    (``index_of``: parent target id -> the index of the plan's target it is)."""
    if not found:
        return []
    names = await names_of(
        session,
        tenant_id=tenant_id,
        kpis={m.parent.kpi for m in found},
        scopes={m.parent.scope for m in found},
    )
    return [
        plan_mismatch(
            m,
            target_index=(index_of or {}).get(m.parent.id),
            kpi_name=names.kpi(m.parent.kpi),
            scope_name=names.scope(m.parent.scope),
            currency=names.currency_of(m.parent.kpi),
        )
        for m in found
    ]


async def parent_findings(
    session: AsyncSession, *, tenant_id: str, parents: Sequence[Target], locale: str
) -> dict[int, list[FindingOut]]:
    """target id -> the ``plan_mismatch`` findings of its own children (one level down)."""
    out: dict[int, list[FindingOut]] = {p.id: [] for p in parents}
    if not parents:
        return out
    children = await repo.children_of(session, tenant_id=tenant_id, parent_ids=list(out))
    known = {t.id: t for t in [*parents, *children]}
    found = [
        m
        for m in await _mismatches_of(
            session, tenant_id=tenant_id, targets=list(known.values()), overrides={}
        )
        if m.parent.id in out
    ]
    for f in await mismatch_findings(session, tenant_id=tenant_id, found=found):
        out[int(f.params["target_id"] or 0)].append(finding_out(f, locale))
    return out


async def roots_of(
    session: AsyncSession, *, tenant_id: str, seeds: Sequence[Target]
) -> list[Target]:
    """The top of each seed's plan tree (following ``parent_id`` up), once each."""
    roots: dict[int, Target] = {}
    for seed in seeds:
        node, seen = seed, {seed.id}
        while node.parent_id is not None and node.parent_id not in seen:
            parent = await repo.get(session, tenant_id=tenant_id, target_id=node.parent_id)
            if parent is None:
                break
            seen.add(parent.id)
            node = parent
        roots[node.id] = node
    return list(roots.values())


async def tree_mismatches(
    session: AsyncSession,
    *,
    tenant_id: str,
    seeds: Sequence[Target],
    overrides: Mapping[int, Decimal] | None = None,
) -> list[Mismatch]:
    """Every parent that does not add up in the whole plan trees the seeds belong to
    (from each tree's top down), with ``overrides`` (target id -> value) in place of the
    stored values."""
    roots = await roots_of(session, tenant_id=tenant_id, seeds=seeds)
    below = await repo.descendants_of(session, tenant_id=tenant_id, root_ids=[r.id for r in roots])
    return await _mismatches_of(
        session,
        tenant_id=tenant_id,
        targets=[*roots, *below],
        overrides=overrides or {},
    )
