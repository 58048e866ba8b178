"""The SMART check (``POST /v1/plans/check``): findings of the SMART rules and pitfalls.

The rules are pure (:mod:`paceline.shared.kpi.planning.smart`); this module gathers the
facts they need about the plan: the template's items, each KPI's definition, and for each
target its scope and period, whether it has a parent goal, whether events of its KPI
arrived lately, and the growth it needs against the growth history shows.

It also reports every parent whose children do not add up (``plan_mismatch``) in the
stored plan trees the plan touches: those of the plan's targets that are stored (matched
by KPI, scope and period) or name a stored parent, and those of the stored targets of the
plan's scope and period (for the plan's KPIs, or all when it names none). The plan's
values stand in for the stored ones they match; a plan target not stored yet is not a
child of anything (one rep's plan is not the team's whole split).

Findings name KPIs, reps and teams as people read them and are answered in the caller's
language (``message``/``fix`` with their catalog codes and parameters beside them).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.planning import repository as repo
from paceline.api.planning.history import History, additive, shift_years, tenant_today
from paceline.api.planning.schemas import PlanCheckOut, PlanIn, PlanTargetIn
from paceline.api.targets.names import kpi_name, names_of
from paceline.api.targets.sums import finding_out, mismatch_findings, tree_mismatches
from paceline.shared.db.context import find_kpi, tenant_calendar
from paceline.shared.db.models import Target, Tenant
from paceline.shared.errors import FieldError, InvalidInput
from paceline.shared.i18n import msg
from paceline.shared.kpi.calendar import WorkCalendar
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.periods import Period, parse_period
from paceline.shared.kpi.planning.common import month_index
from paceline.shared.kpi.planning.smart import (
    Finding,
    PlanFacts,
    PlanKpi,
    PlanTarget,
    check_plan,
)
from paceline.shared.kpi.planning.suggestions import seasonal_model
from paceline.shared.readmodel import targets as targets_repo
from paceline.shared.readmodel.org import require_known, team_ids
from paceline.shared.readmodel.scopes import Scope, parse_scope
from paceline.shared.readmodel.templates import find_template

RULES = (
    "not_specific",
    "not_measurable",
    "not_achievable",
    "not_relevant",
    "not_time_bound",
    "too_many_core_kpis",
    "weights_not_100",
    "result_only",
    "process_only",
    "duplicated_kpi",
    "plan_mismatch",
)


async def check(
    session: AsyncSession, *, tenant: Tenant, body: PlanIn, now: datetime, locale: str
) -> PlanCheckOut:
    """Findings of the SMART rules and the pitfalls for a plan, in ``locale``."""
    items = await _template_items(session, tenant_id=tenant.id, body=body)
    keys = list(dict.fromkeys([k for k, _w in items] + [t.kpi for t in body.targets]))
    kpis: dict[str, PlanKpi] = {}
    defs: dict[str, KpiDefinition] = {}
    for key in keys:
        found = await find_kpi(session, tenant_id=tenant.id, key=key)
        if found is None:
            kpis[key] = PlanKpi(key, known=False, category=None)
        else:
            defs[key] = found
            kpis[key] = PlanKpi(
                key,
                True,
                found.category,
                tuple(sorted(found.formula.event_types)),
                name=kpi_name(found),
            )
    today = tenant_today(tenant, now)
    since = now - timedelta(days=body.lookback_days)
    calendar = await tenant_calendar(session, tenant=tenant)
    targets = [
        await _plan_target(
            session,
            tenant=tenant,
            body=body,
            index=index,
            target=t,
            kpi=defs.get(t.kpi),
            today=today,
            since=since,
            calendar=calendar,
        )
        for index, t in enumerate(body.targets)
    ]
    names = await names_of(
        session, tenant_id=tenant.id, scopes={t.scope for t in targets}, currency=tenant.currency
    )
    targets = [replace(t, scope_name=names.scope(t.scope)) for t in targets]
    findings = check_plan(
        PlanFacts(
            items=tuple(items),
            kpis=kpis,
            targets=tuple(targets),
            lookback_days=body.lookback_days,
            margin=body.margin,
        )
    )
    findings += await _mismatches(session, tenant=tenant, body=body, keys=keys)
    return _check_out(body, items, findings, locale)


def _period_or_none(text: str | None, tenant: Tenant) -> Period | None:
    if not text:
        return None
    try:
        return parse_period(text, fiscal_year_start_month=tenant.fiscal_year_start_month)
    except ValueError:
        return None


async def _mismatches(
    session: AsyncSession, *, tenant: Tenant, body: PlanIn, keys: list[str]
) -> list[Finding]:
    """``plan_mismatch`` findings of the stored plan trees the plan touches, with the
    plan's values in place of the stored ones."""
    seeds: dict[int, Target] = {}
    overrides: dict[int, Decimal] = {}
    index_of: dict[int, int] = {}
    for index, t in enumerate(body.targets):
        scope = str(parse_scope(t.scope or body.scope, field=f"targets[{index}].scope"))
        period = _period_or_none(t.period or body.period, tenant)
        stored = None
        if period is not None:
            stored = await targets_repo.find(
                session, tenant_id=tenant.id, kpi=t.kpi, scope=scope, period=period.key
            )
        if stored is not None:
            seeds[stored.id] = stored
            overrides[stored.id] = t.target
            index_of.setdefault(stored.id, index)
            continue
        parent = (
            await targets_repo.get(session, tenant_id=tenant.id, target_id=t.parent_id)
            if t.parent_id is not None
            else None
        )
        if parent is not None:
            seeds[parent.id] = parent
    period = _period_or_none(body.period, tenant)
    if period is not None:
        plan_scope = parse_scope(body.scope, field="scope")
        for stored in await targets_repo.of_scopes(
            session,
            tenant_id=tenant.id,
            period=period.key,
            scopes=[str(plan_scope)],
            kpis=keys or None,
        ):
            seeds.setdefault(stored.id, stored)
    if not seeds:
        return []
    found = await tree_mismatches(
        session, tenant_id=tenant.id, seeds=list(seeds.values()), overrides=overrides
    )
    return await mismatch_findings(session, tenant_id=tenant.id, found=found, index_of=index_of)


async def _template_items(
    session: AsyncSession, *, tenant_id: str, body: PlanIn
) -> list[tuple[str, Decimal]]:
    """The plan's (KPI, weight) items: given, or the named template's (422 if unknown)."""
    if body.items is not None:
        return [(i.kpi, i.weight) for i in body.items]
    if body.template is None:
        return []
    template = await find_template(session, tenant_id=tenant_id, key=body.template)
    if template is None:
        raise InvalidInput(
            msg("planning.errors.unknown_template", template=body.template),
            fields=[
                FieldError(
                    "template", msg("planning.errors.unknown_template", template=body.template)
                )
            ],
        )
    return [(i.kpi, i.weight) for i in template.items]


async def _plan_target(
    session: AsyncSession,
    *,
    tenant: Tenant,
    body: PlanIn,
    index: int,
    target: PlanTargetIn,
    kpi: KpiDefinition | None,
    today: date,
    since: datetime,
    calendar: WorkCalendar,
) -> PlanTarget:
    """What the rules need to know about one target of the plan."""
    scope = parse_scope(target.scope or body.scope, field=f"targets[{index}].scope")
    await require_known(session, tenant_id=tenant.id, scope=scope)
    period_text = target.period or body.period
    period: Period | None = None
    if period_text:
        try:
            period = parse_period(
                period_text, fiscal_year_start_month=tenant.fiscal_year_start_month
            )
        except ValueError:
            period = None
    has_parent = await _has_parent(
        session, tenant_id=tenant.id, target=target, scope=scope, period=period
    )
    recent = None
    required = history_growth = None
    if kpi is not None:
        recent = await _recent_events(
            session, tenant_id=tenant.id, kpi=kpi, scope=scope, since=since
        )
        if period is not None and period.end > today:
            required, history_growth = await _required_growth(
                session,
                tenant=tenant,
                kpi=kpi,
                scope=scope,
                period=period,
                target=target.target,
                today=today,
                calendar=calendar,
            )
    return PlanTarget(
        index=index,
        kpi=target.kpi,
        scope=str(scope),
        period=period_text,
        period_valid=period is not None,
        period_ended=period is not None and period.end <= today,
        value=target.target,
        has_parent=has_parent,
        recent_events=recent,
        required_growth=required,
        history_growth=history_growth,
    )


async def _has_parent(
    session: AsyncSession,
    *,
    tenant_id: str,
    target: PlanTargetIn,
    scope: Scope,
    period: Period | None,
) -> bool:
    """Whether the target names a parent that exists, or is stored with one; the company's
    yearly goal is the root of the plan."""
    has_parent = False
    if target.parent_id is not None:
        has_parent = (
            await targets_repo.get(session, tenant_id=tenant_id, target_id=target.parent_id)
        ) is not None
    elif period is not None:
        stored = await targets_repo.find(
            session, tenant_id=tenant_id, kpi=target.kpi, scope=str(scope), period=period.key
        )
        has_parent = stored is not None and stored.parent_id is not None
    if scope.kind == "company" and period is not None and period.kind == "year":
        has_parent = True
    return has_parent


def _check_out(
    body: PlanIn, items: list[tuple[str, Decimal]], findings: list[Finding], locale: str
) -> PlanCheckOut:
    """The answer: ok unless an error, every finding (in ``locale``), and what was checked."""
    return PlanCheckOut(
        ok=not any(f.severity == "error" for f in findings),
        findings=[finding_out(f, locale) for f in findings],
        checked={
            "template_items": [{"kpi": k, "weight": str(w)} for k, w in items],
            "targets": len(body.targets),
            "lookback_days": body.lookback_days,
            "margin": str(body.margin),
            "rules": list(RULES),
        },
    )


async def _recent_events(
    session: AsyncSession,
    *,
    tenant_id: str,
    kpi: KpiDefinition,
    scope: Scope,
    since: datetime,
) -> bool:
    """Whether events the KPI reads arrived for the scope since ``since``."""
    types = kpi.formula.event_types
    teams = await team_ids(session, tenant_id=tenant_id, scope=scope)
    return await repo.events_since(
        session,
        tenant_id=tenant_id,
        since=since,
        types=None if "any" in types else types,
        rep_id=scope.id if scope.kind == "rep" else None,
        team_ids=list(teams or []) if scope.kind == "team" else None,
    )


async def _required_growth(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    scope: Scope,
    period: Period,
    target: Decimal,
    today: date,
    calendar: WorkCalendar,
) -> tuple[Decimal | None, Decimal | None]:
    """Growth the target needs over the same period last year, and history's trend growth."""
    teams = await team_ids(session, tenant_id=tenant.id, scope=scope)
    history = History(session, tenant=tenant, kpi=kpi, scope=scope, teams=teams, calendar=calendar)
    if not additive(kpi):
        back = shift_years(period, 1, tenant.fiscal_year_start_month)
        basis = await history.value(back.start, back.end)
        if basis <= 0:
            return None, None
        ratio = basis / target if kpi.direction == "lower" and target > 0 else target / basis
        return ratio - 1, None
    cutoff = min(month_index(today), month_index(period.start))
    monthly = await history.monthly(cutoff=cutoff)
    model = seasonal_model(monthly, cutoff=cutoff)
    if model is None:
        return None, None
    back = shift_years(period, 1, tenant.fiscal_year_start_month)
    basis = await history.value(back.start, back.end)
    if basis <= 0:
        return None, model.growth
    if kpi.direction == "lower":
        return (basis / target - 1 if target > 0 else None), model.growth
    return target / basis - 1, model.growth
