"""Shapes of the period review (复盘)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field


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
    message: str


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
    formula: str
    drivers: list[DriverOut]
    planned_from: dict[str, str] = Field(description="Where each planned driver came from.")
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
    flags: list[dict[str, str]]
    note: str | None = None
    reasoning: dict[str, Any]


class ReviewAdjustment(BaseModel):
    """Changes to closed months booked into the reviewed period, for one KPI (the team)."""

    kpi: str
    adjusted: Decimal = Field(description="The part of the team's actual booked in.")
    adjustments: int = Field(description="How many changes (GET /v1/adjustments lists them).")


class ReviewOut(BaseModel):
    """The period review of a team."""

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
