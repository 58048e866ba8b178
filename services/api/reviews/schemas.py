"""Shapes of the period review (复盘)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ReviewKpi(BaseModel):
    """A KPI of the review."""

    kpi: str
    names: dict[str, str]
    unit: str
    direction: Literal["higher", "lower"]
    category: str


class AttainmentRow(BaseModel):
    """One scope's result on one KPI: a rep's, or the team's own."""

    scope: str
    name: str | None
    kpi: str
    actual: Decimal | None
    target: Decimal | None
    baseline: Decimal | None
    stretch: Decimal | None
    attainment: Decimal | None = Field(description="Capped, direction-aware (1 = met).")
    raw_attainment: Decimal | None = Field(description="Uncapped.")
    tier: str | None
    met: bool | None = Field(description="Target reached (uncapped attainment >= 1).")
    status: Literal["scored", "no_target", "insufficient_data"]
    sample: int


class Distribution(BaseModel):
    """How the team's reps did on one KPI."""

    kpi: str
    reps: int = Field(description="Reps with a target and enough data.")
    met: int
    missed: int
    share_met: Decimal | None
    tiers: dict[str, int]
    attainment_min: Decimal | None
    attainment_median: Decimal | None
    attainment_max: Decimal | None
    buckets: dict[str, int] = Field(
        description="Reps per uncapped attainment band: <80%, 80-100%, 100-120%, >=120%."
    )


class ReviewFinding(BaseModel):
    """A KPI most reps missed (target too high?) or every rep beat (too low?)."""

    kpi: str
    finding: Literal["missed_by_most", "beaten_by_all"]
    share_met: Decimal
    message: str = Field(description="In the caller's language: the KPI's name, who missed it.")
    message_code: str
    message_params: dict[str, Any]


class DriverOut(BaseModel):
    """One driver's part of a gap."""

    driver: str
    planned: Decimal | None
    actual: Decimal | None
    effect: Decimal = Field(description="In the KPI's units; a miss's effects add up to its gap.")


class MissOut(BaseModel):
    """A missed target split into its drivers."""

    scope: str
    kpi: str
    gap: Decimal = Field(description="actual - target (negative: short of it).")
    formula: str = Field(description="How the KPI splits, in the caller's language.")
    formula_code: str
    drivers: list[DriverOut]
    planned_from: dict[str, str] = Field(
        description="Where each planned driver came from, in the caller's language."
    )
    planned_from_codes: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="The same as catalog messages: driver -> {code, params}.",
    )
    largest: str = Field(description="The driver that cost the most.")


class NextTarget(BaseModel):
    """A suggested target for the next period, with its reasoning."""

    scope: str
    kpi: str
    period: str
    baseline: Decimal | None
    target: Decimal | None
    stretch: Decimal | None
    steps: list[str]
    flags: list[dict[str, Any]]
    note: str | None = Field(
        default=None, description="This period's result, in the caller's language."
    )
    note_code: str | None = None
    note_params: dict[str, Any] | None = None
    reasoning: dict[str, Any]


class ReviewAdjustment(BaseModel):
    """Changes to closed months booked into the reviewed period, for one KPI (the team)."""

    kpi: str
    adjusted: Decimal = Field(description="The part of the team's actual booked in.")
    adjustments: int = Field(description="How many changes (GET /v1/adjustments lists them).")


class ReviewOut(BaseModel):
    """The period review of a team."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "team": "north",
                    "period": "2026-11",
                    "next_period": "2026-12",
                    "as_of": "2026-12-01T00:00:00+08:00",
                    "members": [{"rep_id": "r-001", "name": "王芳"}],
                    "kpis": [
                        {
                            "kpi": "revenue",
                            "names": {"zh-CN": "销售额", "en": "Revenue"},
                            "unit": "currency",
                            "direction": "higher",
                            "category": "result",
                        },
                        {
                            "kpi": "new_customers",
                            "names": {"zh-CN": "新签客户数", "en": "New customers"},
                            "unit": "count",
                            "direction": "higher",
                            "category": "result",
                        },
                    ],
                    "rows": [
                        {
                            "scope": "rep:r-001",
                            "name": "王芳",
                            "kpi": "revenue",
                            "actual": "120000.0000",
                            "target": None,
                            "baseline": None,
                            "stretch": None,
                            "attainment": None,
                            "raw_attainment": None,
                            "tier": None,
                            "met": None,
                            "status": "no_target",
                            "sample": 1,
                        },
                        {
                            "scope": "team:north",
                            "name": None,
                            "kpi": "revenue",
                            "actual": "120000.0000",
                            "target": None,
                            "baseline": None,
                            "stretch": None,
                            "attainment": None,
                            "raw_attainment": None,
                            "tier": None,
                            "met": None,
                            "status": "no_target",
                            "sample": 1,
                        },
                    ],
                    "distribution": [
                        {
                            "kpi": "revenue",
                            "reps": 0,
                            "met": 0,
                            "missed": 0,
                            "share_met": None,
                            "tiers": {
                                "stretch_met": 0,
                                "target_met": 0,
                                "baseline_met": 0,
                                "below_baseline": 0,
                            },
                            "attainment_min": None,
                            "attainment_median": None,
                            "attainment_max": None,
                            "buckets": {"<80%": 0, "80-100%": 0, "100-120%": 0, ">=120%": 0},
                        },
                        {
                            "kpi": "new_customers",
                            "reps": 0,
                            "met": 0,
                            "missed": 0,
                            "share_met": None,
                            "tiers": {
                                "stretch_met": 0,
                                "target_met": 0,
                                "baseline_met": 0,
                                "below_baseline": 0,
                            },
                            "attainment_min": None,
                            "attainment_median": None,
                            "attainment_max": None,
                            "buckets": {"<80%": 0, "80-100%": 0, "100-120%": 0, ">=120%": 0},
                        },
                    ],
                    "findings": [],
                    "misses": [],
                    "suggestions": [
                        {
                            "scope": "rep:r-001",
                            "kpi": "revenue",
                            "period": "2026-12",
                            "baseline": "10000.00",
                            "target": "10000.00",
                            "stretch": "11000.00",
                            "steps": [
                                "history 2025-03..2026-11 (21 months); last 12 months 120000.0000",
                                (
                                    "seasonality: not enough history (13+ months): every month "
                                    "weighs the same"
                                ),
                            ],
                            "flags": [],
                            "note": None,
                            "reasoning": {
                                "method": (
                                    "seasonal model: level x trend x seasonal index (ratio to "
                                    "moving average)"
                                ),
                                "history": {
                                    "from": "2025-03-01",
                                    "to": "2026-11-30",
                                    "months": 21,
                                    "last_12_months": "120000.0000",
                                    "previous_12_months": None,
                                },
                                "seasonality": {
                                    "indices": {},
                                    "period_months": ["2026-12"],
                                    "period_share_of_year": "0.0833",
                                    "week_share_of_month": None,
                                    "learned": False,
                                },
                                "trend": {
                                    "growth": None,
                                    "applied": "0.0000",
                                    "basis": "last 12 months over the 12 months before",
                                },
                                "last_year": {
                                    "months": ["2025-12"],
                                    "actual": "0.00",
                                    "modelled": "10000.00",
                                    "basis": "modelled",
                                },
                                "growth_goal": None,
                                "caps": {
                                    "growth_cap": "0.5",
                                    "history_margin": "0.2",
                                    "applied": [],
                                },
                            },
                        },
                        {
                            "scope": "team:north",
                            "kpi": "revenue",
                            "period": "2026-12",
                            "baseline": "120000.00",
                            "target": "120000.00",
                            "stretch": "132000.00",
                            "steps": [
                                "history 2026-11..2026-11 (1 months); last 12 months 120000.0000",
                                (
                                    "seasonality: not enough history (13+ months): every month "
                                    "weighs the same"
                                ),
                            ],
                            "flags": [
                                {
                                    "code": "insufficient_history",
                                    "message": "only 1 months of history (12+ needed)",
                                }
                            ],
                            "note": None,
                            "reasoning": {
                                "method": (
                                    "seasonal model: level x trend x seasonal index (ratio to "
                                    "moving average)"
                                ),
                                "history": {
                                    "from": "2026-11-01",
                                    "to": "2026-11-30",
                                    "months": 1,
                                    "last_12_months": "120000.0000",
                                    "previous_12_months": None,
                                },
                                "seasonality": {
                                    "indices": {},
                                    "period_months": ["2026-12"],
                                    "period_share_of_year": "0.0833",
                                    "week_share_of_month": None,
                                    "learned": False,
                                },
                                "trend": {
                                    "growth": None,
                                    "applied": "0.0000",
                                    "basis": "last 12 months over the 12 months before",
                                },
                                "last_year": {
                                    "months": ["2025-12"],
                                    "actual": None,
                                    "modelled": "120000.00",
                                    "basis": "modelled",
                                },
                                "growth_goal": None,
                                "caps": {
                                    "growth_cap": "0.5",
                                    "history_margin": "0.2",
                                    "applied": [],
                                },
                            },
                        },
                    ],
                    "closed_months": [],
                    "adjustments": [],
                }
            ]
        }
    )

    team: str
    period: str
    next_period: str
    as_of: datetime
    members: list[dict[str, str | None]]
    kpis: list[ReviewKpi]
    rows: list[AttainmentRow]
    distribution: list[Distribution]
    findings: list[ReviewFinding]
    misses: list[MissOut]
    suggestions: list[NextTarget]
    closed_months: list[str] = Field(
        default_factory=list, description="The period's closed months (月结)."
    )
    adjustments: list[ReviewAdjustment] = Field(
        default_factory=list,
        description="Per KPI (sums and counts), what was booked in from closed months.",
    )
