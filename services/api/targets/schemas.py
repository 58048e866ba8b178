"""Target shapes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Value = Annotated[Decimal, Field(ge=0, le=Decimal(10) ** 15, max_digits=30, decimal_places=6)]


class TargetIn(BaseModel):
    """A new target."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

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

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    target: Value
    baseline: Value | None = None
    stretch: Value | None = None
    reason: Annotated[str, Field(max_length=2000)] = ""


class Acknowledgement(BaseModel):
    """A rep (or their manager for them) acknowledging a target."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    by: Annotated[
        str, Field(min_length=1, max_length=200, description="Who acknowledges (e.g. the rep id).")
    ]


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
    versions: list[TargetVersionOut] = []
