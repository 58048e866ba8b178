"""Shapes of incentive plans, assignments, earnings and statements."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from paceline.shared.kpi.incentives.plans import Component

PlanKey = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_\-]*$")]
Reason = Annotated[str, Field(max_length=2000)]


class PlanIn(BaseModel):
    """A new plan: its key, names and components (version 1)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "key": "am-2026",
                    "name_zh": "客户经理提成方案",
                    "name_en": "Account manager plan",
                    "components": [
                        {
                            "type": "commission",
                            "key": "revenue-commission",
                            "kpi": "revenue",
                            "mode": "marginal",
                            "tiers": [{"from": "0", "rate": "0.02"}, {"from": "1", "rate": "0.04"}],
                        },
                        {"type": "gate", "key": "visit-gate", "kpi": "visits", "min": "40"},
                    ],
                    "reason": "FY26 plan",
                }
            ]
        },
        extra="forbid",
        str_strip_whitespace=True,
    )

    key: PlanKey
    name_zh: Annotated[str, Field(min_length=1, max_length=200)]
    name_en: Annotated[str, Field(min_length=1, max_length=200)]
    components: Annotated[list[Component], Field(min_length=1, max_length=30)]
    reason: Reason = ""


class PlanRevision(BaseModel):
    """New names or components for a plan: a new version (a reason is required)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name_zh": "客户经理提成方案",
                    "name_en": "Account manager plan",
                    "components": [
                        {
                            "type": "commission",
                            "key": "revenue-commission",
                            "kpi": "revenue",
                            "tiers": [{"from": "0", "rate": "0.025"}],
                        }
                    ],
                    "reason": "rate raised from December",
                }
            ]
        },
        extra="forbid",
        str_strip_whitespace=True,
    )

    name_zh: Annotated[str, Field(min_length=1, max_length=200)]
    name_en: Annotated[str, Field(min_length=1, max_length=200)]
    components: Annotated[list[Component], Field(min_length=1, max_length=30)]
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class PlanVersionOut(BaseModel):
    """One version of a plan."""

    version: int
    recorded_at: datetime
    author: str
    reason: str
    components: list[Component]
    names: dict[str, str]


class PlanOut(BaseModel):
    """A plan: its current version and, on request, every version."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "key": "am-2026",
                    "names": {"zh-CN": "客户经理提成方案", "en": "Account manager plan"},
                    "current_version": 2,
                    "components": [
                        {
                            "type": "commission",
                            "key": "revenue-commission",
                            "kpi": "revenue",
                            "mode": "marginal",
                            "tiers": [{"from": "0", "rate": "0.025"}],
                        }
                    ],
                    "created_at": "2026-12-03T02:00:00Z",
                    "updated_at": "2026-12-03T02:00:00Z",
                    "versions": [
                        {
                            "version": 2,
                            "recorded_at": "2026-12-03T02:00:00Z",
                            "author": "key:baa224dad7d595a1",
                            "reason": "rate raised from December",
                            "components": [
                                {
                                    "type": "commission",
                                    "key": "revenue-commission",
                                    "kpi": "revenue",
                                    "mode": "marginal",
                                    "tiers": [{"from": "0", "rate": "0.025"}],
                                }
                            ],
                            "names": {"zh-CN": "客户经理提成方案", "en": "Account manager plan"},
                        }
                    ],
                }
            ]
        }
    )

    key: str
    names: dict[str, str]
    current_version: int
    components: list[Component]
    created_at: datetime
    updated_at: datetime
    versions: list[PlanVersionOut] | None = None


class PlansOut(BaseModel):
    """The tenant's plans."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "plans": [
                        {
                            "key": "am-2026",
                            "names": {"zh-CN": "客户经理提成方案", "en": "Account manager plan"},
                            "current_version": 2,
                            "components": [
                                {
                                    "type": "commission",
                                    "key": "revenue-commission",
                                    "kpi": "revenue",
                                    "mode": "marginal",
                                    "tiers": [{"from": "0", "rate": "0.025"}],
                                }
                            ],
                            "created_at": "2026-12-03T02:00:00Z",
                            "updated_at": "2026-12-03T02:00:00Z",
                            "versions": None,
                        }
                    ]
                }
            ]
        }
    )

    plans: list[PlanOut]


class AssignmentIn(BaseModel):
    """A plan for one rep, or for every rep of a role, from a day on (to a day, exclusive)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"plan": "am-2026", "role": "account_manager", "valid_from": "2026-01-01"}]
        },
        extra="forbid",
        str_strip_whitespace=True,
    )

    plan: PlanKey
    rep: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    role: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    valid_from: date
    valid_to: date | None = Field(default=None, description="Exclusive; omitted: open-ended.")


class AssignmentOut(BaseModel):
    """A stored assignment."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "plan": "am-2026",
                    "rep": None,
                    "role": "account_manager",
                    "valid_from": "2026-01-01",
                    "valid_to": None,
                    "created_at": "2026-12-03T02:00:00Z",
                    "created_by": "key:baa224dad7d595a1",
                }
            ]
        }
    )

    id: int
    plan: str
    rep: str | None
    role: str | None
    valid_from: date
    valid_to: date | None
    created_at: datetime
    created_by: str


class AssignmentsOut(BaseModel):
    """Assignments, by plan and start."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "assignments": [
                        {
                            "id": 1,
                            "plan": "am-2026",
                            "rep": None,
                            "role": "account_manager",
                            "valid_from": "2026-01-01",
                            "valid_to": None,
                            "created_at": "2026-12-03T02:00:00Z",
                            "created_by": "key:baa224dad7d595a1",
                        }
                    ]
                }
            ]
        }
    )

    assignments: list[AssignmentOut]


class AppliedOut(BaseModel):
    """A gate or modifier as it applied to a line."""

    key: str
    type: str
    passed: bool | None
    factor: Decimal


class FactsRef(BaseModel):
    """Where the facts behind a line are: the KPI, rep and days, and the records route."""

    kpi: str
    rep: str
    start: date | None
    end: date | None
    records: str | None = Field(description="GET this for the records behind the figure.")


class LineOut(BaseModel):
    """One earnings line and every figure it was computed from."""

    kind: Literal["commission", "bonus", "spiff", "pool", "clawback", "true_up"]
    component: str
    plan: str
    version: int
    start: date | None
    end: date | None = Field(description="Exclusive end of the segment's days.")
    share: Decimal = Field(description="The segment's share of the month's days.")
    basis: str
    base: Decimal | None = Field(description="Amount, count or pool the line is computed on.")
    attainment: Decimal | None
    rate: Decimal | None = Field(
        description="Commission: effective rate; bonus and pool: payout fraction; spiff: "
        "amount per unit; clawback: the source month's rate."
    )
    tier: int | None
    factor: Decimal = Field(description="Gates and modifiers multiplied.")
    applied: list[AppliedOut]
    amount: Decimal = Field(description="Rounded to the currency's minor unit, half up.")
    source_period: str | None = None
    team: str | None = None
    split: Decimal | None = None
    facts: FactsRef | None = None


_MESSAGE = (
    'The message in both languages, {"zh-CN": ..., "en": ...} (money in 万 from ten '
    "thousand up in zh-CN prose); `message_code` and `message_params` are the same for "
    "machines (docs/I18N.md)."
)


class NextTierOut(BaseModel):
    """How much more of a KPI reaches the next tier, and what it adds."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "component": "revenue-commission",
                    "kpi": "revenue",
                    "attainment": "1.0000",
                    "more": "10000.0000",
                    "gain": "200.00",
                    "message": {
                        "zh-CN": "再完成 ¥1万 收入，即达 100% 档：+¥200.00",
                        "en": "CN¥10,000.00 more Revenue reaches the 100% tier: +CN¥200.00",
                    },
                    "message_code": "incentives.next_tier",
                    "message_params": {
                        "more": {"$money": "10000.0000", "currency": "CNY"},
                        "kpi": {"$l10n": {"zh-CN": "收入", "en": "Revenue"}},
                        "at": {"$pct": "1.0000"},
                        "gain": {"$money": "200.00", "currency": "CNY"},
                    },
                }
            ]
        }
    )

    component: str
    kpi: str
    attainment: Decimal
    more: Decimal
    gain: Decimal
    message: dict[str, str] = Field(description=_MESSAGE)
    message_code: str = Field(description="The catalog code of `message`.")
    message_params: dict[str, Any] = Field(description="The parameters of `message`.")


class ComponentOut(BaseModel):
    """A component's earned and projected totals."""

    component: str
    type: str
    plan: str
    earned: Decimal
    projected: Decimal


class SegmentOut(BaseModel):
    """A plan version on some days of the month."""

    plan: str
    version: int
    names: dict[str, str]
    start: date
    end: date
    share: Decimal


class RepEarningsOut(BaseModel):
    """A rep's earnings for the month at ``as_of``."""

    rep: str
    name: str | None
    team: str | None
    plans: list[SegmentOut]
    earned: Decimal
    projected: Decimal
    score: Decimal | None
    components: list[ComponentOut]
    lines: list[LineOut]
    next_tiers: list[NextTierOut]


class PoolOut(BaseModel):
    """A team pool: its size at the team's attainment and what its members get."""

    team: str
    plan: str
    component: str
    attainment: Decimal | None
    pool: Decimal
    allocated: Decimal


class EarningsOut(BaseModel):
    """Earnings of a rep or a team's reps for a month, as of a moment."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scope": "rep:r-001",
                    "period": "2026-11",
                    "as_of": "2026-12-03T02:00:00Z",
                    "known_at": None,
                    "currency": "CNY",
                    "working_days_elapsed": 21,
                    "working_days_total": 21,
                    "closed": False,
                    "earned": "3000.00",
                    "projected": "3000.00",
                    "reps": [
                        {
                            "rep": "r-001",
                            "name": "王芳",
                            "team": "north-bj",
                            "plans": [
                                {
                                    "plan": "am-2026",
                                    "version": 2,
                                    "names": {
                                        "zh-CN": "客户经理提成方案",
                                        "en": "Account manager plan",
                                    },
                                    "start": "2026-11-01",
                                    "end": "2026-12-01",
                                    "share": "1.0000",
                                }
                            ],
                            "earned": "3000.00",
                            "projected": "3000.00",
                            "score": None,
                            "components": [
                                {
                                    "component": "revenue-commission",
                                    "type": "commission",
                                    "plan": "am-2026",
                                    "earned": "3000.00",
                                    "projected": "3000.00",
                                }
                            ],
                            "lines": [
                                {
                                    "kind": "commission",
                                    "component": "revenue-commission",
                                    "plan": "am-2026",
                                    "version": 2,
                                    "start": "2026-11-01",
                                    "end": "2026-12-01",
                                    "share": "1.0000",
                                    "basis": "revenue",
                                    "base": "120000.0000",
                                    "attainment": None,
                                    "rate": "0.02500000",
                                    "tier": 0,
                                    "factor": "1.0000",
                                    "applied": [],
                                    "amount": "3000.00",
                                    "source_period": None,
                                    "team": None,
                                    "split": None,
                                    "facts": {
                                        "kpi": "revenue",
                                        "rep": "r-001",
                                        "start": "2026-11-01",
                                        "end": "2026-12-01",
                                        "records": (
                                            "/v1/facts/records?kpi=revenue&scope=rep%3Ar-001&from=2026-11-01&to=2026-11-30"
                                        ),
                                    },
                                }
                            ],
                            "next_tiers": [],
                        }
                    ],
                    "pools": [],
                }
            ]
        }
    )

    scope: str
    period: str
    as_of: datetime
    known_at: datetime | None
    currency: str
    working_days_elapsed: int
    working_days_total: int
    closed: bool
    earned: Decimal
    projected: Decimal
    reps: list[RepEarningsOut]
    pools: list[PoolOut]


class HypotheticalDeal(BaseModel):
    """A deal that might be won: it counts wherever a won deal would."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    amount: Annotated[Decimal, Field(ge=0, le=Decimal(10) ** 12, max_digits=24, decimal_places=4)]
    day: date | None = Field(default=None, description="The day it is won; default: as_of.")
    customer_id: Annotated[str, Field(max_length=200)] | None = None
    is_new_customer: bool = False
    margin: (
        Annotated[Decimal, Field(ge=-(Decimal(10) ** 12), le=Decimal(10) ** 12, max_digits=24)]
        | None
    ) = None


class WhatIfIn(BaseModel):
    """Hypothetical deals for one rep and month."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rep": "r-001",
                    "period": "2026-12",
                    "deals": [{"amount": "200000", "is_new_customer": True}],
                }
            ]
        },
        extra="forbid",
        str_strip_whitespace=True,
    )

    rep: Annotated[str, Field(min_length=1, max_length=200)]
    period: Annotated[str, Field(min_length=7, max_length=16)]
    as_of: datetime | None = None
    deals: Annotated[list[HypotheticalDeal], Field(min_length=1, max_length=100)]


class WhatIfOut(BaseModel):
    """Earnings now, with the hypothetical deals, and the difference."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rep": "r-001",
                    "period": "2026-12",
                    "as_of": "2026-12-03T02:00:00Z",
                    "currency": "CNY",
                    "earned": "0.00",
                    "earned_with": "5000.00",
                    "gain": "5000.00",
                    "projected": "0.00",
                    "projected_with": "5000.00",
                    "components": [
                        {
                            "component": "revenue-commission",
                            "type": "commission",
                            "plan": "am-2026",
                            "earned": "5000.00",
                            "projected": "0.00",
                        }
                    ],
                    "lines": [
                        {
                            "kind": "commission",
                            "component": "revenue-commission",
                            "plan": "am-2026",
                            "version": 2,
                            "start": "2026-12-01",
                            "end": "2027-01-01",
                            "share": "1.0000",
                            "basis": "revenue",
                            "base": "200000.0000",
                            "attainment": "0.3636",
                            "rate": "0.02500000",
                            "tier": 0,
                            "factor": "1.0000",
                            "applied": [],
                            "amount": "5000.00",
                            "source_period": None,
                            "team": None,
                            "split": None,
                            "facts": {
                                "kpi": "revenue",
                                "rep": "r-001",
                                "start": "2026-12-01",
                                "end": "2027-01-01",
                                "records": (
                                    "/v1/facts/records?kpi=revenue&scope=rep%3Ar-001&from=2026-12-01&to=2026-12-31"
                                ),
                            },
                        }
                    ],
                    "message": {
                        "zh-CN": "这些成交将使本月激励增加 ¥5,000.00（合计 ¥5,000.00）",
                        "en": (
                            "These deals would add CN¥5,000.00 to this month's earnings "
                            "(CN¥5,000.00 in all)"
                        ),
                    },
                    "message_code": "incentives.what_if",
                    "message_params": {
                        "gain": {"$money": "5000.00", "currency": "CNY"},
                        "total": {"$money": "5000.00", "currency": "CNY"},
                    },
                }
            ]
        }
    )

    rep: str
    period: str
    as_of: datetime
    currency: str
    earned: Decimal
    earned_with: Decimal
    gain: Decimal
    projected: Decimal
    projected_with: Decimal
    components: list[ComponentOut]
    lines: list[LineOut]
    message: dict[str, str] = Field(description=_MESSAGE)
    message_code: str = Field(description="The catalog code of `message`.")
    message_params: dict[str, Any] = Field(description="The parameters of `message`.")


class StatementsIn(BaseModel):
    """Generate (or regenerate) draft statements for a closed month."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"period": "2026-11", "reps": ["r-001"]}]},
        extra="forbid",
        str_strip_whitespace=True,
    )

    period: Annotated[str, Field(min_length=7, max_length=16)]
    reps: Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=5000)] | None = (
        None
    )


class StatementAction(BaseModel):
    """A workflow step's note."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"note": "checked against the CRM export"}]},
        extra="forbid",
        str_strip_whitespace=True,
    )

    note: Reason = ""


class StatementOut(BaseModel):
    """A rep's statement for a closed month: frozen lines, total, workflow."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "rep": "r-001",
                    "name": "王芳",
                    "period": "2026-11",
                    "status": "draft",
                    "currency": "CNY",
                    "total": "3000.00",
                    "lines": [
                        {
                            "kind": "commission",
                            "component": "revenue-commission",
                            "plan": "am-2026",
                            "version": 2,
                            "start": "2026-11-01",
                            "end": "2026-12-01",
                            "share": "1.0000",
                            "basis": "revenue",
                            "base": "120000.0000",
                            "attainment": None,
                            "rate": "0.02500000",
                            "tier": 0,
                            "factor": "1.0000",
                            "applied": [],
                            "amount": "3000.00",
                            "source_period": None,
                            "team": None,
                            "split": None,
                            "facts": {
                                "kpi": "revenue",
                                "rep": "r-001",
                                "start": "2026-11-01",
                                "end": "2026-12-01",
                                "records": (
                                    "/v1/facts/records?kpi=revenue&scope=rep%3Ar-001&from=2026-11-01&to=2026-11-30"
                                ),
                            },
                        }
                    ],
                    "plans": [
                        {
                            "plan": "am-2026",
                            "version": 2,
                            "names": {"zh-CN": "客户经理提成方案", "en": "Account manager plan"},
                            "start": "2026-11-01",
                            "end": "2026-12-01",
                            "share": "1.0000",
                        }
                    ],
                    "known_at": "2026-12-03T02:00:00Z",
                    "generated_at": "2026-12-03T02:00:00Z",
                    "generated_by": "key:57d38affb5a0e361",
                    "approved_at": None,
                    "approved_by": None,
                    "paid_at": None,
                    "paid_by": None,
                    "note": "",
                }
            ]
        }
    )

    id: int
    rep: str
    name: str | None
    period: str
    status: Literal["draft", "approved", "paid"]
    currency: str
    total: Decimal
    lines: list[LineOut]
    plans: list[SegmentOut]
    known_at: datetime
    generated_at: datetime
    generated_by: str
    approved_at: datetime | None
    approved_by: str | None
    paid_at: datetime | None
    paid_by: str | None
    note: str


class StatementsOut(BaseModel):
    """Statements of a month."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "period": "2026-11",
                    "statements": [
                        {
                            "id": 1,
                            "rep": "r-001",
                            "name": "王芳",
                            "period": "2026-11",
                            "status": "draft",
                            "currency": "CNY",
                            "total": "3000.00",
                            "lines": [
                                {
                                    "kind": "commission",
                                    "component": "revenue-commission",
                                    "plan": "am-2026",
                                    "version": 2,
                                    "start": "2026-11-01",
                                    "end": "2026-12-01",
                                    "share": "1.0000",
                                    "basis": "revenue",
                                    "base": "120000.0000",
                                    "attainment": None,
                                    "rate": "0.02500000",
                                    "tier": 0,
                                    "factor": "1.0000",
                                    "applied": [],
                                    "amount": "3000.00",
                                    "source_period": None,
                                    "team": None,
                                    "split": None,
                                    "facts": {
                                        "kpi": "revenue",
                                        "rep": "r-001",
                                        "start": "2026-11-01",
                                        "end": "2026-12-01",
                                        "records": (
                                            "/v1/facts/records?kpi=revenue&scope=rep%3Ar-001&from=2026-11-01&to=2026-11-30"
                                        ),
                                    },
                                }
                            ],
                            "plans": [
                                {
                                    "plan": "am-2026",
                                    "version": 2,
                                    "names": {
                                        "zh-CN": "客户经理提成方案",
                                        "en": "Account manager plan",
                                    },
                                    "start": "2026-11-01",
                                    "end": "2026-12-01",
                                    "share": "1.0000",
                                }
                            ],
                            "known_at": "2026-12-03T02:00:00Z",
                            "generated_at": "2026-12-03T02:00:00Z",
                            "generated_by": "key:57d38affb5a0e361",
                            "approved_at": None,
                            "approved_by": None,
                            "paid_at": None,
                            "paid_by": None,
                            "note": "",
                        }
                    ],
                    "total": "3000.00",
                }
            ]
        }
    )

    period: str | None
    statements: list[StatementOut]
    total: Decimal
