"""The SMART check of a plan: findings with a severity and a suggested fix.

A plan is a role template's weighted KPIs and targets, with the facts the service gathered
about them (:class:`PlanFacts`). :func:`check_plan` applies the SMART rules to each target
(specific, measurable, achievable, relevant, time-bound) and the known pitfalls to the
template (too many core KPIs, weights not summing to 100, results without process or the
reverse, duplicates). :func:`plan_mismatch` words a parent whose children do not add up
(:mod:`paceline.shared.kpi.planning.sums`) as a finding. Every finding carries its rule as
a code, its message and fix as catalog messages (:class:`~paceline.shared.i18n.Msg`: a code
and parameters, rendered in the reader's language by the service), with the names of KPIs,
scopes and periods people read. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal

from paceline.shared.i18n import Msg, Pct, msg
from paceline.shared.kpi.planning.common import (
    DEFAULT_MARGIN,
    amount,
    event_type_names,
    period_name,
)
from paceline.shared.kpi.planning.sums import Mismatch

Severity = Literal["error", "warning", "info"]
MAX_CORE_KPIS: Final = 5


@dataclass(frozen=True, slots=True)
class Finding:
    """One SMART rule or pitfall a plan breaks, with what to do about it."""

    rule: str
    severity: Severity
    message: Msg
    fix: Msg
    kpi: str | None = None
    target_index: int | None = None
    params: Mapping[str, str | int | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PlanKpi:
    """What the check knows about a KPI of the plan (``None`` fields: not applicable)."""

    key: str
    known: bool  # has a definition (a formula)
    category: str | None  # result | process | capability
    event_types: tuple[str, ...] = ()
    name: Any = None  # what people read (an L10n of the definition's names); None: the key


@dataclass(frozen=True, slots=True)
class PlanTarget:
    """A target of the plan, with the facts the check needs about it."""

    index: int
    kpi: str
    scope: str
    period: str | None  # None: not given
    period_valid: bool
    period_ended: bool
    value: Decimal
    has_parent: bool  # names a parent goal (or is the company's top goal)
    recent_events: bool | None  # None: unknown KPI
    required_growth: Decimal | None  # over the same period last year; None: no basis
    history_growth: Decimal | None  # trend growth of the scope's history
    scope_name: Any = None  # what people read (a rep's or team's name); None: the scope


@dataclass(frozen=True, slots=True)
class PlanFacts:
    """A plan with the facts gathered about it."""

    items: tuple[tuple[str, Decimal], ...]  # the role template's (kpi, weight)
    kpis: Mapping[str, PlanKpi]
    targets: tuple[PlanTarget, ...]
    lookback_days: int = 90
    margin: Decimal = DEFAULT_MARGIN

    def kpi_name(self, key: str) -> Any:
        """A KPI as people read it: its name when known, else its key."""
        info = self.kpis.get(key)
        return info.name if info is not None and info.name is not None else key


def _scope(t: PlanTarget) -> Any:
    return t.scope_name if t.scope_name is not None else t.scope


def check_plan(plan: PlanFacts) -> list[Finding]:
    """Every finding of the SMART rules and the known pitfalls, in rule order."""
    keys = [k for k, _w in plan.items]
    out = list(_unspecified(plan, keys))
    for t in plan.targets:
        info = plan.kpis.get(t.kpi)
        if info is None or not info.known:
            continue
        for rule in (
            _measurable(plan, t, info),
            _achievable(plan, t),
            _relevant(plan, t),
            _time_bound(plan, t),
        ):
            if rule is not None:
                out.append(rule)
    out += _template_pitfalls(plan, keys)
    out += _duplicated_targets(plan, plan.targets)
    return out


def _unspecified(plan: PlanFacts, keys: Sequence[str]) -> Iterator[Finding]:
    """Specific: every KPI of the template and the targets has a definition with a formula."""
    for key in dict.fromkeys([*keys, *(t.kpi for t in plan.targets)]):
        info = plan.kpis.get(key)
        if info is None or not info.known:
            yield Finding(
                "not_specific",
                "error",
                msg("planning.finding.not_specific", kpi=key),
                msg("planning.fix.not_specific"),
                kpi=key,
            )


def _measurable(plan: PlanFacts, t: PlanTarget, info: PlanKpi) -> Finding | None:
    """Measurable: events of the formula's types arrived recently."""
    if t.recent_events is not False:
        return None
    types = event_type_names(info.event_types)
    return Finding(
        "not_measurable",
        "warning",
        msg(
            "planning.finding.not_measurable",
            types=types,
            scope=_scope(t),
            days=plan.lookback_days,
            kpi=plan.kpi_name(t.kpi),
        ),
        msg("planning.fix.not_measurable", types=types),
        kpi=t.kpi,
        target_index=t.index,
    )


def _achievable(plan: PlanFacts, t: PlanTarget) -> Finding | None:
    """Achievable: the growth the target needs is within history's plus a margin."""
    if t.required_growth is None:
        return None
    history = t.history_growth if t.history_growth is not None else Decimal(0)
    if t.required_growth - max(history, Decimal(0)) <= plan.margin:
        return None
    common = {"kpi": plan.kpi_name(t.kpi), "scope": _scope(t), "needed": Pct(t.required_growth)}
    if t.history_growth is None:
        message = msg("planning.finding.not_achievable_no_trend", **common)
    else:
        message = msg("planning.finding.not_achievable", **common, history=Pct(t.history_growth))
    return Finding(
        "not_achievable",
        "warning",
        message,
        msg("planning.fix.not_achievable", growth=Pct(max(history, Decimal(0)) + plan.margin)),
        kpi=t.kpi,
        target_index=t.index,
    )


def _relevant(plan: PlanFacts, t: PlanTarget) -> Finding | None:
    """Relevant: the target is linked to a parent goal."""
    if t.has_parent:
        return None
    return Finding(
        "not_relevant",
        "warning",
        msg("planning.finding.not_relevant", kpi=plan.kpi_name(t.kpi), scope=_scope(t)),
        msg("planning.fix.not_relevant"),
        kpi=t.kpi,
        target_index=t.index,
    )


def _time_bound(plan: PlanFacts, t: PlanTarget) -> Finding | None:
    """Time-bound: a valid period that has not ended."""
    if t.period is None or not t.period_valid:
        message = (
            msg("planning.finding.invalid_period", kpi=plan.kpi_name(t.kpi), period=t.period)
            if t.period
            else msg("planning.finding.no_period", kpi=plan.kpi_name(t.kpi))
        )
        return Finding(
            "not_time_bound",
            "error",
            message,
            msg("planning.fix.no_period"),
            kpi=t.kpi,
            target_index=t.index,
        )
    if t.period_ended:
        return Finding(
            "not_time_bound",
            "warning",
            msg(
                "planning.finding.period_ended",
                period=period_name(t.period),
                kpi=plan.kpi_name(t.kpi),
            ),
            msg("planning.fix.period_ended"),
            kpi=t.kpi,
            target_index=t.index,
        )
    return None


def _template_pitfalls(plan: PlanFacts, keys: Sequence[str]) -> Iterator[Finding]:
    """The role template's pitfalls: too many core KPIs, weights not 100, results without
    process (or the reverse), a KPI twice."""
    if len(set(keys)) > MAX_CORE_KPIS:
        yield Finding(
            "too_many_core_kpis",
            "warning",
            msg("planning.finding.too_many_core_kpis", count=len(set(keys)), most=MAX_CORE_KPIS),
            msg("planning.fix.too_many_core_kpis", most=MAX_CORE_KPIS),
        )
    total = sum((w for _k, w in plan.items), Decimal(0))
    if plan.items and total != 100:
        yield Finding(
            "weights_not_100",
            "error",
            msg("planning.finding.weights_not_100", total=total.normalize()),
            msg("planning.fix.weights_not_100"),
        )
    categories = {plan.kpis[k].category for k in keys if k in plan.kpis and plan.kpis[k].known}
    if categories and "process" not in categories and "result" in categories:
        yield Finding(
            "result_only",
            "warning",
            msg("planning.finding.result_only"),
            msg("planning.fix.result_only"),
        )
    if categories and "result" not in categories and "process" in categories:
        yield Finding(
            "process_only",
            "warning",
            msg("planning.finding.process_only"),
            msg("planning.fix.process_only"),
        )
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            yield Finding(
                "duplicated_kpi",
                "error",
                msg("planning.finding.duplicated_template_kpi", kpi=plan.kpi_name(key)),
                msg("planning.fix.duplicated_template_kpi"),
                kpi=key,
            )
        seen.add(key)


def _duplicated_targets(plan: PlanFacts, targets: Sequence[PlanTarget]) -> Iterator[Finding]:
    """Two targets for one KPI, scope and period."""
    seen: set[tuple[str, str, str | None]] = set()
    for t in targets:
        ident = (t.kpi, t.scope, t.period)
        if ident in seen:
            yield Finding(
                "duplicated_kpi",
                "error",
                msg(
                    "planning.finding.duplicated_target",
                    kpi=plan.kpi_name(t.kpi),
                    scope=_scope(t),
                    period=period_name(t.period) or "",
                ),
                msg("planning.fix.duplicated_target"),
                kpi=t.kpi,
                target_index=t.index,
            )
        seen.add(ident)


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def plan_mismatch(
    m: Mismatch,
    *,
    target_index: int | None = None,
    kpi_name: Any = None,
    scope_name: Any = None,
    currency: str | None = None,
) -> Finding:
    """A parent target whose children (of one split) do not add up to it; ``kpi_name`` and
    ``scope_name`` are what people read (default: the keys), ``currency`` the KPI's when it
    counts an amount."""
    p, n = m.parent, len(m.group.children)
    children = (
        msg("planning.mismatch.org_children", count=n)
        if m.group.split == "org"
        else msg(
            "planning.mismatch.time_children",
            count=n,
            kind=msg(f"planning.period_kind.{m.group.period_kind}"),
        )
    )
    return Finding(
        "plan_mismatch",
        "warning",
        msg(
            "planning.finding.plan_mismatch",
            kpi=p.kpi if kpi_name is None else kpi_name,
            scope=p.scope if scope_name is None else scope_name,
            period=period_name(p.period),
            value=amount(p.target, currency),
            children=children,
            total=amount(m.children_sum, currency),
            difference=amount(m.difference, currency),
        ),
        msg("planning.fix.plan_mismatch", target_id=str(p.id)),
        kpi=p.kpi,
        target_index=target_index,
        params={
            "target_id": p.id,
            "scope": p.scope,
            "period": p.period,
            "split": m.group.split,
            "children_period_kind": m.group.period_kind,
            "children": n,
            "parent_value": _text(p.target),
            "children_sum": _text(m.children_sum),
            "difference": _text(m.difference),
        },
    )
