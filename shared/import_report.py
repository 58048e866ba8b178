"""The report of a history import, as both the ingest (POST) and api (GET) services answer it.

Its words come from the catalogs (domain ``ingest``, ``imports.*``): a row's problems are
stored with their code and parameters, the run's warnings and error as JSON text
(:func:`stored_text`), and rendered in the reader's language when answered.

The import runs where the event log is (the ingest service, or the CLI); its report is
stored in the database (:mod:`paceline.shared.db.models_import_runs`) and read back by the
api service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from paceline.shared.db.models_import_runs import ImportRowIssue, ImportRun
from paceline.shared.i18n import (
    DEFAULT_LOCALE,
    Msg,
    from_json,
    msg,
    params_json,
    read_stored,
    render,
    stored,
    to_json,
)

IMPORT_SOURCE_PREFIX = "import:"


def import_source(name: str) -> str:
    """The source of an import's events: ``import:<name>`` (live sources have no colon)."""
    return f"{IMPORT_SOURCE_PREFIX}{name}"


class RowProblem(BaseModel):
    """A field of a row and what is wrong with it: the reason in the caller's language,
    its catalog code and parameters for machines."""

    field: str
    reason: str
    reason_code: str = "imports.text"
    reason_params: dict[str, Any] = {}


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
                    "warning_codes": [],
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
                    "error_code": None,
                    "error_params": None,
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
    warnings: list[str] = Field(description="In the caller's language (see warning_codes).")
    warning_codes: list[dict[str, Any]] = Field(
        default=[],
        description="The warnings' catalog codes and parameters ({code, params}), in order.",
    )
    mapping: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None
    created_by: str
    error: str | None = None
    error_code: str | None = None
    error_params: dict[str, Any] | None = None
    applied: bool | None = Field(
        default=None,
        description="Whether scoring has applied every event this run appended (GET only).",
    )
    issues: list[RowIssue] = Field(
        default=[],
        description="Rejected and repeated rows (at most 1,000 here; all of them at "
        "GET /v1/imports/{id}/rows).",
    )


def problem(field: str, reason: Msg) -> dict[str, Any]:
    """A row's problem as the import stores it: the field, the reason's code and
    parameters, and its English text (for logs and older readers)."""
    return {
        "field": field,
        "reason": str(reason),
        "code": reason.code,
        "params": params_json(reason.params),
    }


def msg_of_text(text: str) -> Msg:
    """Text without a catalog code (an older row), as a message that shows it as it is."""
    return msg("imports.text", text=text)


def stored_text(message: Msg) -> str:
    """A message as a text column keeps it (JSON: its code and parameters)."""
    return stored(message)


def read_text(text: str) -> Msg:
    """A message a text column keeps (:func:`stored_text`; English text of older rows)."""
    return read_stored(text, plain="imports.text")


def _problem_out(stored: dict[str, Any], locale: str) -> RowProblem:
    code = stored.get("code")
    reason = (
        from_json({"code": code, "params": stored.get("params") or {}})
        if isinstance(code, str)
        else msg_of_text(str(stored.get("reason", "")))
    )
    return RowProblem(
        field=str(stored.get("field", "")),
        reason=render(reason, locale),
        reason_code=reason.code,
        reason_params=params_json(reason.params),
    )


def issue_out(row: ImportRowIssue, locale: str = DEFAULT_LOCALE) -> RowIssue:
    """A stored row issue, its reasons in ``locale``."""
    return RowIssue(
        line=row.line,
        status=row.status,  # written by the import only
        event_id=row.event_id,
        errors=[_problem_out(e, locale) for e in row.errors],
        row=row.row,
    )


def run_out(
    run: ImportRun,
    *,
    issues: list[ImportRowIssue] | None = None,
    applied: bool | None = None,
    locale: str = DEFAULT_LOCALE,
) -> ImportOut:
    """A stored import run (with some of its row issues), its words in ``locale``."""
    warnings = [read_text(w) for w in run.warnings or []]
    error = read_text(run.error) if run.error is not None else None
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
        warnings=[render(w, locale) for w in warnings],
        warning_codes=[to_json(w) for w in warnings],
        mapping=dict(run.mapping or {}),
        started_at=run.started_at,
        finished_at=run.finished_at,
        created_by=run.created_by,
        error=render(error, locale) if error is not None else None,
        error_code=error.code if error is not None else None,
        error_params=params_json(error.params) if error is not None else None,
        applied=applied,
        issues=[issue_out(i, locale) for i in issues or []],
    )
