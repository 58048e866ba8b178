"""``GET /v1/imports``, ``GET /v1/imports/{id}`` and ``GET /v1/imports/{id}/rows``.

Imports run where the event log is (``POST /v1/imports`` on the ingest service, or
``paceline import``); their reports are stored in the database and read here.
"""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from paceline.api.deps import LocaleDep
from paceline.shared.db import import_runs as repo
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.errors import NotFound
from paceline.shared.i18n import msg
from paceline.shared.import_report import ImportOut, RowIssue, RowProblem, issue_out, run_out
from paceline.shared.web.csv_out import ExcelQuery, csv_lines, csv_response
from paceline.shared.web.deps import ReadPrincipal, ReadSessionDep, StateDep
from paceline.shared.web.pagination import (
    CursorQuery,
    int_cursor,
    next_page_headers,
    page_limit,
    set_next_page,
)

router = APIRouter(prefix="/v1", tags=["imports"])


MAX_LINE = 2**31 - 1  # an INTEGER column


class RowIssuesPage(BaseModel):
    """A page of an import's rejected and repeated rows, in line order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "import_id": 1,
                    "rows": [
                        {
                            "line": 3,
                            "status": "rejected",
                            "event_id": "D-1002",
                            "errors": [
                                {"field": "occurred_at", "reason": "not a date: '2025/13/01'"}
                            ],
                        }
                    ],
                    "next_after_line": 3,
                    "next_cursor": "3",
                }
            ]
        }
    )

    import_id: int
    rows: list[RowIssue]
    next_after_line: int | None
    next_cursor: str | None = Field(
        default=None, description="The cursor of the next page (the same line as a string)."
    )


@router.get("/imports", response_model=list[ImportOut], summary="Import runs")
async def list_imports(
    request: Request,
    response: Response,
    principal: ReadPrincipal,
    session: ReadSessionDep,
    state: StateDep,
    locale: LocaleDep,
    name: str | None = None,
    cursor: CursorQuery = None,
    before_id: Annotated[
        int | None,
        Query(
            ge=0,
            le=2**63 - 1,
            deprecated=True,
            description="The last id of the previous page (older `cursor`).",
        ),
    ] = None,
    limit: Annotated[int, page_limit(500)] = 50,
) -> list[ImportOut]:
    """The tenant's import runs, newest first (counts and whether scoring applied them). A
    page is a JSON array; the next page's cursor is in `X-Next-Cursor` and `Link`."""
    runs = await repo.list_runs(
        session,
        tenant_id=principal.tenant_id,
        name=name,
        before_id=int_cursor(cursor, before_id),
        limit=limit + 1,
    )
    set_next_page(request, response, str(runs[limit - 1].id) if len(runs) > limit else None)
    runs = runs[:limit]
    applied = await repo.applied_positions(
        session, group_id=state.settings.consumer_group, topic=state.settings.topic
    )
    return [run_out(r, applied=repo.is_applied(r, applied), locale=locale) for r in runs]


@router.get("/imports/{import_id}", response_model=ImportOut, summary="An import's report")
async def get_import(
    import_id: int,
    principal: ReadPrincipal,
    session: ReadSessionDep,
    state: StateDep,
    locale: LocaleDep,
) -> ImportOut:
    """A run with its counts, warnings, first 1,000 row issues, and ``applied``."""
    run = await repo.get_run(session, tenant_id=principal.tenant_id, run_id=import_id)
    if run is None:
        raise NotFound(msg("exports.import.not_found", id=str(import_id)))
    applied = await repo.applied_positions(
        session, group_id=state.settings.consumer_group, topic=state.settings.topic
    )
    rows = await repo.issues(session, tenant_id=principal.tenant_id, run_id=run.id, limit=1000)
    return run_out(run, issues=rows, applied=repo.is_applied(run, applied), locale=locale)


@router.get(
    "/imports/{import_id}/rows",
    response_model=RowIssuesPage,
    summary="An import's rejected and repeated rows",
    responses={200: {"content": {"text/csv": {}}}},
)
async def get_import_rows(
    import_id: int,
    request: Request,
    principal: ReadPrincipal,
    session: ReadSessionDep,
    locale: LocaleDep,
    status: Literal["rejected", "duplicate"] | None = None,
    cursor: CursorQuery = None,
    after_line: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_LINE,
            deprecated=True,
            description="The next_after_line of the previous page (older `cursor`).",
        ),
    ] = None,
    limit: Annotated[int, page_limit(10_000)] = 1000,
    format: Literal["json", "csv"] | None = None,  # the query's name
    excel: ExcelQuery = None,
) -> Response:
    """Each row with its line, field and reason; CSV (``Accept: text/csv``) has one line per
    problem: ``line,status,event_id,field,reason``."""
    run = await repo.get_run(session, tenant_id=principal.tenant_id, run_id=import_id)
    if run is None:
        raise NotFound(msg("exports.import.not_found", id=str(import_id)))
    rows = await repo.issues(
        session,
        tenant_id=principal.tenant_id,
        run_id=run.id,
        status=status,
        after_line=int_cursor(cursor, after_line, maximum=MAX_LINE),
        limit=limit + 1,
    )
    next_after = rows[limit - 1].line if len(rows) > limit else None
    rows = rows[:limit]
    headers = next_page_headers(request, None if next_after is None else str(next_after))
    if next_after is not None:
        headers["X-Next-After-Line"] = str(next_after)
    wants_csv = format == "csv" or (
        format is None and "text/csv" in request.headers.get("accept", "")
    )
    issues = [issue_out(r, locale) for r in rows]
    if wants_csv:
        # Through csv_out: an event id or a reason quoting a cell is the file's text. The
        # reasons in the caller's language; the header's names are the stable columns.
        text = csv_lines(
            [
                ["line", "status", "event_id", "field", "reason"],
                *(
                    [i.line, i.status, i.event_id or "", e.field, e.reason]
                    for i in issues
                    for e in i.errors or [RowProblem(field="", reason="")]
                ),
            ]
        )
        tenant = await tenant_repo.get_tenant(session, tenant_id=principal.tenant_id)
        return csv_response(
            text,
            excel=excel,
            locale=tenant.locale if tenant is not None else None,
            for_people=True,
            headers=headers,
        )
    page = RowIssuesPage(
        import_id=run.id,
        rows=issues,
        next_after_line=next_after,
        next_cursor=None if next_after is None else str(next_after),
    )
    return Response(
        orjson.dumps(page.model_dump(mode="json")), media_type="application/json", headers=headers
    )
