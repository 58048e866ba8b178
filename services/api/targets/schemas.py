"""Target shapes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Value = Annotated[Decimal, Field(ge=0, le=Decimal(10) ** 15, max_digits=30, decimal_places=6)]


class TargetIn(BaseModel):
    """A new target."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kpi": "revenue",
                    "scope": "rep:r-001",
                    "period": "2026-12",
                    "target": "500000",
                    "baseline": "400000",
                    "stretch": "600000",
                    "reason": "FY26 plan",
                }
            ]
        },
        extra="forbid",
        str_strip_whitespace=True,
    )

    kpi: Annotated[str, Field(min_length=1, max_length=64)]
    scope: Annotated[
        str, Field(min_length=1, max_length=210, description="company, team:ID, rep:ID")
    ]
    period: Annotated[
        str, Field(min_length=4, max_length=16, description="2026, 2026-Q4, 2026-11, 2026-W48")
    ]
    target: Value
    baseline: Value | None = Field(default=None, description="The floor: below it is a miss.")
    stretch: Value | None = Field(default=None, description="The ambitious value.")
    parent_id: int | None = Field(
        default=None, ge=1, le=2**63 - 1, description="The target this one was split from."
    )
    reason: Annotated[str, Field(max_length=2000)] = ""


class TargetRevision(BaseModel):
    """New values for a target: a new version. A change after the period started needs a reason."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "target": "550000",
                    "reason": "new key account moved to this rep",
                    "children": "keep",
                }
            ]
        },
        extra="forbid",
        str_strip_whitespace=True,
    )

    target: Value
    baseline: Value | None = None
    stretch: Value | None = None
    reason: Annotated[str, Field(max_length=2000)] = ""
    children: Literal["keep", "resplit"] = Field(
        default="keep",
        description="The targets split from this one (parent_id): keep them as they are (a "
        "plan_mismatch finding says when they no longer add up), or resplit the new values "
        "over them in the proportions of their current targets, each child a new version "
        "with the same reason. Sum and count KPIs only.",
    )
    recursive: bool = Field(
        default=False,
        description="With children: resplit, re-split every level below too (the children's "
        "children from the children's new values, and so on).",
    )


class FindingOut(BaseModel):
    """A rule the plan breaks, how bad it is, and the fix."""

    rule: str
    code: str = Field(description="The rule, for machines (the same as rule).")
    severity: Literal["error", "warning", "info"]
    message: str = Field(description="What is wrong, in the caller's language.")
    message_code: str = Field(description="The message's catalog code, for machines.")
    message_params: dict[str, Any] = Field(description="The message's parameters.")
    fix: str = Field(description="What to do about it, in the caller's language.")
    fix_code: str = Field(description="The fix's catalog code, for machines.")
    fix_params: dict[str, Any] = Field(description="The fix's parameters.")
    kpi: str | None = None
    target_index: int | None = None
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="The values the finding is about (plan_mismatch: target_id, scope, "
        "period, split, children_period_kind, children, parent_value, children_sum, "
        "difference), for machines.",
    )


class Acknowledgement(BaseModel):
    """A rep (or their manager for them) acknowledging a target."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"by": "r-001"}]}, extra="forbid", str_strip_whitespace=True
    )

    by: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=200,
            description="The rep who acknowledges (their rep id). A rep's own key or sign-in "
            "may leave it out; anyone else records it on the rep's behalf.",
        ),
    ] = None


class TargetVersionOut(BaseModel):
    """One version of a target, with who set it, when and why."""

    version: int
    target: Decimal
    baseline: Decimal | None
    stretch: Decimal | None
    recorded_at: datetime
    author: str
    reason: str


class TargetOut(BaseModel):
    """A target with its current values."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "kpi": "revenue",
                    "scope": "rep:r-001",
                    "period": "2026-11",
                    "period_kind": "month",
                    "start": "2026-11-01",
                    "end": "2026-12-01",
                    "parent_id": None,
                    "version": 1,
                    "target": "500000",
                    "baseline": "400000",
                    "stretch": "600000",
                    "direction": "higher",
                    "acknowledged": False,
                    "acknowledged_at": None,
                    "acknowledged_by": None,
                    "acknowledged_version": None,
                    "versions": [
                        {
                            "version": 1,
                            "target": "500000",
                            "baseline": "400000",
                            "stretch": "600000",
                            "recorded_at": "2026-11-26T02:00:00Z",
                            "author": "key:d0728804a1e7e8f7",
                            "reason": "FY26 plan",
                        }
                    ],
                    "findings": [],
                }
            ]
        }
    )

    id: int
    kpi: str
    scope: str
    period: str
    period_kind: Literal["year", "quarter", "month", "week"]
    start: date
    end: date
    parent_id: int | None
    version: int
    target: Decimal
    baseline: Decimal | None
    stretch: Decimal | None
    direction: Literal["higher", "lower"]
    acknowledged: bool = Field(description="Acknowledged in its current version.")
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledged_version: int | None
    acknowledged_recorded_by: str | None = Field(
        default=None,
        description="Who recorded the acknowledgement: user:<id> of the rep themselves, or of "
        "a manager or admin on their behalf (then it differs from the rep's own user); "
        "key:<id> for a service key.",
    )
    versions: list[TargetVersionOut] = []
    findings: list[FindingOut] = Field(
        default=[],
        description="plan_mismatch: this target's children (org, or one finer period kind) "
        "do not add up to it (sum and count KPIs).",
    )


class ChildRevisionOut(BaseModel):
    """A target below a revised one, and the values a re-split gives it."""

    id: int
    scope: str
    period: str
    period_kind: str
    parent_id: int
    depth: int = Field(description="1: a child of the revised target; 2: a grandchild...")
    split: Literal["org", "time"] = Field(
        description="org: a scope under the parent in its period; time: a finer period."
    )
    share: Decimal = Field(description="Share of its parent's target (its current proportion).")
    target: Decimal
    baseline: Decimal | None
    stretch: Decimal | None
    old_target: Decimal
    old_baseline: Decimal | None
    old_stretch: Decimal | None
    version: int | None = Field(description="The new version (a preview: none).")


class TargetRevisedOut(TargetOut):
    """A revised target, with the targets below it that were re-split."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "kpi": "revenue",
                    "scope": "rep:r-001",
                    "period": "2026-11",
                    "period_kind": "month",
                    "start": "2026-11-01",
                    "end": "2026-12-01",
                    "parent_id": None,
                    "version": 2,
                    "target": "550000",
                    "baseline": None,
                    "stretch": None,
                    "direction": "higher",
                    "acknowledged": False,
                    "acknowledged_at": None,
                    "acknowledged_by": None,
                    "acknowledged_version": None,
                    "versions": [
                        {
                            "version": 1,
                            "target": "500000",
                            "baseline": "400000",
                            "stretch": "600000",
                            "recorded_at": "2026-11-26T02:00:00Z",
                            "author": "key:d0728804a1e7e8f7",
                            "reason": "FY26 plan",
                        },
                        {
                            "version": 2,
                            "target": "550000",
                            "baseline": None,
                            "stretch": None,
                            "recorded_at": "2026-11-26T02:00:00Z",
                            "author": "key:d0728804a1e7e8f7",
                            "reason": "new key account moved to this rep",
                        },
                    ],
                    "findings": [],
                    "children_revised": [],
                }
            ]
        }
    )

    children_revised: list[ChildRevisionOut] = []


class RevisionPreviewOut(BaseModel):
    """What a revision would do, saving nothing."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "kpi": "revenue",
                    "scope": "rep:r-001",
                    "period": "2026-12",
                    "children": "resplit",
                    "recursive": False,
                    "places": 2,
                    "target": "550000",
                    "baseline": None,
                    "stretch": None,
                    "old_target": "550000",
                    "old_baseline": None,
                    "old_stretch": None,
                    "changes": [],
                    "findings": [],
                }
            ]
        }
    )

    id: int
    kpi: str
    scope: str
    period: str
    children: Literal["keep", "resplit"]
    recursive: bool
    places: int = Field(description="Decimals of the split (the currency's minor unit; 0).")
    target: Decimal
    baseline: Decimal | None
    stretch: Decimal | None
    old_target: Decimal
    old_baseline: Decimal | None
    old_stretch: Decimal | None
    changes: list[ChildRevisionOut] = Field(
        description="Every target below that would get a new version (children: resplit)."
    )
    findings: list[FindingOut] = Field(
        description="plan_mismatch findings that would remain in the whole plan tree "
        "(its parents included) after the revision."
    )
