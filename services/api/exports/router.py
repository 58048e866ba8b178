"""``GET /v1/exports/progress`` and ``GET /v1/exports/scorecards``: BI tables, JSON or CSV.

Both page with ``cursor`` (``next_cursor`` in the JSON, ``X-Next-Cursor`` and
``Link: <...>; rel="next"`` headers in both formats). CSV (``format=csv`` or ``Accept:
text/csv``) has a header line with the stable column names, then one line per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from paceline.api.deps import AuthDep, MomentDep, PeriodDep, TenantDep, narrowed
from paceline.api.exports import service
from paceline.api.exports.schemas import PROGRESS_COLUMNS, SCORECARD_COLUMNS, ExportPage
from paceline.shared.web.csv_out import ExcelQuery, csv_response, csv_text
from paceline.shared.web.deps import ReadSessionDep, within_reach
from paceline.shared.web.pagination import CursorQuery, next_page_headers, page_limit

router = APIRouter(prefix="/v1/exports", tags=["exports"])

CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


def _answer(
    request: Request,
    *,
    fmt: str | None,
    columns: Sequence[str],
    rows: list[dict[str, Any]],
    next_cursor: str | None,
    period: str,
    as_of: datetime,
    excel: bool | None,
    locale: str,
) -> Response:
    # The next page reads at the same instant as this one.
    headers = next_page_headers(request, next_cursor, pin={"as_of": as_of.isoformat()})
    wants_csv = fmt == "csv" or (fmt is None and "text/csv" in request.headers.get("accept", ""))
    if wants_csv:
        text = csv_text(columns, rows)
        return csv_response(text, excel=excel, locale=locale, for_people=False, headers=headers)
    body = ExportPage(
        period=period, as_of=as_of, columns=list(columns), rows=rows, next_cursor=next_cursor
    )
    return JSONResponse(body.model_dump(mode="json"), headers=headers)


@router.get(
    "/progress",
    response_model=ExportPage,
    summary="Progress of every target of a period (BI; JSON or CSV)",
    responses=CSV_RESPONSE,
)
@within_reach("scope")
async def export_progress(
    request: Request,
    session: ReadSessionDep,
    tenant: TenantDep,
    principal: AuthDep,
    p: PeriodDep,
    moment: MomentDep,
    kpi: Annotated[str | None, Query(max_length=64)] = None,
    scope: Annotated[str | None, Query(description="company, team:ID or rep:ID")] = None,
    cursor: CursorQuery = None,
    limit: Annotated[int, page_limit(500)] = 200,
    format: Literal["json", "csv"] | None = None,  # the query's name
    excel: ExcelQuery = None,
) -> Response:
    """One row per target: actual, target, expected, pace, projections, status at as_of."""
    rows, next_cursor = await service.progress_rows(
        session,
        tenant=tenant,
        period=p,
        kpi=kpi,
        scope=narrowed(principal, scope, "scope", "scope"),
        as_of=moment.at,
        cursor=cursor,
        limit=limit,
        known=moment.known,
    )
    return _answer(
        request,
        fmt=format,
        columns=PROGRESS_COLUMNS,
        rows=rows,
        next_cursor=next_cursor,
        period=p.key,
        as_of=moment.at,
        excel=excel,
        locale=tenant.locale,
    )


@router.get(
    "/scorecards",
    response_model=ExportPage,
    summary="Scorecards of every rep of a period (BI; JSON or CSV)",
    responses=CSV_RESPONSE,
)
@within_reach("scope")
async def export_scorecards(
    request: Request,
    session: ReadSessionDep,
    tenant: TenantDep,
    principal: AuthDep,
    p: PeriodDep,
    moment: MomentDep,
    team: Annotated[
        str | None, Query(max_length=200, description="Only this team's reps (with sub-teams).")
    ] = None,
    template: Annotated[
        str | None, Query(max_length=64, description="Score everyone with this role template.")
    ] = None,
    cursor: CursorQuery = None,
    limit: Annotated[int, page_limit(200)] = 50,
    format: Literal["json", "csv"] | None = None,  # the query's name
    excel: ExcelQuery = None,
) -> Response:
    """One row per rep and KPI of the rep's template, with the rep's score on each row."""
    rows, next_cursor = await service.scorecard_rows(
        session,
        tenant=tenant,
        period=p,
        team=narrowed(principal, team, "team", "team"),
        template=template,
        as_of=moment.at,
        cursor=cursor,
        limit=limit,
        known=moment.known,
    )
    return _answer(
        request,
        fmt=format,
        columns=SCORECARD_COLUMNS,
        rows=rows,
        next_cursor=next_cursor,
        period=p.key,
        as_of=moment.at,
        excel=excel,
        locale=tenant.locale,
    )
