"""Scorecards per rep and team, and leaderboards per team.

A rep's scorecard uses the role template of the rep's role (or one given explicitly):
for each KPI of the template, the actual over the period up to ``as_of``, the rep's
target for the period (the version in force at ``as_of``), the capped, direction-aware
attainment and the tier; then the weighted score and overall tier
(:mod:`paceline.shared.kpi.scorecards`). Attainment compares with the whole period's
target: read it at period end for the review, or mid-period as "attained so far".

Leaderboards compute every member's scorecard with one query per KPI and table, not one
per rep.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.scorecards.schemas import LeaderboardOut, LeaderRow, ScorecardItem, ScorecardOut
from paceline.shared.db.context import find_kpi
from paceline.shared.db.models import TargetVersion, Tenant
from paceline.shared.errors import FieldError, InvalidInput, NotFound
from paceline.shared.i18n import msg
from paceline.shared.kpi.calendar import WorkCalendar
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.periods import Period
from paceline.shared.kpi.scorecards import (
    DEFAULT_CAP,
    RoleTemplate,
    ScoredItem,
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
from paceline.shared.readmodel.templates import find_template


def attainment_cap(tenant: Tenant) -> Decimal:
    """The tenant's attainment cap (1.5 = 150% by default)."""
    return Decimal(str((tenant.options or {}).get("attainment_cap", DEFAULT_CAP)))


def _item(
    kpi: KpiDefinition,
    weight: Decimal,
    value: KpiValue,
    version: TargetVersion | None,
    cap: Decimal,
) -> tuple[ScorecardItem, ScoredItem]:
    target = Decimal(version.target) if version is not None else None
    baseline = Decimal(version.baseline) if version and version.baseline is not None else None
    stretch = Decimal(version.stretch) if version and version.stretch is not None else None
    actual = value.value
    status = "scored"
    scored = ScoredItem(weight, None)
    tier = None
    if target is None:
        status = "no_target"
    elif actual is None or (kpi.is_ratio and value.sample < kpi.min_sample):
        status = "insufficient_data"
    else:
        scored = scored_item(
            weight,
            actual=actual,
            target=target,
            baseline=baseline,
            stretch=stretch,
            direction=kpi.direction,
            cap=cap,
        )
        tier = kpi_tier(actual, target, baseline, stretch, kpi.direction)
    return (
        ScorecardItem(
            kpi=kpi.key,
            names=kpi.names(),
            category=kpi.category,
            unit=kpi.unit,
            direction=kpi.direction,
            weight=weight,
            actual=q4(actual),
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


def _card(
    scope: str,
    period: Period,
    as_of: datetime,
    template: RoleTemplate,
    pairs: Sequence[tuple[ScorecardItem, ScoredItem]],
) -> ScorecardOut:
    score = weighted_score([p[1] for p in pairs])
    return ScorecardOut(
        scope=scope,
        period=period.key,
        as_of=as_of,
        template=template.key,
        template_names={"zh-CN": template.name_zh, "en": template.name_en},
        items=[p[0] for p in pairs],
        score=q4(score.score),
        tier=score.tier,
        coverage=q4(score.coverage) or Decimal(0),
    )


async def _template_for(session: AsyncSession, tenant_id: str, key: str) -> RoleTemplate:
    template = await find_template(session, tenant_id=tenant_id, key=key)
    if template is None:
        raise InvalidInput(
            msg("scorecards.unknown_template"),
            fields=[FieldError("template", msg("scorecards.no_template", template=key))],
        )
    return template


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
    values: dict[str, dict[str, KpiValue]] = {rep: {} for rep in rep_ids}
    for key, kpi in kpis.items():
        if kpi is None:
            continue
        by_rep = await values_by_rep(
            session,
            tenant=tenant,
            kpi=kpi,
            rep_ids=rep_ids,
            start=period.start,
            end=end,
            calendar=calendar,
            known=known,
        )
        for rep in rep_ids:
            values[rep][key] = by_rep[rep]
    versions = await targets_repo.values_in_force(
        session,
        tenant_id=tenant.id,
        kpis=kpi_keys,
        scopes=[f"rep:{r}" for r in rep_ids],
        period=period.key,
        at=as_of,
    )
    cap = attainment_cap(tenant)
    cards = []
    for rep in rep_ids:
        template = rep_template[rep]
        pairs = []
        for item in template.items:
            kpi = kpis.get(item.kpi)
            if kpi is None:
                continue
            pairs.append(
                _item(
                    kpi,
                    item.weight,
                    values[rep].get(item.kpi, kpi_value(kpi.formula, {})),
                    versions.get((item.kpi, f"rep:{rep}")),
                    cap,
                )
            )
        cards.append(_card(f"rep:{rep}", period, as_of, template, pairs))
    return cards


async def _actuals_by_rep(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    rep_ids: Sequence[str],
    period: Period,
    as_of: datetime,
    calendar: WorkCalendar,
    known: datetime | None = None,
) -> dict[str, Decimal | None]:
    """One KPI's actual for many reps (whatever their templates)."""
    end = counted_days_end(period, as_of, ZoneInfo(tenant.timezone))
    found = await values_by_rep(
        session,
        tenant=tenant,
        kpi=kpi,
        rep_ids=rep_ids,
        start=period.start,
        end=end,
        calendar=calendar,
        known=known,
    )
    return {rep: q4(found[rep].value) for rep in rep_ids}


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
    versions = await targets_repo.values_in_force(
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
        pairs.append(_item(kpi, item.weight, value, versions.get((item.kpi, str(scope))), cap))
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
    cards = await rep_scorecards(
        session,
        tenant=tenant,
        rep_ids=reps,
        period=period,
        as_of=as_of,
        calendar=calendar,
        template_key=template_key,
        known=known,
    )
    ranking_kpi = None
    kpi_actuals: dict[str, Decimal | None] = {}
    if kpi_key is not None:
        ranking_kpi = await find_kpi(session, tenant_id=tenant.id, key=kpi_key)
        if ranking_kpi is None:
            raise NotFound(msg("progress.unknown_kpi", kpi=kpi_key))
        kpi_actuals = await _actuals_by_rep(
            session,
            tenant=tenant,
            kpi=ranking_kpi,
            rep_ids=reps,
            period=period,
            as_of=as_of,
            calendar=calendar,
            known=known,
        )
    names = await org.rep_names(session, tenant_id=tenant.id, rep_ids=reps)

    def sort_key(card: ScorecardOut) -> tuple[int, Decimal, str]:
        # By score; or by one KPI's actual (ascending when lower is better).
        if ranking_kpi is None:
            value = card.score
        else:
            value = kpi_actuals.get(card.scope.removeprefix("rep:"))
            if value is not None and ranking_kpi.direction == "lower":
                value = -value
        return (0 if value is not None else 1, -(value or Decimal(0)), card.scope)

    ranked = sorted(cards, key=sort_key)
    rows = []
    for rank, card in enumerate(ranked, start=1):
        rep = card.scope.removeprefix("rep:")
        item = next((i for i in card.items if i.kpi == kpi_key), None) if kpi_key else None
        rows.append(
            LeaderRow(
                rank=rank,
                rep_id=rep,
                name=names.get(rep),
                score=card.score,
                tier=card.tier,
                coverage=card.coverage,
                kpi_actual=kpi_actuals.get(rep) if kpi_key else None,
                kpi_attainment=item.attainment if item else None,
            )
        )
    return LeaderboardOut(team=team, period=period.key, as_of=as_of, kpi=kpi_key, rows=rows)
