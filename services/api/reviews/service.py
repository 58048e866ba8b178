"""The period review (复盘) of a team: attainment, distribution, findings, drivers, next targets.

* **Attainment table**: every member (reps in the team or its sub-teams during the
  period) on every reviewed KPI (those with rep targets for the period; without any, the
  role template's), plus the team's own row: actual, the target version in force at
  ``as_of`` (a target first set after ``as_of``: its first version), attainment (capped
  and raw, direction-aware), tier, met.
* **Distribution** per KPI: met / missed, tiers, attainment bands, min / median / max.
* **Findings**: a KPI that more than half of the scored reps missed ("target too high?")
  or that every scored rep met ("too low?"); at least two scored reps are needed.
* **Miss drivers**: a missed revenue target (a rep's or the team's own) splits into the
  quotes, win-rate and average-deal effects (revenue = quotes x win rate x average deal,
  win rate = deals won / quotes); a missed deals_won target into quotes and win rate.
  Planned drivers come from the scope's targets for deals_won and quotes where set, else
  from its own ratios over the 12 months before the period (else the team's, else this
  period's), and say so.
* **Next period**: suggestions from history (:mod:`paceline.api.planning.service`) for
  each reviewed KPI and scope, with a note from this period's result.

:func:`review` runs the steps: the reads in :mod:`.steps` (through the read model), the
pure rules in :mod:`.results`, the miss drivers in :mod:`.drivers`; the CSV form is in
:mod:`.table`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.reviews import steps
from paceline.api.reviews.drivers import miss_drivers
from paceline.api.reviews.results import distributions_and_findings
from paceline.api.reviews.schemas import ReviewOut
from paceline.api.scorecards.service import attainment_cap
from paceline.shared.db.models import Tenant
from paceline.shared.kpi.periods import Period


async def review(
    session: AsyncSession,
    *,
    tenant: Tenant,
    team: str,
    period: Period,
    as_of: datetime,
    template_key: str | None,
    growth: Decimal | None,
    known: datetime | None = None,
    locale: str = "zh-CN",
) -> ReviewOut:
    """The team's review of a period at ``as_of`` (see the module docstring); ``known``
    reads the facts as Paceline knew them then; its words are in ``locale``."""
    ctx = await steps.gather_team(
        session, tenant=tenant, team=team, period=period, as_of=as_of, known=known, locale=locale
    )
    kpis = await steps.reviewed_kpis(session, ctx=ctx, template_key=template_key)
    versions = await steps.targets_in_force(session, ctx=ctx, kpis=kpis)
    results = await steps.attainment_results(
        session, ctx=ctx, kpis=kpis, versions=versions, cap=attainment_cap(tenant)
    )
    distribution, findings = distributions_and_findings(results, locale)
    misses = await miss_drivers(session, ctx=ctx, rows=[row for r in results for row in r.rows])
    closed, adjustments = await steps.closes_and_adjustments(session, ctx=ctx, kpis=kpis)
    following = steps.following_period(ctx)
    suggestions = await steps.next_period_suggestions(
        session,
        ctx=ctx,
        period=following,
        kpis=kpis,
        results=results,
        findings=findings,
        growth=growth,
    )
    out = steps.assemble(
        ctx,
        kpis=kpis,
        results=results,
        distribution=distribution,
        findings=findings,
        misses=misses,
        next_period=following,
        suggestions=suggestions,
    )
    out.closed_months, out.adjustments = closed, adjustments
    return out


def default_as_of(period: Period, tenant: Tenant, now: datetime) -> datetime:
    """Now, or the period's end if it ended earlier (a review of a past period)."""
    return min(now, period.end_instant(ZoneInfo(tenant.timezone)))
