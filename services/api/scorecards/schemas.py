"""Scorecard shapes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scope": "rep:r-001",
                    "period": "2026-11",
                    "as_of": "2026-11-26T02:00:00Z",
                    "template": "account_manager",
                    "template_names": {"zh-CN": "客户经理", "en": "Account manager"},
                    "items": [
                        {
                            "kpi": "revenue",
                            "names": {"zh-CN": "销售额", "en": "Revenue"},
                            "category": "result",
                            "unit": "currency",
                            "direction": "higher",
                            "weight": "40",
                            "actual": "660000.0000",
                            "target": "550000.0000",
                            "baseline": None,
                            "stretch": None,
                            "attainment": "1.2000",
                            "tier": "target_met",
                            "status": "scored",
                            "sample": 3,
                        },
                        {
                            "kpi": "new_customers",
                            "names": {"zh-CN": "新签客户数", "en": "New customers"},
                            "category": "result",
                            "unit": "count",
                            "direction": "higher",
                            "weight": "20",
                            "actual": "0.0000",
                            "target": None,
                            "baseline": None,
                            "stretch": None,
                            "attainment": None,
                            "tier": None,
                            "status": "no_target",
                            "sample": 0,
                        },
                    ],
                    "score": "120.0000",
                    "tier": "target_met",
                    "coverage": "0.4000",
                }
            ]
        }
    )

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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "team": "north",
                    "period": "2026-11",
                    "as_of": "2026-11-26T02:00:00Z",
                    "kpi": "revenue",
                    "rows": [
                        {
                            "rank": 1,
                            "rep_id": "r-001",
                            "name": "王芳",
                            "score": "120.0000",
                            "tier": "target_met",
                            "coverage": "0.4000",
                            "kpi_actual": "660000.0000",
                            "kpi_attainment": "1.2000",
                        },
                        {
                            "rank": 2,
                            "rep_id": "r-002",
                            "name": "李明",
                            "score": None,
                            "tier": None,
                            "coverage": "0",
                            "kpi_actual": "0.0000",
                            "kpi_attainment": None,
                        },
                    ],
                }
            ]
        }
    )

    team: str
    period: str
    as_of: datetime
    kpi: str | None
    rows: list[LeaderRow]
