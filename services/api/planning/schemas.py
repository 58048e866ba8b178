"""Shapes of decomposition, suggestions and the SMART check."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from paceline.api.targets.schemas import FindingOut

Value = Annotated[Decimal, Field(ge=0, le=Decimal(10) ** 15, max_digits=30, decimal_places=6)]
Weight = Annotated[Decimal, Field(ge=0, le=Decimal(10) ** 12)]
Growth = Annotated[Decimal, Field(ge=-1, le=100)]


class OrgSplit(BaseModel):
    """How the goal splits down the org."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["historical_share", "headcount", "weights", "even"] = Field(
        default="historical_share",
        description="historical_share: each child's share of the KPI over the history window; "
        "headcount: reps under each child; weights: as given; even: equal parts.",
    )
    down_to: Literal["self", "team", "rep"] = Field(
        default="rep",
        description="self: no org split; team: sub-teams (all levels); rep: teams and reps.",
    )
    weights: dict[str, Weight] = Field(
        default_factory=dict,
        description="method=weights: scope (team:ID, rep:ID) -> weight, relative among siblings.",
    )
    history_from: date | None = Field(
        default=None, description="Start of the history window (default: a year before the goal)."
    )
    history_to: date | None = Field(
        default=None,
        description="End of the history window, exclusive (default: the goal's start, or "
        "today if earlier).",
    )


class TimeSplit(BaseModel):
    """How each scope's value splits down in time."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["seasonality", "working_days", "even"] = Field(
        default="working_days",
        description="seasonality: the goal scope's history of the same sub-periods in earlier "
        "years; working_days: the tenant's calendar; even: equal parts.",
    )
    levels: list[Literal["quarter", "month", "week"]] = Field(
        default_factory=list,
        description="Finer periods, in order, e.g. [quarter, month] or [month, week].",
    )
    history_years: Annotated[int, Field(ge=1, le=5)] = 2


class DecomposeIn(BaseModel):
    """A strategic goal to split down the org and in time."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kpi": "revenue",
                    "scope": "company",
                    "period": "2027",
                    "target": "12000000",
                    "org": {"method": "historical_share", "down_to": "rep"},
                    "time": {"method": "seasonality", "levels": ["quarter", "month"]},
                    "preview": True,
                }
            ]
        },
        extra="forbid",
        str_strip_whitespace=True,
    )

    kpi: Annotated[str, Field(min_length=1, max_length=64)]
    scope: Annotated[str, Field(min_length=1, max_length=210)] = "company"
    period: Annotated[str, Field(min_length=4, max_length=16)]
    target: Value
    baseline: Value | None = None
    stretch: Value | None = None
    org: OrgSplit = Field(default_factory=OrgSplit)
    time: TimeSplit = Field(default_factory=TimeSplit)
    preview: bool = Field(default=True, description="true: answer the plan, save nothing.")
    on_existing: Literal["error", "revise"] = Field(
        default="error",
        description="When a target of the plan exists: error (409), or revise it (a new "
        "version with the reason).",
    )
    reason: Annotated[str, Field(max_length=2000)] = ""


class PlannedOut(BaseModel):
    """One target of the plan."""

    scope: str
    period: str
    period_kind: str
    start: date
    end: date
    target: Decimal
    baseline: Decimal | None
    stretch: Decimal | None
    parent: dict[str, str] | None = Field(description="The parent's scope and period.")
    split: Literal["goal", "org", "time", "sum", "copy"] = Field(
        description="goal; org or time (a share of the parent); sum (of the scope's leaves: "
        "reps' values for a team's sub-period); copy (ratios do not split)."
    )
    share: Decimal | None = Field(description="Share of the parent's target (org and time).")
    id: int | None = Field(default=None, description="The saved target (preview: none).")
    parent_id: int | None = None
    action: Literal["preview", "created", "revised"] = "preview"


class DecomposeOut(BaseModel):
    """The whole plan: every target with its parent, and how the weights were found."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kpi": "revenue",
                    "unit": "currency",
                    "currency": "CNY",
                    "places": 2,
                    "additive": True,
                    "preview": True,
                    "org_method": "historical_share",
                    "time_method": "seasonality",
                    "weights": {
                        "org": {
                            "company": {
                                "method": "headcount",
                                "weights": {"team:north": "1"},
                                "shares": {"team:north": "1.0000"},
                            },
                            "team:north": {
                                "method": "headcount",
                                "weights": {"team:north-bj": "1"},
                                "shares": {"team:north-bj": "1.0000"},
                            },
                            "team:north-bj": {
                                "method": "headcount",
                                "weights": {"rep:r-001": "1"},
                                "shares": {"rep:r-001": "1.0000"},
                            },
                        },
                        "org_history": {"from": "2025-12-03", "to": "2026-12-03"},
                        "time": {
                            "2027": {
                                "method": "working_days",
                                "history": [],
                                "shares": {
                                    "2027-Q1": "0.2402",
                                    "2027-Q2": "0.2480",
                                    "2027-Q3": "0.2559",
                                    "2027-Q4": "0.2559",
                                },
                            },
                            "2027-Q1": {
                                "method": "working_days",
                                "history": [],
                                "shares": {
                                    "2027-01": "0.3279",
                                    "2027-02": "0.2951",
                                    "2027-03": "0.3770",
                                },
                            },
                            "2027-Q2": {
                                "method": "working_days",
                                "history": [],
                                "shares": {
                                    "2027-04": "0.3333",
                                    "2027-05": "0.3333",
                                    "2027-06": "0.3333",
                                },
                            },
                            "2027-Q3": {
                                "method": "working_days",
                                "history": [],
                                "shares": {
                                    "2027-07": "0.3385",
                                    "2027-08": "0.3385",
                                    "2027-09": "0.3231",
                                },
                            },
                            "2027-Q4": {
                                "method": "working_days",
                                "history": [],
                                "shares": {
                                    "2027-10": "0.3077",
                                    "2027-11": "0.3385",
                                    "2027-12": "0.3538",
                                },
                            },
                        },
                    },
                    "notes": [
                        (
                            "company: no history under it in 2025-12-03..2026-12-03: split by "
                            "headcount"
                        ),
                        (
                            "team:north: no history under it in 2025-12-03..2026-12-03: split by "
                            "headcount"
                        ),
                    ],
                    "targets": [
                        {
                            "scope": "company",
                            "period": "2027",
                            "period_kind": "year",
                            "start": "2027-01-01",
                            "end": "2028-01-01",
                            "target": "12000000.00",
                            "baseline": None,
                            "stretch": None,
                            "parent": None,
                            "split": "goal",
                            "share": None,
                            "id": None,
                            "parent_id": None,
                            "action": "preview",
                        },
                        {
                            "scope": "team:north",
                            "period": "2027",
                            "period_kind": "year",
                            "start": "2027-01-01",
                            "end": "2028-01-01",
                            "target": "12000000.00",
                            "baseline": None,
                            "stretch": None,
                            "parent": {"scope": "company", "period": "2027"},
                            "split": "org",
                            "share": "1.000000",
                            "id": None,
                            "parent_id": None,
                            "action": "preview",
                        },
                    ],
                }
            ]
        }
    )

    kpi: str
    unit: str
    currency: str | None
    places: int = Field(description="Decimals of the split (the currency's minor unit; 0).")
    additive: bool
    preview: bool
    org_method: str
    time_method: str
    weights: dict[str, Any] = Field(description="The weights used, per parent, with notes.")
    notes: list[str]
    targets: list[PlannedOut]


class SuggestionOut(BaseModel):
    """Suggested values for a KPI, scope and period, with the reasoning."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kpi": "revenue",
                    "scope": "rep:r-001",
                    "period": "2027-01",
                    "unit": "currency",
                    "direction": "higher",
                    "baseline": "10000.00",
                    "target": "10000.00",
                    "stretch": "11000.00",
                    "growth": None,
                    "reasoning": {
                        "method": (
                            "seasonal model: level x trend x seasonal index (ratio to moving "
                            "average)"
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
                            "period_months": ["2027-01"],
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
                            "months": ["2026-01"],
                            "actual": "0.00",
                            "modelled": "10000.00",
                            "basis": "modelled",
                        },
                        "growth_goal": None,
                        "caps": {"growth_cap": "0.5", "history_margin": "0.2", "applied": []},
                    },
                    "steps": [
                        "history 2025-03..2026-11 (21 months); last 12 months 120000.0000",
                        "seasonality: not enough history (13+ months): every month weighs the same",
                        "trend: under 24 months of history, no growth assumed",
                        "baseline: history projects 10000.00 for 2027-01",
                        "target: no growth goal given, the baseline",
                        "stretch: 10000.00 +10.0% = 11000.00",
                    ],
                    "flags": [],
                }
            ]
        }
    )

    kpi: str
    scope: str
    period: str
    unit: str
    direction: str
    baseline: Decimal | None
    target: Decimal | None
    stretch: Decimal | None
    growth: Decimal | None
    reasoning: dict[str, Any]
    steps: list[str]
    flags: list[dict[str, str]]


class TemplateItemIn(BaseModel):
    """A KPI of the plan's role template."""

    model_config = ConfigDict(extra="forbid")

    kpi: Annotated[str, Field(min_length=1, max_length=64)]
    weight: Annotated[Decimal, Field(ge=0, le=1000)]


class PlanTargetIn(BaseModel):
    """A target of the plan."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kpi: Annotated[str, Field(min_length=1, max_length=64)]
    target: Value
    scope: Annotated[str, Field(max_length=210)] | None = None
    period: Annotated[str, Field(max_length=32)] | None = None
    parent_id: int | None = None
    baseline: Value | None = None
    stretch: Value | None = None


class PlanIn(BaseModel):
    """A plan to check: a role template (by key or its items) and targets."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "template": "account_manager",
                    "scope": "team:north",
                    "period": "2026-12",
                    "targets": [
                        {"kpi": "revenue", "target": "1500000"},
                        {"kpi": "visits", "target": "120"},
                    ],
                }
            ]
        },
        extra="forbid",
        str_strip_whitespace=True,
    )

    template: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="A role template's key (built-in or the tenant's)."
    )
    items: list[TemplateItemIn] | None = Field(
        default=None, description="Or the template's items directly."
    )
    scope: Annotated[str, Field(max_length=210)] = Field(
        default="company", description="Whose plan (default for the targets)."
    )
    period: Annotated[str, Field(max_length=32)] | None = Field(
        default=None, description="Default period of the targets."
    )
    targets: list[PlanTargetIn] = Field(default_factory=list)
    lookback_days: Annotated[int, Field(ge=7, le=730)] = 90
    margin: Annotated[Decimal, Field(ge=0, le=10)] = Decimal("0.2")


class PlanCheckOut(BaseModel):
    """The SMART check's findings (empty: nothing to fix)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ok": True,
                    "findings": [
                        {
                            "rule": "not_measurable",
                            "code": "not_measurable",
                            "severity": "warning",
                            "message": (
                                "no deal events for team:north in the last 90 days: revenue "
                                "cannot be measured from what is logged"
                            ),
                            "fix": (
                                "send deal events (CRM webhook, POST /v1/events) or import "
                                "history (POST /v1/imports) before setting this target"
                            ),
                            "kpi": "revenue",
                            "target_index": 0,
                            "params": {},
                        },
                        {
                            "rule": "not_relevant",
                            "code": "not_relevant",
                            "severity": "warning",
                            "message": (
                                "the revenue target for team:north is not linked to a parent goal"
                            ),
                            "fix": (
                                "set parent_id to the team or company target it contributes to "
                                "(POST /v1/targets/decompose links them for you)"
                            ),
                            "kpi": "revenue",
                            "target_index": 0,
                            "params": {},
                        },
                    ],
                    "checked": {
                        "template_items": [
                            {"kpi": "revenue", "weight": "40"},
                            {"kpi": "new_customers", "weight": "20"},
                            {"kpi": "visits", "weight": "15"},
                            {"kpi": "win_rate", "weight": "15"},
                            {"kpi": "crm_active_days", "weight": "10"},
                        ],
                        "targets": 2,
                        "lookback_days": 90,
                        "margin": "0.2",
                        "rules": [
                            "not_specific",
                            "not_measurable",
                            "not_achievable",
                            "not_relevant",
                            "not_time_bound",
                            "too_many_core_kpis",
                            "weights_not_100",
                            "result_only",
                            "process_only",
                            "duplicated_kpi",
                            "plan_mismatch",
                        ],
                    },
                }
            ]
        }
    )

    ok: bool = Field(description="No error-severity finding.")
    findings: list[FindingOut]
    checked: dict[str, Any]
