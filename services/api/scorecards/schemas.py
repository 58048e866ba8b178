"""Scorecard shapes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

Tier = Literal["stretch_met", "target_met", "baseline_met", "below_baseline"]


class ScorecardItem(BaseModel):
    """One KPI of a scorecard."""

    kpi: str
    names: dict[str, str]
    category: str
    unit: str
    direction: Literal["higher", "lower"]
    weight: Decimal
    actual: Decimal | None
    target: Decimal | None
    baseline: Decimal | None
    stretch: Decimal | None
    attainment: Decimal | None = Field(description="1 = target met; capped (1.5 by default).")
    tier: Tier | None
    status: Literal["scored", "no_target", "insufficient_data"]
    sample: int


class ScorecardOut(BaseModel):
    """A scorecard for a rep, a team or the company."""

    scope: str
    period: str
    as_of: datetime
    template: str
    template_names: dict[str, str]
    items: list[ScorecardItem]
    score: Decimal | None = Field(description="Weighted attainment x 100 over the scored KPIs.")
    tier: Tier | None
    coverage: Decimal = Field(description="Share of the template's weight that could be scored.")


class LeaderRow(BaseModel):
    """A rep's place on a leaderboard."""

    rank: int
    rep_id: str
    name: str | None
    score: Decimal | None
    tier: Tier | None
    coverage: Decimal
    kpi_actual: Decimal | None = None
    kpi_attainment: Decimal | None = None


class LeaderboardOut(BaseModel):
    """A team's reps ranked by score (or by one KPI)."""

    team: str
    period: str
    as_of: datetime
    kpi: str | None
    rows: list[LeaderRow]
