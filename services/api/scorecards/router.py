"""``GET /v1/scorecards`` and ``GET /v1/leaderboard``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from paceline.api.deps import TenantDep
from paceline.api.scorecards import service
from paceline.api.scorecards.schemas import LeaderboardOut, ScorecardOut
from paceline.shared.db.context import tenant_calendar
from paceline.shared.readmodel.evaluation import check_as_of
from paceline.shared.readmodel.org import require_known
from paceline.shared.readmodel.progress import parse_period_or_422
from paceline.shared.readmodel.scopes import parse_scope
from paceline.shared.web.deps import ReadSessionDep, StateDep

router = APIRouter(prefix="/v1", tags=["scorecards"])


@router.get("/scorecards", response_model=ScorecardOut, summary="A scorecard")
async def get_scorecard(
    session: ReadSessionDep,
    state: StateDep,
    tenant: TenantDep,
    scope: Annotated[str, Query(description="rep:ID, team:ID or company")],
    period: Annotated[str, Query(description="2026, 2026-Q4, 2026-11 or 2026-W48")],
    template: Annotated[
        str | None, Query(description="Role template (default: the rep's role).")
    ] = None,
    as_of: datetime | None = None,
) -> ScorecardOut:
    """Attainment per KPI, weighted score and tier for a rep, a team or the company."""
    at = as_of or state.clock.now()
    check_as_of(at)
    parsed = parse_scope(scope)
    p = parse_period_or_422(period, tenant)
    calendar = await tenant_calendar(session, tenant=tenant)
    if parsed.kind == "rep":
        assert parsed.id is not None
        await require_known(session, tenant_id=tenant.id, scope=parsed)
        cards = await service.rep_scorecards(
            session,
            tenant=tenant,
            rep_ids=[parsed.id],
            period=p,
            as_of=at,
            calendar=calendar,
            template_key=template,
        )
        return cards[0]
    return await service.team_scorecard(
        session,
        tenant=tenant,
        scope=parsed,
        period=p,
        as_of=at,
        calendar=calendar,
        template_key=template,
    )


@router.get("/leaderboard", response_model=LeaderboardOut, summary="A team's leaderboard")
async def get_leaderboard(
    session: ReadSessionDep,
    state: StateDep,
    tenant: TenantDep,
    team: Annotated[str, Query(min_length=1, max_length=200)],
    period: str,
    kpi: Annotated[str | None, Query(description="Rank by this KPI instead of the score.")] = None,
    template: str | None = None,
    as_of: datetime | None = None,
) -> LeaderboardOut:
    """The team's reps (and sub-teams' reps) ranked by weighted score or by one KPI."""
    at = as_of or state.clock.now()
    check_as_of(at)
    p = parse_period_or_422(period, tenant)
    calendar = await tenant_calendar(session, tenant=tenant)
    return await service.leaderboard(
        session,
        tenant=tenant,
        team=team,
        period=p,
        as_of=at,
        calendar=calendar,
        template_key=template,
        kpi_key=kpi,
    )
