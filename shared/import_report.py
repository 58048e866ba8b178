"""The report of a history import, as both the ingest (POST) and api (GET) services answer it.

The import runs where the event log is (the ingest service, or the CLI); its report is
stored in the database (:mod:`paceline.shared.db.models_import_runs`) and read back by the
api service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from paceline.shared.db.models_import_runs import ImportRowIssue, ImportRun

IMPORT_SOURCE_PREFIX = "import:"


def import_source(name: str) -> str:
    """The source of an import's events: ``import:<name>`` (live sources have no colon)."""
    return f"{IMPORT_SOURCE_PREFIX}{name}"


class RowProblem(BaseModel):
    """A field of a row and what is wrong with it."""

    field: str
    reason: str


class RowIssue(BaseModel):
    """A row the import rejected, or skipped as a repeat of an earlier row."""

    line: int = Field(description="1-based line in the file (the CSV header is line 1).")
    status: Literal["rejected", "duplicate"]
    event_id: str | None = None
    errors: list[RowProblem] = []
    row: dict[str, Any] = {}


class ImportOut(BaseModel):
    """An import run: counts, warnings, and (in the POST answer) its rejected rows."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "name": "crm-2025",
                    "source": "import:crm-2025",
                    "format": "csv",
                    "file_name": None,
                    "sha256": "8ab835a6801df4df0aadda096df87fddbcae270e9f6ae5cae11d209d909bf175",
                    "status": "completed",
                    "rows_total": 1,
                    "rows_accepted": 1,
                    "rows_unchanged": 0,
                    "rows_duplicate": 0,
                    "rows_rejected": 0,
                    "warnings": [],
                    "mapping": {
                        "type": "deal",
                        "columns": {
                            "Deal ID": "event_id",
                            "Owner": "rep_id",
                            "Closed": "occurred_at",
                        },
                        "constants": {"stage": "won", "currency": "CNY"},
                        "date_formats": {"occurred_at": "%Y/%m/%d"},
                    },
                    "started_at": "2026-12-03T02:00:00Z",
                    "finished_at": "2026-12-03T02:00:00Z",
                    "created_by": "key:baa224dad7d595a1",
                    "error": None,
                    "applied": None,
                    "issues": [],
                }
            ]
        }
    )

    id: int
    name: str
    source: str
    format: str
    file_name: str | None
    sha256: str
    status: Literal["running", "completed", "failed"]
    rows_total: int
    rows_accepted: int = Field(description="New events appended to the event log.")
    rows_unchanged: int = Field(description="Rows already imported before: nothing to do.")
    rows_duplicate: int = Field(description="Rows repeating an earlier row of the file.")
    rows_rejected: int
    warnings: list[str]
    mapping: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None
    created_by: str
    error: str | None = None
    applied: bool | None = Field(
        default=None,
        description="Whether scoring has applied every event this run appended (GET only).",
    )
    issues: list[RowIssue] = Field(
        default=[],
        description="Rejected and repeated rows (at most 1,000 here; all of them at "
        "GET /v1/imports/{id}/rows).",
    )


def issue_out(row: ImportRowIssue) -> RowIssue:
    """A stored row issue."""
    return RowIssue(
        line=row.line,
        status=row.status,  # written by the import only
        event_id=row.event_id,
        errors=[RowProblem(**e) for e in row.errors],
        row=row.row,
    )


def run_out(
    run: ImportRun, *, issues: list[ImportRowIssue] | None = None, applied: bool | None = None
) -> ImportOut:
    """A stored import run (with some of its row issues)."""
    return ImportOut(
        id=run.id,
        name=run.name,
        source=run.source,
        format=run.format,
        file_name=run.file_name,
        sha256=run.sha256,
        status=run.status,  # written by the import only
        rows_total=run.rows_total,
        rows_accepted=run.rows_accepted,
        rows_unchanged=run.rows_unchanged,
        rows_duplicate=run.rows_duplicate,
        rows_rejected=run.rows_rejected,
        warnings=list(run.warnings or []),
        mapping=dict(run.mapping or {}),
        started_at=run.started_at,
        finished_at=run.finished_at,
        created_by=run.created_by,
        error=run.error,
        applied=applied,
        issues=[issue_out(i) for i in issues or []],
    )
