"""Progress shapes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["ahead", "on_track", "behind", "at_risk", "no_target", "insufficient_data"]


class PeriodOut(BaseModel):
    """A period and its bounds (end exclusive)."""

    key: str
    kind: Literal["year", "quarter", "month", "week"]
    start: date
    end: date


class ProgressOut(BaseModel):
    """Where a KPI stands for a scope and period at ``as_of``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kpi": "revenue",
                    "names": {"zh-CN": "销售额", "en": "Revenue"},
                    "unit": "currency",
                    "currency": "CNY",
                    "direction": "higher",
                    "scope": "rep:r-001",
                    "period": {
                        "key": "2026-11",
                        "kind": "month",
                        "start": "2026-11-01",
                        "end": "2026-12-01",
                    },
                    "as_of": "2026-11-26T02:00:00Z",
                    "through_day": "2026-11-26",
                    "actual": "660000.0000",
                    "numerator": "660000.0000",
                    "denominator": None,
                    "sample": 3,
                    "target": "500000.0000",
                    "baseline": "400000.0000",
                    "stretch": "600000.0000",
                    "target_id": 1,
                    "target_version": 1,
                    "expected": "452380.9524",
                    "expected_method": "working_days",
                    "elapsed_share": "0.9048",
                    "working_days_elapsed": 19,
                    "working_days_total": 21,
                    "pace": "1.4589",
                    "projection_linear": "729473.6842",
                    "projection_seasonal": None,
                    "status": "ahead",
                    "closed_months": [],
                    "adjusted": None,
                    "adjustments": 0,
                }
            ]
        }
    )

    kpi: str
    names: dict[str, str]
    unit: str
    currency: str | None = Field(description="For money KPIs: the tenant currency.")
    direction: Literal["higher", "lower"]
    scope: str
    period: PeriodOut
    as_of: datetime
    through_day: date | None = Field(
        description="The last tenant-local day counted (None before the period starts)."
    )
    actual: Decimal | None = Field(description="The KPI's value over the counted days.")
    numerator: Decimal | None
    denominator: Decimal | None
    sample: int = Field(description="Records behind the value (the denominator for ratios).")
    target: Decimal | None = None
    baseline: Decimal | None = None
    stretch: Decimal | None = None
    target_id: int | None = None
    target_version: int | None = Field(
        default=None, description="The target version in force at as_of."
    )
    expected: Decimal | None = Field(
        default=None,
        description="Where the KPI should be by now (ratio KPIs: the target itself).",
    )
    expected_method: Literal["working_days", "seasonal"] | None = None
    elapsed_share: Decimal | None = Field(
        default=None, description="Share of the period's target expected by now."
    )
    working_days_elapsed: int | None = None
    working_days_total: int | None = None
    pace: Decimal | None = Field(
        default=None,
        description=(
            "actual / expected, or expected / actual when lower is better: 1 or more is on or "
            "better than expected for every KPI; null for a lower-is-better KPI at 0 (ahead)"
        ),
    )
    projection_linear: Decimal | None = Field(
        default=None, description="Period-end value if the rate so far continues."
    )
    projection_seasonal: Decimal | None = Field(
        default=None, description="Period-end value if the rest follows history's curve."
    )
    status: Status = "no_target"
    closed_months: list[str] = Field(
        default_factory=list,
        description="The period's months that are closed (月结; at as_of when given): their "
        "figures hold still.",
    )
    adjusted: Decimal | None = Field(
        default=None,
        description="The part of actual booked into this period from closed months "
        "(adjustments; GET /v1/adjustments lists them). Sums and counts only.",
    )
    adjustments: int = Field(default=0, description="How many adjustments `adjusted` is.")
