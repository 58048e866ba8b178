"""Suggestions (``GET /v1/targets/suggestions``): baseline, target and stretch from history.

The model is pure (:mod:`paceline.shared.kpi.planning.suggestions`); this module reads the
scope's history (monthly for sums and counts, the trailing 12 months and the same period
last year for ratios) and the calendar's working days for a week's share of its month.
Reviews (:mod:`paceline.api.reviews.service`) suggest the next period through
:func:`suggest_for`, which answers a :class:`Suggested`: the values, and the steps and flags
worded in one language (``locale``), their catalog codes and parameters beside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.planning.history import (
    History,
    additive,
    shift_years,
    tenant_today,
)
from paceline.api.planning.schemas import SuggestionFlagOut, SuggestionOut
from paceline.shared.db.context import tenant_calendar
from paceline.shared.db.models import Tenant
from paceline.shared.i18n import DEFAULT_LOCALE, params_json, render
from paceline.shared.kpi.calendar import WorkCalendar
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.periods import Period, period_of
from paceline.shared.kpi.planning.common import (
    DEFAULT_CAP,
    DEFAULT_MARGIN,
    DEFAULT_UPLIFT,
    currency_of,
    month_index,
    month_start,
    places_for,
)
from paceline.shared.kpi.planning.suggestions import Suggestion, suggest_additive, suggest_ratio
from paceline.shared.readmodel.org import require_known, team_ids
from paceline.shared.readmodel.progress import kpi_value_for
from paceline.shared.readmodel.scopes import Scope


@dataclass(frozen=True, slots=True)
class Suggested:
    """A suggestion with its words in one language: the values and the reasoning, each
    step as text (and its catalog code and parameters), each flag as a code and a message."""

    baseline: Decimal | None
    target: Decimal | None
    stretch: Decimal | None
    reasoning: dict[str, Any]
    steps: list[str]
    steps_code: list[str]
    steps_params: list[dict[str, Any]]
    flags: list[SuggestionFlagOut]
    model: Suggestion  # the pure suggestion (its steps and flags as catalog messages)


def worded(s: Suggestion, locale: str) -> Suggested:
    """A suggestion's steps and flags in ``locale``."""
    return Suggested(
        baseline=s.baseline,
        target=s.target,
        stretch=s.stretch,
        reasoning=s.reasoning,
        steps=[render(step, locale) for step in s.steps],
        steps_code=[step.code for step in s.steps],
        steps_params=[params_json(step.params) for step in s.steps],
        flags=[
            SuggestionFlagOut(
                code=f.code,
                message=render(f.message, locale),
                message_code=f.message.code,
                message_params=params_json(f.message.params),
            )
            for f in s.flags
        ],
        model=s,
    )


async def suggest_for(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    scope: Scope,
    period: Period,
    growth: Decimal | None,
    cap: Decimal,
    margin: Decimal,
    uplift: Decimal,
    today: date,
    calendar: WorkCalendar,
    history: History | None = None,
    locale: str = DEFAULT_LOCALE,
) -> tuple[Suggested, int]:
    """The suggestion for one KPI, scope and period from the scope's history (its words in
    ``locale``); and the history's cutoff month."""
    teams = await team_ids(session, tenant_id=tenant.id, scope=scope)
    history = history or History(
        session, tenant=tenant, kpi=kpi, scope=scope, teams=teams, calendar=calendar
    )
    cutoff = min(month_index(today), month_index(period.start))
    if not additive(kpi):
        trailing = await kpi_value_for(
            session,
            tenant=tenant,
            kpi=kpi,
            scope=scope,
            start=month_start(cutoff - 12),
            end=month_start(cutoff),
            calendar=calendar,
            teams=teams,
        )
        back = shift_years(period, 1, tenant.fiscal_year_start_month)
        last_year = await kpi_value_for(
            session,
            tenant=tenant,
            kpi=kpi,
            scope=scope,
            start=back.start,
            end=back.end,
            calendar=calendar,
            teams=teams,
        )
        ratio = suggest_ratio(
            trailing=trailing.value,
            trailing_sample=trailing.sample,
            last_year=last_year.value,
            growth=growth,
            direction=kpi.direction,
            unit=kpi.unit,
            cap=cap,
            uplift=uplift,
        )
        return worded(ratio, locale), cutoff
    monthly = await history.monthly(cutoff=cutoff)
    week_share = None
    if period.kind == "week":
        month = period_of(period.start + timedelta(days=3), "month")
        total = calendar.working_days(month.start, month.end)
        mine = calendar.working_days(period.start, period.end)
        week_share = Decimal(mine) / Decimal(total) if total else Decimal(1) / 4
    additive_suggestion = suggest_additive(
        history=monthly,
        cutoff=cutoff,
        period=period,
        week_share=week_share,
        growth=growth,
        direction=kpi.direction,
        places=places_for(kpi, tenant.currency),
        cap=cap,
        margin=margin,
        uplift=uplift,
        currency=currency_of(kpi, tenant.currency),
    )
    return worded(additive_suggestion, locale), cutoff


async def suggestions(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    scope: Scope,
    period: Period,
    growth: Decimal | None,
    cap: Decimal | None,
    margin: Decimal | None,
    uplift: Decimal | None,
    now: datetime,
    locale: str,
) -> SuggestionOut:
    """Baseline, target and stretch from history, with the reasoning and flags (their
    words in ``locale``)."""
    await require_known(session, tenant_id=tenant.id, scope=scope)
    calendar = await tenant_calendar(session, tenant=tenant)
    s, _cutoff = await suggest_for(
        session,
        tenant=tenant,
        kpi=kpi,
        scope=scope,
        period=period,
        growth=growth,
        cap=cap if cap is not None else DEFAULT_CAP,
        margin=margin if margin is not None else DEFAULT_MARGIN,
        uplift=uplift if uplift is not None else DEFAULT_UPLIFT,
        today=tenant_today(tenant, now),
        calendar=calendar,
        locale=locale,
    )
    return SuggestionOut(
        kpi=kpi.key,
        scope=str(scope),
        period=period.key,
        unit=kpi.unit,
        direction=kpi.direction,
        baseline=s.baseline,
        target=s.target,
        stretch=s.stretch,
        growth=growth,
        reasoning=s.reasoning,
        steps=s.steps,
        steps_code=s.steps_code,
        steps_params=s.steps_params,
        flags=s.flags,
    )
