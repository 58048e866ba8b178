"""Scorecards per rep and team, and leaderboards per team.

A rep's scorecard uses the role template of the rep's role (or one given explicitly):
for each KPI of the template, the actual over the period up to ``as_of``, the rep's
target for the period (the version in force at ``as_of``), the capped, direction-aware
attainment and the tier; then the weighted score and overall tier
(:mod:`paceline.shared.kpi.scorecards`). Attainment compares with the whole period's
target: read it at period end for the review, or mid-period as "attained so far".

Leaderboards are set-based: one statement per KPI and table aggregates the measures of
every member at once (``GROUP BY rep_id``), one reads every member's targets in force;
the scores are then computed in plain Python from those rows, with the same
:func:`_score` as a rep's scorecard, and no scorecard model is built per rep. The number
of statements does not grow with the number of reps
(tests/api/scorecards/test_leaderboard_set.py counts them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.scorecards.schemas import LeaderboardOut, LeaderRow, ScorecardItem, ScorecardOut
from paceline.shared.db.context import find_kpi
from paceline.shared.db.models import Tenant
from paceline.shared.errors import FieldError, InvalidInput, NotFound
from paceline.shared.i18n import msg
from paceline.shared.kpi.calendar import WorkCalendar
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.periods import Period
from paceline.shared.kpi.scorecards import (
    DEFAULT_CAP,
    RoleTemplate,
    Score,
    ScoredItem,
    Tier,
    kpi_tier,
    scored_item,
    weighted_score,
)
from paceline.shared.kpi.values import KpiValue, kpi_value
from paceline.shared.readmodel import org
from paceline.shared.readmodel import rollups as progress_repo
from paceline.shared.readmodel import targets as targets_repo
from paceline.shared.readmodel.evaluation import counted_days_end, q4
from paceline.shared.readmodel.org import team_ids
from paceline.shared.readmodel.progress import kpi_value_for, values_by_rep
from paceline.shared.readmodel.scopes import Scope
from paceline.shared.readmodel.targets import Goal
from paceline.shared.readmodel.templates import find_template


def attainment_cap(tenant: Tenant) -> Decimal:
    """The tenant's attainment cap (1.5 = 150% by default)."""
    return Decimal(str((tenant.options or {}).get("attainment_cap", DEFAULT_CAP)))


def _score(
    kpi: KpiDefinition,
    weight: Decimal,
    value: KpiValue,
    goal: Goal | None,
    cap: Decimal,
) -> tuple[str, ScoredItem, Tier | None]:
    """One KPI's status, part in the score and tier (scorecards and leaderboards alike)."""
    if goal is None:
        return "no_target", ScoredItem(weight, None), None
    actual = value.value
    if actual is None or (kpi.is_ratio and value.sample < kpi.min_sample):
        return "insufficient_data", ScoredItem(weight, None), None
    target = Decimal(goal.target)
    baseline = Decimal(goal.baseline) if goal.baseline is not None else None
    stretch = Decimal(goal.stretch) if goal.stretch is not None else None
    scored = scored_item(
        weight,
        actual=actual,
        target=target,
        baseline=baseline,
        stretch=stretch,
        direction=kpi.direction,
        cap=cap,
    )
    return "scored", scored, kpi_tier(actual, target, baseline, stretch, kpi.direction)


def _item(
    kpi: KpiDefinition,
    weight: Decimal,
    value: KpiValue,
    goal: Goal | None,
    cap: Decimal,
) -> tuple[ScorecardItem, ScoredItem]:
    status, scored, tier = _score(kpi, weight, value, goal, cap)
    target = Decimal(goal.target) if goal is not None else None
    baseline = Decimal(goal.baseline) if goal and goal.baseline is not None else None
    stretch = Decimal(goal.stretch) if goal and goal.stretch is not None else None
    return (
        ScorecardItem(
            kpi=kpi.key,
            names=kpi.names(),
            category=kpi.category,
            unit=kpi.unit,
            direction=kpi.direction,
            weight=weight,
            actual=q4(value.value),
            target=q4(target),
            baseline=q4(baseline),
            stretch=q4(stretch),
            attainment=q4(scored.attainment),
            tier=tier,
            status=status,
            sample=value.sample,
        ),
        scored,
    )


def _shown(score: Score) -> tuple[Decimal | None, Tier | None, Decimal]:
    """A score as cards and leaderboards show it: score, tier and coverage."""
    return q4(score.score), score.tier, q4(score.coverage) or Decimal(0)


def _card(
    scope: str,
    period: Period,
    as_of: datetime,
    template: RoleTemplate,
    pairs: Sequence[tuple[ScorecardItem, ScoredItem]],
) -> ScorecardOut:
    score, tier, coverage = _shown(weighted_score([p[1] for p in pairs]))
    return ScorecardOut(
        scope=scope,
        period=period.key,
        as_of=as_of,
        template=template.key,
        template_names={"zh-CN": template.name_zh, "en": template.name_en},
        items=[p[0] for p in pairs],
        score=score,
        tier=tier,
        coverage=coverage,
    )


async def _template_for(session: AsyncSession, tenant_id: str, key: str) -> RoleTemplate:
    template = await find_template(session, tenant_id=tenant_id, key=key)
    if template is None:
        raise InvalidInput(
            msg("scorecards.unknown_template"),
            fields=[FieldError("template", msg("scorecards.no_template", template=key))],
        )
    return template


@dataclass(slots=True)
class _RepInputs:
    """What every rep's scorecard is computed from, read for all the reps at once."""

    templates: dict[str, RoleTemplate]  # rep -> template
    kpis: dict[str, KpiDefinition | None]  # the templates' KPIs (None: not usable)
    values: dict[str, dict[str, KpiValue]]  # KPI -> rep -> value
    goals: dict[tuple[str, str], Goal]  # (kpi, "rep:<id>") -> the target in force
    cap: Decimal

    def scored(self, rep: str) -> list[tuple[KpiDefinition, Decimal, KpiValue, Goal | None]]:
        """The rep's template items that can be shown: KPI, weight, value, target."""
        out = []
        for item in self.templates[rep].items:
            kpi = self.kpis.get(item.kpi)
            if kpi is None:
                continue
            values = self.values.get(item.kpi, {})
            value = values[rep] if rep in values else kpi_value(kpi.formula, {})
            out.append((kpi, item.weight, value, self.goals.get((item.kpi, f"rep:{rep}"))))
        return out


async def _rep_inputs(
    session: AsyncSession,
    *,
    tenant: Tenant,
    rep_ids: Sequence[str],
    period: Period,
    as_of: datetime,
    calendar: WorkCalendar,
    known: datetime | None,
    template_key: str | None,
) -> _RepInputs:
    """Templates, KPI values and targets of many reps: a constant number of statements
    (one per KPI and table for the values, one for the targets), whatever their number."""
    end = counted_days_end(period, as_of, ZoneInfo(tenant.timezone))
    roles = await org.rep_roles(session, tenant_id=tenant.id, rep_ids=rep_ids)
    templates: dict[str, RoleTemplate] = {}
    for rep in rep_ids:
        key = template_key or roles.get(rep) or "account_manager"
        if key not in templates:
            found = await find_template(session, tenant_id=tenant.id, key=key)
            if found is None and template_key is not None:
                raise InvalidInput(
                    msg("scorecards.unknown_template"),
                    fields=[FieldError("template", msg("scorecards.no_template", template=key))],
                )
            # A role without a template of its name is scored as an account manager.
            templates[key] = found or await _template_for(session, tenant.id, "account_manager")
    rep_template = {
        rep: templates[template_key or roles.get(rep) or "account_manager"] for rep in rep_ids
    }
    kpi_keys = sorted({i.kpi for t in templates.values() for i in t.items})
    kpis = {k: await find_kpi(session, tenant_id=tenant.id, key=k) for k in kpi_keys}
    values: dict[str, dict[str, KpiValue]] = {}
    for key, kpi in kpis.items():
        if kpi is None:
            continue
        values[key] = await values_by_rep(
            session,
            tenant=tenant,
            kpi=kpi,
            rep_ids=rep_ids,
            start=period.start,
            end=end,
            calendar=calendar,
            known=known,
        )
    goals = await targets_repo.goals_in_force(
        session,
        tenant_id=tenant.id,
        kpis=kpi_keys,
        scopes=[f"rep:{r}" for r in rep_ids],
        period=period.key,
        at=as_of,
    )
    return _RepInputs(rep_template, kpis, values, goals, attainment_cap(tenant))


async def rep_scorecards(
    session: AsyncSession,
    *,
    tenant: Tenant,
    rep_ids: Sequence[str],
    period: Period,
    as_of: datetime,
    calendar: WorkCalendar,
    known: datetime | None = None,
    template_key: str | None,
) -> list[ScorecardOut]:
    """Scorecards of several reps at once (one query per KPI and table)."""
    inputs = await _rep_inputs(
        session,
        tenant=tenant,
        rep_ids=rep_ids,
        period=period,
        as_of=as_of,
        calendar=calendar,
        known=known,
        template_key=template_key,
    )
    return [
        _card(
            f"rep:{rep}",
            period,
            as_of,
            inputs.templates[rep],
            [_item(*parts, inputs.cap) for parts in inputs.scored(rep)],
        )
        for rep in rep_ids
    ]


async def team_scorecard(
    session: AsyncSession,
    *,
    tenant: Tenant,
    scope: Scope,
    period: Period,
    as_of: datetime,
    calendar: WorkCalendar,
    known: datetime | None = None,
    template_key: str | None,
) -> ScorecardOut:
    """A team's (or the company's) scorecard against its own targets."""
    template = await _template_for(session, tenant.id, template_key or "account_manager")
    end = counted_days_end(period, as_of, ZoneInfo(tenant.timezone))
    teams = await team_ids(session, tenant_id=tenant.id, scope=scope)
    goals = await targets_repo.goals_in_force(
        session,
        tenant_id=tenant.id,
        kpis=[i.kpi for i in template.items],
        scopes=[str(scope)],
        period=period.key,
        at=as_of,
    )
    cap = attainment_cap(tenant)
    pairs = []
    for item in template.items:
        kpi = await find_kpi(session, tenant_id=tenant.id, key=item.kpi)
        if kpi is None:
            continue
        value = await kpi_value_for(
            session,
            tenant=tenant,
            kpi=kpi,
            scope=scope,
            start=period.start,
            end=end,
            calendar=calendar,
            teams=teams,
            known=known,
        )
        pairs.append(_item(kpi, item.weight, value, goals.get((item.kpi, str(scope))), cap))
    return _card(str(scope), period, as_of, template, pairs)


async def leaderboard(
    session: AsyncSession,
    *,
    tenant: Tenant,
    team: str,
    period: Period,
    as_of: datetime,
    calendar: WorkCalendar,
    known: datetime | None = None,
    template_key: str | None,
    kpi_key: str | None,
) -> LeaderboardOut:
    """The team's reps (members during the period) ranked by score, or by one KPI."""
    scope = Scope("team", team)
    teams = await team_ids(session, tenant_id=tenant.id, scope=scope)
    spans = await progress_repo.reps_in_scope(
        session, tenant_id=tenant.id, start=period.start, end=period.end, team_ids=teams
    )
    reps = sorted({r for r, _lo, _hi in spans})
    inputs = await _rep_inputs(
        session,
        tenant=tenant,
        rep_ids=reps,
        period=period,
        as_of=as_of,
        calendar=calendar,
        known=known,
        template_key=template_key,
    )
    ranking_kpi = None
    kpi_actuals: dict[str, Decimal | None] = {}
    if kpi_key is not None:
        ranking_kpi = await find_kpi(session, tenant_id=tenant.id, key=kpi_key)
        if ranking_kpi is None:
            raise NotFound(msg("progress.unknown_kpi", kpi=kpi_key))
        ranked_values = inputs.values.get(kpi_key)
        if ranked_values is None:  # a KPI outside the templates: its own statement
            ranked_values = await values_by_rep(
                session,
                tenant=tenant,
                kpi=ranking_kpi,
                rep_ids=reps,
                start=period.start,
                end=counted_days_end(period, as_of, ZoneInfo(tenant.timezone)),
                calendar=calendar,
                known=known,
            )
        kpi_actuals = {rep: q4(ranked_values[rep].value) for rep in reps}
    names = await org.rep_names(session, tenant_id=tenant.id, rep_ids=reps)

    # Each rep's score from the rows read above: plain Python, no model per KPI.
    scores: dict[str, tuple[Decimal | None, Tier | None, Decimal]] = {}
    ranked_attainment: dict[str, Decimal | None] = {}
    for rep in reps:
        parts = []
        for kpi, weight, value, goal in inputs.scored(rep):
            _status, scored, _tier = _score(kpi, weight, value, goal, inputs.cap)
            parts.append(scored)
            if kpi.key == kpi_key:
                ranked_attainment[rep] = q4(scored.attainment)
        scores[rep] = _shown(weighted_score(parts))

    def sort_key(rep: str) -> tuple[int, Decimal, str]:
        # By score; or by one KPI's actual (ascending when lower is better).
        if ranking_kpi is None:
            value = scores[rep][0]
        else:
            value = kpi_actuals.get(rep)
            if value is not None and ranking_kpi.direction == "lower":
                value = -value
        return (0 if value is not None else 1, -(value or Decimal(0)), rep)

    rows = []
    for rank, rep in enumerate(sorted(reps, key=sort_key), start=1):
        score, tier, coverage = scores[rep]
        rows.append(
            LeaderRow(
                rank=rank,
                rep_id=rep,
                name=names.get(rep),
                score=score,
                tier=tier,
                coverage=coverage,
                kpi_actual=kpi_actuals.get(rep) if kpi_key else None,
                kpi_attainment=ranked_attainment.get(rep),
            )
        )
    return LeaderboardOut(team=team, period=period.key, as_of=as_of, kpi=kpi_key, rows=rows)
