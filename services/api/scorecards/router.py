"""``GET /v1/scorecards`` and ``GET /v1/leaderboard``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from paceline.api.deps import AuthDep, MomentDep, PeriodDep, RequiredScopeDep, TenantDep
from paceline.api.scorecards import service
from paceline.api.scorecards.schemas import LeaderboardOut, ScorecardOut
from paceline.shared.db.context import tenant_calendar
from paceline.shared.errors import FieldError, Forbidden
from paceline.shared.i18n import msg
from paceline.shared.readmodel.org import require_known
from paceline.shared.web.deps import ReadSessionDep, within_reach

router = APIRouter(prefix="/v1", tags=["scorecards"])


@router.get("/scorecards", response_model=ScorecardOut, summary="A scorecard")
@within_reach("scope")
async def get_scorecard(
    session: ReadSessionDep,
    tenant: TenantDep,
    parsed: RequiredScopeDep,
    p: PeriodDep,
    moment: MomentDep,
    template: Annotated[
        str | None, Query(description="Role template (default: the rep's role).")
    ] = None,
) -> ScorecardOut:
    """Attainment per KPI, weighted score and tier for a rep, a team or the company."""
    calendar = await tenant_calendar(session, tenant=tenant)
    if parsed.kind == "rep":
        assert parsed.id is not None
        await require_known(session, tenant_id=tenant.id, scope=parsed)
        cards = await service.rep_scorecards(
            session,
            tenant=tenant,
            rep_ids=[parsed.id],
            period=p,
            as_of=moment.at,
            calendar=calendar,
            template_key=template,
            known=moment.known,
        )
        return cards[0]
    return await service.team_scorecard(
        session,
        tenant=tenant,
        scope=parsed,
        period=p,
        as_of=moment.at,
        calendar=calendar,
        template_key=template,
        known=moment.known,
    )


@router.get("/leaderboard", response_model=LeaderboardOut, summary="A team's leaderboard")
@within_reach("filtered")
async def get_leaderboard(
    session: ReadSessionDep,
    tenant: TenantDep,
    p: PeriodDep,
    moment: MomentDep,
    team: Annotated[str, Query(min_length=1, max_length=200)],
    principal: AuthDep,
    kpi: Annotated[str | None, Query(description="Rank by this KPI instead of the score.")] = None,
    template: str | None = None,
) -> LeaderboardOut:
    """The team's reps (and sub-teams' reps) ranked by weighted score or by one KPI; a
    manager's teams, or a rep's own team (unless the tenant keeps reps to their own
    figures: ``rep_sees_team``)."""
    if not principal.sees(f"team:{team}"):
        raise Forbidden(
            msg("scorecards.team_outside", team=team),
            fields=[FieldError("team", msg("scorecards.outside_your_teams"))],
        )
    calendar = await tenant_calendar(session, tenant=tenant)
    return await service.leaderboard(
        session,
        tenant=tenant,
        team=team,
        period=p,
        as_of=moment.at,
        calendar=calendar,
        template_key=template,
        kpi_key=kpi,
        known=moment.known,
    )
