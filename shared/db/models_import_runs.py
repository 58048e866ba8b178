"""Models of history imports: each run, and the rows it did not take (with the reasons).

An import run turns the rows of a CSV or NDJSON file into canonical events and appends
them to the event log (source ``import:<name>``). The run keeps its counts, the mapping it
used, the file's digest and the log positions its appends reached (so readers can tell
when scoring has applied all of it); every rejected or repeated row is kept with its line
number, field and reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from paceline.shared.db.base import Base, BigId, JSONType, UTCDateTime
from paceline.shared.db.models import EXT_ID, TENANT_ID


class ImportRun(Base):
    """One import of a history file: what it read, appended, skipped and rejected."""

    __tablename__ = "import_runs"
    __table_args__ = (Index("ix_import_runs_tenant_started", "tenant_id", "started_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID))
    name: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))  # import:<name>
    format: Mapped[str] = mapped_column(String(8))  # csv | ndjson
    file_name: Mapped[str | None] = mapped_column(String(400), nullable=True)
    sha256: Mapped[str] = mapped_column(String(64))
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # completed | failed (the log refused an append: re-run it, nothing counts twice)
    status: Mapped[str] = mapped_column(String(16))
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_accepted: Mapped[int] = mapped_column(Integer, default=0)  # new events appended
    rows_unchanged: Mapped[int] = mapped_column(Integer, default=0)  # imported before
    rows_duplicate: Mapped[int] = mapped_column(Integer, default=0)  # repeated in the file
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # partition -> the log's next offset after this run's appends
    positions: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    created_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class ImportRowIssue(Base):
    """A row an import rejected (with each field and reason) or skipped as a repeat."""

    __tablename__ = "import_row_issues"
    __table_args__ = (Index("ix_import_row_issues_run_line", "import_id", "line"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id"))
    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID))
    line: Mapped[int] = mapped_column(Integer)  # 1-based line of the file (CSV header = 1)
    status: Mapped[str] = mapped_column(String(16))  # rejected | duplicate
    event_id: Mapped[str | None] = mapped_column(String(EXT_ID), nullable=True)
    errors: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    row: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
