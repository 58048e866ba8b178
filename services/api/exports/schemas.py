"""Export shapes: the stable column lists and the JSON page."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "period": "2026-12",
                    "as_of": "2026-12-03T02:00:00Z",
                    "columns": [
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
                    ],
                    "rows": [
                        {
                            "period": "2026-12",
                            "kpi": "revenue",
                            "scope": "rep:r-001",
                            "as_of": "2026-12-03T02:00:00+00:00",
                            "through_day": "2026-12-03",
                            "unit": "currency",
                            "currency": "CNY",
                            "target_id": 1,
                            "target_version": 2,
                            "actual": "0.0000",
                            "numerator": "0.0000",
                            "denominator": None,
                            "sample": 0,
                            "target": "550000.0000",
                            "baseline": None,
                            "stretch": None,
                            "expected": "75000.0000",
                            "expected_method": "working_days",
                            "elapsed_share": "0.1364",
                            "working_days_elapsed": 3,
                            "working_days_total": 22,
                            "pace": "0.0000",
                            "projection_linear": "0.0000",
                            "projection_seasonal": None,
                            "status": "at_risk",
                            "closed_months": None,
                            "adjusted": None,
                            "adjustments": 0,
                        }
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )

    period: str
    as_of: datetime
    columns: list[str]
    rows: list[dict[str, str | int | None]] = Field(
        description="Decimals as strings with four places, counts as integers."
    )
    next_cursor: str | None = Field(
        description="Pass as cursor for the next page; null at the end."
    )
