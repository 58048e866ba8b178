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
                        "全公司：2025年12月3日至2026年12月2日期间下属没有历史数据，改为按人数拆分",
                        "华北区：2025年12月3日至2026年12月2日期间下属没有历史数据，改为按人数拆分",
                    ],
                    "notes_code": [
                        "planning.note.no_history_under",
                        "planning.note.no_history_under",
                    ],
                    "notes_params": [
                        {
                            "scope": {"$msg": "planning.scope.company", "params": {}},
                            "start": {"$date": "2025-12-03"},
                            "end": {"$date": "2026-12-02"},
                            "method": {"$msg": "planning.split_method.headcount", "params": {}},
                        },
                        {
                            "scope": "华北区",
                            "start": {"$date": "2025-12-03"},
                            "end": {"$date": "2026-12-02"},
                            "method": {"$msg": "planning.split_method.headcount", "params": {}},
                        },
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
    notes: list[str] = Field(description="How the split fell back, in the caller's language.")
    notes_code: list[str] = Field(description="Each note's catalog code (one per note).")
    notes_params: list[dict[str, Any]] = Field(description="Each note's parameters.")
    targets: list[PlannedOut]


class SuggestionFlagOut(BaseModel):
    """Something the planner should know about a suggestion."""

    code: str = Field(description="What it is, for machines (no_history, growth_above_cap…).")
    message: str = Field(description="What it says, in the caller's language.")
    message_code: str
    message_params: dict[str, Any]


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
                        "method": "seasonal_model",
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
                            "basis": "last_12_months_over_previous_12",
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
                        "历史：2025年3月至2026年11月（21 个月）；近 12 个月合计¥12万",
                        "季节性：历史不足 13 个月，各月权重相同",
                        "趋势：历史不足 24 个月，不假设增长",
                        "基准：按历史推算，2027年1月为¥1万",
                        "目标：未设增长目标，取基准值",
                        "挑战：¥1万再提高10%，即¥1.1万",
                    ],
                    "steps_code": [
                        "suggestions.step.history",
                        "suggestions.step.seasonality_none",
                        "suggestions.step.trend_none",
                        "suggestions.step.baseline",
                        "suggestions.step.target_no_goal",
                        "suggestions.step.stretch_up",
                    ],
                    "steps_params": [
                        {
                            "start": {
                                "$msg": "planning.period.month",
                                "params": {"year": "2025", "month": "3"},
                            },
                            "end": {
                                "$msg": "planning.period.month",
                                "params": {"year": "2026", "month": "11"},
                            },
                            "months": 21,
                            "last12": {"$money": "120000.0000", "currency": "CNY"},
                        },
                        {},
                        {},
                        {
                            "value": {"$money": "10000.00", "currency": "CNY"},
                            "period": {
                                "$msg": "planning.period.month",
                                "params": {"year": "2027", "month": "1"},
                            },
                        },
                        {},
                        {
                            "value": {"$money": "10000.00", "currency": "CNY"},
                            "uplift": {"$pct": "0.1"},
                            "stretch": {"$money": "11000.00", "currency": "CNY"},
                        },
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
    steps: list[str] = Field(description="The reasoning, step by step, in the caller's language.")
    steps_code: list[str] = Field(description="Each step's catalog code (one per step).")
    steps_params: list[dict[str, Any]] = Field(description="Each step's parameters.")
    flags: list[SuggestionFlagOut]


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
                            "message": "华北区近 90 天没有成交事件：无法用已记录的数据衡量销售额",
                            "message_code": "planning.finding.not_measurable",
                            "message_params": {
                                "types": [{"$msg": "planning.event_type.deal", "params": {}}],
                                "scope": "华北区",
                                "days": 90,
                                "kpi": {"$l10n": {"zh-CN": "销售额", "en": "Revenue"}},
                            },
                            "fix": (
                                "设定此目标前，请先接入成交事件（客户管理系统回调或事件接口），"
                                "或导入历史数据"
                            ),
                            "fix_code": "planning.fix.not_measurable",
                            "fix_params": {
                                "types": [{"$msg": "planning.event_type.deal", "params": {}}]
                            },
                            "kpi": "revenue",
                            "target_index": 0,
                            "params": {},
                        },
                        {
                            "rule": "not_relevant",
                            "code": "not_relevant",
                            "severity": "warning",
                            "message": "华北区的销售额目标没有关联上级目标",
                            "message_code": "planning.finding.not_relevant",
                            "message_params": {
                                "kpi": {"$l10n": {"zh-CN": "销售额", "en": "Revenue"}},
                                "scope": "华北区",
                            },
                            "fix": "请把它关联到它所支撑的团队或公司目标（用目标分解会自动关联）",
                            "fix_code": "planning.fix.not_relevant",
                            "fix_params": {},
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
