"""Export shapes: the stable column lists and the JSON page."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pydantic import BaseModel, Field

# The column names are a contract with BI tools: add new ones at the end, never rename.
PROGRESS_COLUMNS: Final = (
    "period",
    "kpi",
    "scope",
    "as_of",
    "through_day",
    "unit",
    "currency",
    "target_id",
    "target_version",
    "actual",
    "numerator",
    "denominator",
    "sample",
    "target",
    "baseline",
    "stretch",
    "expected",
    "expected_method",
    "elapsed_share",
    "working_days_elapsed",
    "working_days_total",
    "pace",
    "projection_linear",
    "projection_seasonal",
    "status",
    "closed_months",
    "adjusted",
    "adjustments",
)
SCORECARD_COLUMNS: Final = (
    "period",
    "as_of",
    "rep_id",
    "rep_name",
    "team",
    "template",
    "kpi",
    "category",
    "unit",
    "weight",
    "actual",
    "target",
    "baseline",
    "stretch",
    "attainment",
    "tier",
    "status",
    "sample",
    "score",
    "score_tier",
    "coverage",
)


class ExportPage(BaseModel):
    """A page of export rows: every row has every column (null where there is no value)."""

    period: str
    as_of: datetime
    columns: list[str]
    rows: list[dict[str, str | int | None]] = Field(
        description="Decimals as strings with four places, counts as integers."
    )
    next_cursor: str | None = Field(
        description="Pass as cursor for the next page; null at the end."
    )
