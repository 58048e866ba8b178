"""The SMART check of a plan: findings with a severity and a suggested fix.

A plan is a role template's weighted KPIs and targets, with the facts the service gathered
about them (:class:`PlanFacts`). :func:`check_plan` applies the SMART rules to each target
(specific, measurable, achievable, relevant, time-bound) and the known pitfalls to the
template (too many core KPIs, weights not summing to 100, results without process or the
reverse, duplicates). :func:`plan_mismatch` words a parent whose children do not add up
(:mod:`paceline.shared.kpi.planning.sums`) as a finding. Every finding carries its rule as
a code and the numbers it is about as ``params``, for machines and message catalogs.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final, Literal

from paceline.shared.kpi.planning.common import DEFAULT_MARGIN, pct
from paceline.shared.kpi.planning.sums import Mismatch

Severity = Literal["error", "warning", "info"]
MAX_CORE_KPIS: Final = 5


@dataclass(frozen=True, slots=True)
class Finding:
    """One SMART rule or pitfall a plan breaks, with what to do about it."""

    rule: str
    severity: Severity
    message: str
    fix: str
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


@dataclass(frozen=True, slots=True)
class PlanFacts:
    """A plan with the facts gathered about it."""

    items: tuple[tuple[str, Decimal], ...]  # the role template's (kpi, weight)
    kpis: Mapping[str, PlanKpi]
    targets: tuple[PlanTarget, ...]
    lookback_days: int = 90
    margin: Decimal = DEFAULT_MARGIN


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
            _relevant(t),
            _time_bound(t),
        ):
            if rule is not None:
                out.append(rule)
    out += _template_pitfalls(plan, keys)
    out += _duplicated_targets(plan.targets)
    return out


def _unspecified(plan: PlanFacts, keys: Sequence[str]) -> Iterator[Finding]:
    """Specific: every KPI of the template and the targets has a definition with a formula."""
    for key in dict.fromkeys([*keys, *(t.kpi for t in plan.targets)]):
        info = plan.kpis.get(key)
        if info is None or not info.known:
            yield Finding(
                "not_specific",
                "error",
                f"{key!r} has no definition: nobody can say what counts",
                "use a catalog KPI or define it with a formula (POST /v1/kpis)",
                kpi=key,
            )


def _measurable(plan: PlanFacts, t: PlanTarget, info: PlanKpi) -> Finding | None:
    """Measurable: events of the formula's types arrived recently."""
    if t.recent_events is not False:
        return None
    types = ", ".join(info.event_types) or "any"
    return Finding(
        "not_measurable",
        "warning",
        f"no {types} events for {t.scope} in the last {plan.lookback_days} days: "
        f"{t.kpi} cannot be measured from what is logged",
        f"send {types} events (CRM webhook, POST /v1/events) or import history "
        "(POST /v1/imports) before setting this target",
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
    return Finding(
        "not_achievable",
        "warning",
        f"{t.kpi} for {t.scope} needs {pct(t.required_growth)} over last "
        f"year; history grew {pct(t.history_growth)} a year",
        f"lower the target toward {pct(max(history, Decimal(0)) + plan.margin)}"
        " growth (GET /v1/targets/suggestions), or plan what changes "
        "(headcount, territory, product) to justify it",
        kpi=t.kpi,
        target_index=t.index,
    )


def _relevant(t: PlanTarget) -> Finding | None:
    """Relevant: the target is linked to a parent goal."""
    if t.has_parent:
        return None
    return Finding(
        "not_relevant",
        "warning",
        f"the {t.kpi} target for {t.scope} is not linked to a parent goal",
        "set parent_id to the team or company target it contributes to "
        "(POST /v1/targets/decompose links them for you)",
        kpi=t.kpi,
        target_index=t.index,
    )


def _time_bound(t: PlanTarget) -> Finding | None:
    """Time-bound: a valid period that has not ended."""
    if t.period is None or not t.period_valid:
        return Finding(
            "not_time_bound",
            "error",
            f"the {t.kpi} target has no valid period" + (f" ({t.period!r})" if t.period else ""),
            "give a period: 2027, 2027-Q1, 2027-03 or 2027-W09",
            kpi=t.kpi,
            target_index=t.index,
        )
    if t.period_ended:
        return Finding(
            "not_time_bound",
            "warning",
            f"the period {t.period} of the {t.kpi} target has already ended",
            "set the target for a current or future period",
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
            f"{len(set(keys))} core KPIs: attention spreads thin beyond {MAX_CORE_KPIS}",
            f"keep at most {MAX_CORE_KPIS} weighted KPIs; track the others without weight",
        )
    total = sum((w for _k, w in plan.items), Decimal(0))
    if plan.items and total != 100:
        yield Finding(
            "weights_not_100",
            "error",
            f"the weights sum to {total.normalize():f}, not 100",
            "rescale the weights so they sum to 100 (default mix result 60 / process 30 / "
            "capability 10)",
        )
    categories = {plan.kpis[k].category for k in keys if k in plan.kpis and plan.kpis[k].known}
    if categories and "process" not in categories and "result" in categories:
        yield Finding(
            "result_only",
            "warning",
            "only result KPIs: nothing says what to do to get there",
            "add process KPIs (visits, quotes, win rate) that lead to the results",
        )
    if categories and "result" not in categories and "process" in categories:
        yield Finding(
            "process_only",
            "warning",
            "only process KPIs: activity without the outcome it is for",
            "add the result KPI the activity should produce (revenue, deals won)",
        )
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            yield Finding(
                "duplicated_kpi",
                "error",
                f"{key} appears more than once in the template",
                "keep one entry per KPI and merge the weights",
                kpi=key,
            )
        seen.add(key)


def _duplicated_targets(targets: Sequence[PlanTarget]) -> Iterator[Finding]:
    """Two targets for one KPI, scope and period."""
    seen: set[tuple[str, str, str | None]] = set()
    for t in targets:
        ident = (t.kpi, t.scope, t.period)
        if ident in seen:
            yield Finding(
                "duplicated_kpi",
                "error",
                f"two targets for {t.kpi} / {t.scope} / {t.period}",
                "keep one target per KPI, scope and period",
                kpi=t.kpi,
                target_index=t.index,
            )
        seen.add(ident)


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def plan_mismatch(m: Mismatch, *, target_index: int | None = None) -> Finding:
    """A parent target whose children (of one split) do not add up to it."""
    p, n = m.parent, len(m.group.children)
    children = (
        f"{n} org children (the scopes under it)"
        if m.group.split == "org"
        else f"{n} {m.group.period_kind} children"
    )
    return Finding(
        "plan_mismatch",
        "warning",
        f"the {p.kpi} target of {p.scope} for {p.period} is {_text(p.target)}, but its "
        f"{children} sum to {_text(m.children_sum)} (difference {_text(m.difference)})",
        f"re-split the children: PUT /v1/targets/{p.id} with children: resplit (see the "
        f"values first with POST /v1/targets/{p.id}/revision-preview), or revise the parent "
        "or the children until they add up",
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
