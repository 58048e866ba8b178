"""``GET /v1/facts`` (BI export, JSON or CSV) and ``GET /v1/facts/records`` (drill-down)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from paceline.api.deps import AuthDep, MomentDep, TenantDep, check_visible
from paceline.api.facts import service
from paceline.shared.db.context import tenant_calendar
from paceline.shared.errors import FieldError, InvalidInput
from paceline.shared.i18n import msg
from paceline.shared.readmodel.progress import kpi_or_404
from paceline.shared.readmodel.scopes import parse_scope
from paceline.shared.web.csv_out import ExcelQuery, csv_response, csv_text
from paceline.shared.web.deps import ReadSessionDep, within_reach
from paceline.shared.web.pagination import CursorQuery, next_page_headers, page_limit

router = APIRouter(prefix="/v1", tags=["facts"])

MAX_DAYS = 3 * 366


class FactRow(BaseModel):
    """One group's value. Group columns appear when grouped by them."""

    kpi: str
    team: str | None = None
    rep_id: str | None = None
    day: date | None = None
    value: str | None
    numerator: str | None
    denominator: str | None
    sample: int


class FactsPage(BaseModel):
    """A page of facts."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kpi": "revenue",
                    "from": "2026-11-01",
                    "to": "2026-11-30",
                    "group_by": ["rep", "day"],
                    "rows": [
                        {
                            "kpi": "revenue",
                            "rep_id": "r-001",
                            "day": "2026-11-11",
                            "value": "120000.0000",
                            "numerator": "120000.0000",
                            "denominator": None,
                            "sample": 1,
                        },
                        {
                            "kpi": "revenue",
                            "rep_id": "r-001",
                            "day": "2026-11-12",
                            "value": "220000.0000",
                            "numerator": "220000.0000",
                            "denominator": None,
                            "sample": 1,
                        },
                    ],
                    "next_cursor": "WyJyLTAwMSIsIjIwMjYtMTEtMTIiXQ",
                }
            ]
        }
    )

    kpi: str
    from_: date = Field(alias="from")
    to: date
    group_by: list[str]
    rows: list[FactRow]
    next_cursor: str | None


class DrilldownPage(BaseModel):
    """A page of the records behind a number."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kpi": "revenue",
                    "scope": "company",
                    "from": "2026-11-01",
                    "to": "2026-11-30",
                    "records": [
                        {
                            "type": "deal",
                            "record_id": "deal-1-v1",
                            "rep_id": "r-001",
                            "version": "t20261111T021500000000",
                            "shares": [
                                {
                                    "measure": 0,
                                    "day": "2026-11-11",
                                    "value": "120000.0000",
                                    "member": None,
                                }
                            ],
                            "event": {
                                "event_id": "deal-1-v1",
                                "type": "deal",
                                "occurred_at": "2026-11-11T10:15:00+08:00",
                                "rep_id": "r-001",
                                "customer_id": "c-1",
                                "deleted": False,
                                "amount": "120000.00",
                                "currency": "CNY",
                                "stage": "won",
                                "attributes": {},
                            },
                            "source": "api",
                            "received_at": "2026-11-26T02:00:00+00:00",
                        }
                    ],
                    "next_cursor": "WyJkZWFsIiwiZGVhbC0xLXYxIl0",
                }
            ]
        }
    )

    kpi: str
    scope: str
    from_: date = Field(alias="from")
    to: date
    records: list[dict[str, Any]]
    next_cursor: str | None


def _span(start: date, to: date) -> tuple[date, date]:
    if to < start:
        raise InvalidInput(
            msg("facts.to_before_from"),
            fields=[FieldError("to", msg("facts.not_before_from"))],
        )
    if (to - start).days >= MAX_DAYS:
        raise InvalidInput(
            msg("facts.span_too_long"),
            fields=[FieldError("to", msg("facts.at_most_days", days=MAX_DAYS))],
        )
    return start, to + timedelta(days=1)


def _wants_csv(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "csv"
    return "text/csv" in request.headers.get("accept", "")


@router.get(
    "/facts",
    response_model=FactsPage,
    summary="KPI facts for BI tools (JSON or CSV)",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
@within_reach("scope")
async def get_facts(
    request: Request,
    session: ReadSessionDep,
    tenant: TenantDep,
    principal: AuthDep,
    kpi: Annotated[str, Query(min_length=1, max_length=64)],
    from_: Annotated[date, Query(alias="from", description="First day (tenant-local).")],
    to: Annotated[date, Query(description="Last day, inclusive.")],
    moment: MomentDep,
    group_by: Annotated[
        str, Query(description="Any of team, rep, day, comma-separated.")
    ] = "rep,day",
    scope: Annotated[str, Query(description="company, team:ID or rep:ID")] = "company",
    cursor: CursorQuery = None,
    limit: Annotated[int, page_limit(5000)] = 1000,
    format: Annotated[str | None, Query(pattern="^(json|csv)$")] = None,  # query name
    excel: ExcelQuery = None,
) -> Response:
    """Per-group values with numerator, denominator and sample, paginated by cursor.

    Ratio KPIs come with numerator and denominator so BI tools can re-aggregate them
    correctly (sum each, then divide) instead of averaging ratios.
    """
    definition = await kpi_or_404(session, tenant.id, kpi)
    start, end = _span(from_, to)
    groups = service.parse_group_by(group_by)
    rows, next_cursor = await service.export_facts(
        session,
        tenant=tenant,
        kpi=definition,
        scope=check_visible(principal, parse_scope(scope)),
        start=start,
        end=end,
        group_by=groups,
        cursor=cursor,
        limit=limit,
        calendar=await tenant_calendar(session, tenant=tenant),
        known=moment.known,
    )
    headers = next_page_headers(request, next_cursor)
    if _wants_csv(request, format):
        columns = ["kpi"] + [
            c
            for c in ("team", "rep_id", "day")
            if {"team": "team", "rep_id": "rep", "day": "day"}[c] in groups
        ]
        columns += ["value", "numerator", "denominator", "sample"]
        text = csv_text(columns, rows)
        return csv_response(
            text, excel=excel, locale=tenant.locale, for_people=False, headers=headers
        )
    body = {
        "kpi": definition.key,
        "from": from_.isoformat(),
        "to": to.isoformat(),
        "group_by": groups,
        "rows": rows,
        "next_cursor": next_cursor,
    }
    return JSONResponse(body, headers=headers)


@router.get(
    "/facts/records",
    response_model=DrilldownPage,
    summary="Drill down: the records behind a number",
)
@within_reach("scope")
async def get_fact_records(
    request: Request,
    session: ReadSessionDep,
    tenant: TenantDep,
    principal: AuthDep,
    kpi: Annotated[str, Query(min_length=1, max_length=64)],
    from_: Annotated[date, Query(alias="from")],
    to: Annotated[date, Query(description="Last day, inclusive.")],
    moment: MomentDep,
    scope: str = "company",
    cursor: CursorQuery = None,
    limit: Annotated[int, page_limit(500)] = 100,
) -> JSONResponse:
    """The records (latest versions) whose contributions make up the KPI, with their shares."""
    definition = await kpi_or_404(session, tenant.id, kpi)
    start, end = _span(from_, to)
    parsed = check_visible(principal, parse_scope(scope))
    records, next_cursor = await service.drilldown(
        session,
        tenant=tenant,
        kpi=definition,
        scope=parsed,
        start=start,
        end=end,
        cursor=cursor,
        limit=limit,
        known=moment.known,
    )
    return JSONResponse(
        {
            "kpi": definition.key,
            "scope": str(parsed),
            "from": from_.isoformat(),
            "to": to.isoformat(),
            "records": records,
            "next_cursor": next_cursor,
        },
        headers=next_page_headers(request, next_cursor),
    )
