"""Shapes of the dashboard's view models (``/v1/dashboard/...``)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from paceline.api.closes.schemas import AdjustmentOut
from paceline.api.progress.schemas import PeriodOut, ProgressOut


class PeriodsOut(BaseModel):
    """The periods around today (tenant-local), by kind, newest first."""

    today: date
    year: list[str]
    quarter: list[str]
    month: list[str]
    week: list[str]
    focus_month: str = Field(
        description="The month views open on: the current month once the tenant's "
        "min_elapsed_share of its working days has passed, the last complete month before."
    )


class KpiBrief(BaseModel):
    """What the dashboard shows of a KPI."""

    key: str
    names: dict[str, str]
    unit: str
    direction: Literal["higher", "lower"]
    category: str
    cumulative: bool = Field(description="True when the value adds up over days (sums, counts).")


class TeamBrief(BaseModel):
    """A team of the org chart."""

    id: str
    name: str
    parent_id: str | None


class RepBrief(BaseModel):
    """A rep of the org chart."""

    id: str
    name: str
    team_id: str | None
    role: str | None


class TemplateBrief(BaseModel):
    """A role template's KPIs and weights."""

    key: str
    names: dict[str, str]
    items: dict[str, Decimal]


class Features(BaseModel):
    """Which optional APIs this server has (the dashboard hides what is missing)."""

    alerts: bool
    alert_acknowledge: bool
    reviews: bool
    decompose: bool


class ContextOut(BaseModel):
    """Everything the dashboard needs once: tenant settings, periods, org, KPIs."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tenant": "default",
                    "name": "Default",
                    "timezone": "Asia/Shanghai",
                    "currency": "CNY",
                    "locale": "zh-CN",
                    "scopes": ["admin"],
                    "periods": {
                        "today": "2026-12-03",
                        "year": ["2026", "2025"],
                        "quarter": ["2026-Q4", "2026-Q3"],
                        "month": ["2026-12", "2026-11"],
                        "week": ["2026-W49", "2026-W48"],
                        "focus_month": "2026-11",
                    },
                    "teams": [
                        {"id": "north", "name": "华北区", "parent_id": None},
                        {"id": "north-bj", "name": "北京组", "parent_id": "north"},
                    ],
                    "reps": [
                        {
                            "id": "r-001",
                            "name": "王芳",
                            "team_id": "north-bj",
                            "role": "account_manager",
                        }
                    ],
                    "kpis": [
                        {
                            "key": "revenue",
                            "names": {"zh-CN": "销售额", "en": "Revenue"},
                            "unit": "currency",
                            "direction": "higher",
                            "category": "result",
                            "cumulative": True,
                        },
                        {
                            "key": "deals_won",
                            "names": {"zh-CN": "签单数", "en": "Deals won"},
                            "unit": "count",
                            "direction": "higher",
                            "category": "result",
                            "cumulative": True,
                        },
                    ],
                    "templates": [
                        {
                            "key": "account_manager",
                            "names": {"zh-CN": "客户经理", "en": "Account manager"},
                            "items": {
                                "revenue": "40",
                                "new_customers": "20",
                                "visits": "15",
                                "win_rate": "15",
                                "crm_active_days": "10",
                            },
                        },
                        {
                            "key": "channel_manager",
                            "names": {"zh-CN": "渠道经理", "en": "Channel manager"},
                            "items": {
                                "revenue": "40",
                                "payments_collected": "20",
                                "new_opportunities": "15",
                                "quotes": "15",
                                "training_pass_rate": "10",
                            },
                        },
                    ],
                    "features": {
                        "alerts": True,
                        "alert_acknowledge": True,
                        "reviews": True,
                        "decompose": True,
                    },
                    "poll_interval_s": 5.0,
                    "version": "0.1.0",
                }
            ]
        }
    )

    tenant: str
    name: str
    timezone: str
    currency: str
    locale: Literal["zh-CN", "en"]
    scopes: list[str] = Field(description="The key's scopes (read, admin, ...).")
    periods: PeriodsOut
    teams: list[TeamBrief]
    reps: list[RepBrief]
    kpis: list[KpiBrief]
    templates: list[TemplateBrief]
    features: Features
    poll_interval_s: float
    version: str


class OverviewOut(BaseModel):
    """One row per KPI for a scope and period: the same values as ``GET /v1/progress``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scope": "company",
                    "period": {
                        "key": "2026-11",
                        "kind": "month",
                        "start": "2026-11-01",
                        "end": "2026-12-01",
                    },
                    "as_of": "2026-12-03T02:00:00Z",
                    "rows": [
                        {
                            "kpi": "revenue",
                            "names": {"zh-CN": "销售额", "en": "Revenue"},
                            "unit": "currency",
                            "currency": "CNY",
                            "direction": "higher",
                            "scope": "company",
                            "period": {
                                "key": "2026-11",
                                "kind": "month",
                                "start": "2026-11-01",
                                "end": "2026-12-01",
                            },
                            "as_of": "2026-12-03T02:00:00Z",
                            "through_day": "2026-11-30",
                            "actual": "120000.0000",
                            "numerator": "120000.0000",
                            "denominator": None,
                            "sample": 1,
                            "target": None,
                            "baseline": None,
                            "stretch": None,
                            "target_id": None,
                            "target_version": None,
                            "expected": None,
                            "expected_method": "working_days",
                            "elapsed_share": "1.0000",
                            "working_days_elapsed": 21,
                            "working_days_total": 21,
                            "pace": None,
                            "projection_linear": None,
                            "projection_seasonal": None,
                            "status": "no_target",
                            "closed_months": [],
                            "adjusted": None,
                            "adjustments": 0,
                        }
                    ],
                }
            ]
        }
    )

    scope: str
    period: PeriodOut
    as_of: datetime
    rows: list[ProgressOut]


class SeriesOut(BaseModel):
    """A KPI over the days of a period: actual so far, expected curve and target lines.

    ``cumulative`` KPIs (sums and counts) show the running total; ratios and averages show
    the value over the days from the period's start to each point (``actual`` is null on
    days without a point and after ``through_day``).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kpi": "revenue",
                    "names": {"zh-CN": "销售额", "en": "Revenue"},
                    "unit": "currency",
                    "currency": "CNY",
                    "direction": "higher",
                    "scope": "company",
                    "period": {
                        "key": "2026-11",
                        "kind": "month",
                        "start": "2026-11-01",
                        "end": "2026-12-01",
                    },
                    "as_of": "2026-12-03T02:00:00Z",
                    "through_day": "2026-11-30",
                    "cumulative": True,
                    "days": [
                        "2026-11-01",
                        "2026-11-02",
                        "2026-11-03",
                        "2026-11-04",
                        "2026-11-05",
                        "2026-11-06",
                        "2026-11-07",
                        "2026-11-08",
                        "2026-11-09",
                        "2026-11-10",
                        "2026-11-11",
                        "2026-11-12",
                        "2026-11-13",
                        "2026-11-14",
                        "2026-11-15",
                        "2026-11-16",
                        "2026-11-17",
                        "2026-11-18",
                        "2026-11-19",
                        "2026-11-20",
                        "2026-11-21",
                        "2026-11-22",
                        "2026-11-23",
                        "2026-11-24",
                        "2026-11-25",
                        "2026-11-26",
                        "2026-11-27",
                        "2026-11-28",
                        "2026-11-29",
                        "2026-11-30",
                    ],
                    "actual": [
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "0.0000",
                        "120000.0000",
                        "120000.0000",
                        "120000.0000",
                        "120000.0000",
                        "120000.0000",
                    ],
                    "expected": [
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                    ],
                    "target": None,
                    "baseline": None,
                    "stretch": None,
                    "expected_method": None,
                }
            ]
        }
    )

    kpi: str
    names: dict[str, str]
    unit: str
    currency: str | None
    direction: Literal["higher", "lower"]
    scope: str
    period: PeriodOut
    as_of: datetime
    through_day: date | None
    cumulative: bool
    days: list[date]
    actual: list[Decimal | None]
    expected: list[Decimal | None]
    target: Decimal | None
    baseline: Decimal | None
    stretch: Decimal | None
    expected_method: Literal["working_days", "seasonal"] | None


class AdjustmentItem(AdjustmentOut):
    """An adjustment, with its effect on the KPI's value."""

    amount: Decimal = Field(
        description="What it adds to the KPI (in the KPI's unit, e.g. currency or a count)."
    )


class AdjustmentsListOut(BaseModel):
    """The adjustments behind a progress row's ``adjusted`` (same scope, period, as_of).

    ``total`` and ``count`` equal the row's ``adjusted`` and ``adjustments``; ``items`` are
    the first ``limit`` of them, in the order Paceline learned them.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kpi": "revenue",
                    "scope": "company",
                    "period": {
                        "key": "2026-12",
                        "kind": "month",
                        "start": "2026-12-01",
                        "end": "2027-01-01",
                    },
                    "as_of": "2026-12-03T02:00:00Z",
                    "total": None,
                    "count": 0,
                    "items": [],
                }
            ]
        }
    )

    kpi: str
    scope: str
    period: PeriodOut
    as_of: datetime
    total: Decimal | None
    count: int
    items: list[AdjustmentItem]


class ChangesOut(BaseModel):
    """A token that changes whenever what the dashboard shows may have changed."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"token": "9a703a98ee2fc8199c34", "as_of": "2026-11-26T02:00:00Z"}]
        }
    )

    token: str
    as_of: datetime
