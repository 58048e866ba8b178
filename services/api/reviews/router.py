"""``GET /v1/reviews``: a team's period review (复盘), JSON or CSV."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from paceline.api.deps import (
    AuthDep,
    LocaleDep,
    MomentDep,
    PeriodDep,
    TenantDep,
    check_visible,
)
from paceline.api.reviews import service, table
from paceline.api.reviews.schemas import ReviewOut
from paceline.shared.readmodel.org import require_known
from paceline.shared.readmodel.scopes import Scope
from paceline.shared.web.csv_out import ExcelQuery, csv_response
from paceline.shared.web.deps import ReadSessionDep, StateDep, within_reach

router = APIRouter(prefix="/v1", tags=["reviews"])


@router.get(
    "/reviews",
    response_model=ReviewOut,
    summary="A team's period review (复盘)",
    description=(
        "The attainment table (every member and the team on every reviewed KPI) and its "
        "distribution, the KPIs most reps missed (target too high?) or every rep beat (too "
        "low?), each missed revenue or deals target split into its drivers (revenue = quotes "
        "x win rate x average deal), and suggested targets for the next period with their "
        "reasoning. Findings, notes and the drivers' sources in the caller's language "
        "(`Accept-Language`, else the tenant's locale), each with its catalog code and "
        "parameters. JSON, or CSV (`Accept: text/csv` or `format=csv`) for people: one line "
        "per scope and KPI, the columns `" + ",".join(table.CSV_HEADER) + "` titled, and "
        "KPI names, tiers and statuses written, in the caller's language."
    ),
    responses={200: {"content": {"text/csv": {}}}},
)
@within_reach("scope")
async def get_review(
    request: Request,
    session: ReadSessionDep,
    state: StateDep,
    tenant: TenantDep,
    principal: AuthDep,
    locale: LocaleDep,
    team: Annotated[str, Query(min_length=1, max_length=200)],
    p: PeriodDep,
    moment: MomentDep,
    template: Annotated[
        str | None, Query(description="KPIs to review when no rep has targets (default role).")
    ] = None,
    growth: Annotated[
        Decimal | None,
        Query(ge=-1, le=100, description="Growth goal for the next period's suggestions."),
    ] = None,
    format: Literal["json", "csv"] | None = None,  # the query's name
    excel: ExcelQuery = None,
) -> Response:
    """The review of a team's period (as_of: default now, or the period's end if it has ended)."""
    at = moment.at if moment.given else service.default_as_of(p, tenant, state.clock.now())
    check_visible(principal, Scope("team", team), "team")
    await require_known(session, tenant_id=tenant.id, scope=Scope("team", team))
    out = await service.review(
        session,
        tenant=tenant,
        team=team,
        period=p,
        as_of=at,
        template_key=template,
        growth=growth,
        known=moment.known,
        locale=locale,
    )
    wants_csv = format == "csv" or (
        format is None and "text/csv" in request.headers.get("accept", "")
    )
    if wants_csv:
        return csv_response(
            table.csv_text(out, locale),
            excel=excel,
            locale=tenant.locale,
            for_people=True,
            filename=f"review-{team}-{p.key}.csv",
        )
    return Response(orjson.dumps(out.model_dump(mode="json")), media_type="application/json")
