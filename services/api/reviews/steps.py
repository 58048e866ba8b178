"""The steps of a review, in the order :func:`paceline.api.reviews.service.review` runs them.

1. :func:`gather_team` — the team's reps during the period, their names, counted days.
2. :func:`reviewed_kpis` — the KPIs with rep targets (else the role template's).
3. :func:`targets_in_force` — each scope's target version at ``as_of``.
4. :func:`attainment_results` — every member's and the team's value against its target.
5. (pure, :mod:`.results`) distribution and findings; (:mod:`.drivers`) miss drivers.
6. :func:`following_period`, :func:`next_period_suggestions` — history's suggestions for
   the next period, with a note from this one.
7. :func:`assemble` — the response.

Every read goes through the read model (:mod:`paceline.shared.readmodel`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.planning.suggestions import suggest_for
from paceline.api.reviews.results import KpiResult, attainment_row, suggestion_note
from paceline.api.reviews.schemas import (
    Distribution,
    MissOut,
    NextTarget,
    ReviewAdjustment,
    ReviewFinding,
    ReviewKpi,
    ReviewOut,
)
from paceline.shared.db.context import close_book, find_kpi, tenant_calendar
from paceline.shared.db.models import TargetVersion, Tenant
from paceline.shared.errors import NotFound
from paceline.shared.i18n import L10n, Msg, msg, params_json, render
from paceline.shared.kpi.calendar import WorkCalendar
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.periods import Period, period_of
from paceline.shared.kpi.planning.common import DEFAULT_CAP, DEFAULT_MARGIN, DEFAULT_UPLIFT
from paceline.shared.kpi.values import units_value
from paceline.shared.readmodel import org, rollups
from paceline.shared.readmodel import targets as targets_repo
from paceline.shared.readmodel.evaluation import counted_days_end, is_additive, round4
from paceline.shared.readmodel.progress import kpi_value_for, values_by_rep
from paceline.shared.readmodel.scopes import Scope
from paceline.shared.readmodel.templates import find_template

DEFAULT_TEMPLATE = "account_manager"

Versions = dict[tuple[str, str], TargetVersion]  # (kpi, scope) -> version


@dataclass(frozen=True, slots=True)
class ReviewContext:
    """What every step reads with: the tenant, the period and its counted days, the team."""

    tenant: Tenant
    period: Period
    as_of: datetime
    end: date  # exclusive end of the counted days (those begun before as_of)
    calendar: WorkCalendar
    team_id: str
    teams: list[str] | None  # the team and its sub-teams
    reps: list[str]  # reps in those teams during the period, sorted
    names: dict[str, str]  # display names of the reps in the org chart
    known: datetime | None = None  # the knowledge cut: an explicit as_of (None: now)
    locale: str = "zh-CN"  # the language of the review's words

    @property
    def team(self) -> Scope:
        """``team:ID``."""
        return Scope("team", self.team_id)

    @property
    def rep_scopes(self) -> list[str]:
        """``rep:ID`` of each member, in member order."""
        return [f"rep:{r}" for r in self.reps]

    @property
    def scopes(self) -> list[str]:
        """The members' scopes, then the team's."""
        return [*self.rep_scopes, str(self.team)]


async def gather_team(
    session: AsyncSession,
    *,
    tenant: Tenant,
    team: str,
    period: Period,
    as_of: datetime,
    known: datetime | None = None,
    locale: str = "zh-CN",
) -> ReviewContext:
    """The team's reps during the period (sub-teams included), their names, the counted
    days and the work calendar; 404 for an unknown team."""
    scope = Scope("team", team)
    teams = await org.team_ids(session, tenant_id=tenant.id, scope=scope)
    end = counted_days_end(period, as_of, ZoneInfo(tenant.timezone))
    calendar = await tenant_calendar(session, tenant=tenant)
    spans = await rollups.reps_in_scope(
        session, tenant_id=tenant.id, start=period.start, end=period.end, team_ids=teams
    )
    reps = sorted({r for r, _lo, _hi in spans})
    names = await org.rep_names(session, tenant_id=tenant.id, rep_ids=reps)
    return ReviewContext(
        tenant=tenant,
        period=period,
        as_of=as_of,
        end=end,
        calendar=calendar,
        team_id=team,
        teams=teams,
        reps=reps,
        names=names,
        known=known,
        locale=locale,
    )


async def reviewed_kpis(
    session: AsyncSession, *, ctx: ReviewContext, template_key: str | None
) -> list[KpiDefinition]:
    """The KPIs the members have targets for in the period (by key); without any, the role
    template's (404 for an unknown template); KPIs the tenant cannot use are left out."""
    tenant_id = ctx.tenant.id
    targets = await targets_repo.of_scopes(
        session, tenant_id=tenant_id, period=ctx.period.key, scopes=ctx.rep_scopes
    )
    keys = sorted({t.kpi for t in targets})
    if not keys:
        template = await find_template(
            session, tenant_id=tenant_id, key=template_key or DEFAULT_TEMPLATE
        )
        if template is None:
            raise NotFound(msg("scorecards.no_template", template=template_key or DEFAULT_TEMPLATE))
        keys = [i.kpi for i in template.items]
    kpis = [await find_kpi(session, tenant_id=tenant_id, key=k) for k in keys]
    return [k for k in kpis if k]


async def targets_in_force(
    session: AsyncSession, *, ctx: ReviewContext, kpis: Sequence[KpiDefinition]
) -> Versions:
    """(kpi, scope) -> the target version in force at ``as_of`` for the members and the
    team; a target first set after ``as_of``: its first version."""
    tenant_id = ctx.tenant.id
    keys = [k.key for k in kpis]
    versions = await targets_repo.values_in_force(
        session,
        tenant_id=tenant_id,
        kpis=keys,
        scopes=ctx.scopes,
        period=ctx.period.key,
        at=ctx.as_of,
    )
    # Targets first set after ``as_of`` (a past period planned late, say after an import):
    # reviewed against their first version rather than not at all.
    targets = await targets_repo.of_scopes(
        session, tenant_id=tenant_id, period=ctx.period.key, scopes=ctx.scopes, kpis=keys
    )
    late = [t for t in targets if (t.kpi, t.scope) not in versions]
    history = await targets_repo.versions(
        session, tenant_id=tenant_id, target_ids=[t.id for t in late]
    )
    for t in late:
        if history[t.id]:
            versions[(t.kpi, t.scope)] = history[t.id][0]
    return versions


async def attainment_results(
    session: AsyncSession,
    *,
    ctx: ReviewContext,
    kpis: Sequence[KpiDefinition],
    versions: Mapping[tuple[str, str], TargetVersion],
    cap: Decimal,
) -> list[KpiResult]:
    """Each KPI's value for every member and for the team over the counted days, against
    the target version given (attainment capped at ``cap``), in KPI order."""
    out = []
    for kpi in kpis:
        values = await values_by_rep(
            session,
            tenant=ctx.tenant,
            kpi=kpi,
            rep_ids=ctx.reps,
            start=ctx.period.start,
            end=ctx.end,
            calendar=ctx.calendar,
            known=ctx.known,
        )
        team_value = await kpi_value_for(
            session,
            tenant=ctx.tenant,
            kpi=kpi,
            scope=ctx.team,
            start=ctx.period.start,
            end=ctx.end,
            calendar=ctx.calendar,
            teams=ctx.teams,
            known=ctx.known,
        )
        reps = [
            attainment_row(
                scope=f"rep:{r}",
                name=ctx.names.get(r),
                kpi=kpi,
                value=values[r],
                version=versions.get((kpi.key, f"rep:{r}")),
                cap=cap,
            )
            for r in ctx.reps
        ]
        team = attainment_row(
            scope=str(ctx.team),
            name=None,
            kpi=kpi,
            value=team_value,
            version=versions.get((kpi.key, str(ctx.team))),
            cap=cap,
        )
        out.append(
            KpiResult(kpi=kpi.key, reps=reps, team=team, label=L10n(kpi.name_zh, kpi.name_en))
        )
    return out


def _text(value: object, locale: str) -> str:
    """A suggestion's words (planning's: a catalog message, or text) in ``locale``."""
    return render(value, locale) if isinstance(value, Msg) else str(value)


def _flag(code: str, message: object, locale: str) -> dict[str, Any]:
    """A suggestion's flag: its code and message in ``locale`` (with the message's catalog
    code and parameters when planning gives one)."""
    out: dict[str, Any] = {"code": code, "message": _text(message, locale)}
    if isinstance(message, Msg):
        out["message_code"] = message.code
        out["message_params"] = params_json(message.params)
    return out


def following_period(ctx: ReviewContext) -> Period:
    """The period of the same kind right after the reviewed one."""
    return period_of(
        ctx.period.end, ctx.period.kind, fiscal_year_start_month=ctx.tenant.fiscal_year_start_month
    )


async def next_period_suggestions(
    session: AsyncSession,
    *,
    ctx: ReviewContext,
    period: Period,
    kpis: Sequence[KpiDefinition],
    results: Sequence[KpiResult],
    findings: Sequence[ReviewFinding],
    growth: Decimal | None,
) -> list[NextTarget]:
    """History's suggestion for ``period`` on each reviewed KPI and scope, with a note from
    this period's result (and its finding)."""
    # Suggestions read the history up to the review's day (at the period's end: all of it).
    today = ctx.as_of.astimezone(ZoneInfo(ctx.tenant.timezone)).date()
    found = {f.kpi: f.finding for f in findings}
    out = []
    for kpi, result in zip(kpis, results, strict=True):
        for row in result.rows:
            scope = Scope("rep", row.scope[4:]) if row.scope.startswith("rep:") else ctx.team
            sg, _cutoff = await suggest_for(
                session,
                tenant=ctx.tenant,
                kpi=kpi,
                scope=scope,
                period=period,
                growth=growth,
                cap=DEFAULT_CAP,
                margin=DEFAULT_MARGIN,
                uplift=DEFAULT_UPLIFT,
                today=today,
                calendar=ctx.calendar,
                locale=ctx.locale,
            )
            note = suggestion_note(
                row,
                period=ctx.period.key,
                finding=found.get(kpi.key),
                unit=kpi.unit,
                currency=ctx.tenant.currency,
            )
            out.append(
                NextTarget(
                    scope=row.scope,
                    kpi=kpi.key,
                    period=period.key,
                    baseline=sg.baseline,
                    target=sg.target,
                    stretch=sg.stretch,
                    steps=[_text(step, ctx.locale) for step in sg.steps],
                    flags=[_flag(f.code, f.message, ctx.locale) for f in sg.flags],
                    note=render(note, ctx.locale) if note else None,
                    note_code=note.code if note else None,
                    note_params=params_json(note.params) if note else None,
                    reasoning=sg.reasoning,
                )
            )
    return out


def assemble(
    ctx: ReviewContext,
    *,
    kpis: Sequence[KpiDefinition],
    results: Sequence[KpiResult],
    distribution: list[Distribution],
    findings: list[ReviewFinding],
    misses: list[MissOut],
    next_period: Period,
    suggestions: list[NextTarget],
) -> ReviewOut:
    """The review's response from its parts."""
    return ReviewOut(
        team=ctx.team_id,
        period=ctx.period.key,
        next_period=next_period.key,
        as_of=ctx.as_of,
        members=[{"rep_id": r, "name": ctx.names.get(r)} for r in ctx.reps],
        kpis=[
            ReviewKpi(
                kpi=k.key,
                names=k.names(),
                unit=k.unit,
                direction=k.direction,
                category=k.category,
            )
            for k in kpis
        ],
        rows=[row for r in results for row in r.rows],
        distribution=distribution,
        findings=findings,
        misses=misses,
        suggestions=suggestions,
    )


async def closes_and_adjustments(
    session: AsyncSession, *, ctx: ReviewContext, kpis: Sequence[KpiDefinition]
) -> tuple[list[str], list[ReviewAdjustment]]:
    """The period's closed months and, per additive KPI, what the team's actual holds of
    changes to closed months booked into the period (docs/KPIS.md, "Month close")."""
    book = close_book(ctx.tenant)
    if not book:
        return [], []
    closed = book.closed_months(ctx.period, ctx.known)
    out = []
    for kpi in kpis:
        if not is_additive(kpi):
            continue
        units, count = await rollups.adjusted_units(
            session,
            tenant_id=ctx.tenant.id,
            kpi=kpi.key,
            measure=0,
            start=ctx.period.start,
            end=ctx.end,
            team_ids=ctx.teams,
            known=ctx.known,
        )
        if count:
            value = units_value(kpi.formula, units)
            out.append(ReviewAdjustment(kpi=kpi.key, adjusted=round4(value), adjustments=count))
    return closed, out
