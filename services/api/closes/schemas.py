"""Month close (月结) shapes: closes, reopens and the adjustments they cause."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Reason = Annotated[str, Field(max_length=2000)]


class CloseIn(BaseModel):
    """Close a month: its figures hold still from now on."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"period": "2026-11", "reason": "November books closed"}]},
        extra="forbid",
        str_strip_whitespace=True,
    )

    period: Annotated[str, Field(min_length=7, max_length=7, examples=["2026-11"])] = Field(
        description="The month to close, e.g. 2026-11 (it must have ended)."
    )
    reason: Reason = ""


class ReopenIn(BaseModel):
    """Reopen a closed month (admin): later changes count in it again."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "a won deal was booked to the wrong rep"}]},
        extra="forbid",
        str_strip_whitespace=True,
    )

    reason: Annotated[str, Field(min_length=1, max_length=2000)] = Field(
        description="Why the month is reopened (kept in the audit log and with the close)."
    )


class CloseOut(BaseModel):
    """One close of a month, and its reopening if any."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "period": "2026-10",
                    "start": "2026-10-01",
                    "end": "2026-11-01",
                    "policy": "adjust",
                    "status": "closed",
                    "closed_at": "2026-11-26T02:00:00Z",
                    "closed_by": "key:d0728804a1e7e8f7",
                    "reason": "October books closed",
                    "reopened_at": None,
                    "reopened_by": None,
                    "reopen_reason": None,
                }
            ]
        }
    )

    id: int
    period: str
    start: date
    end: date
    policy: Literal["adjust", "restate"]
    status: Literal["closed", "reopened"]
    closed_at: datetime
    closed_by: str
    reason: str
    reopened_at: datetime | None = None
    reopened_by: str | None = None
    reopen_reason: str | None = None


class ClosesOut(BaseModel):
    """Every close of the tenant, newest first, and the policy new closes get."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "policy": "adjust",
                    "closed": ["2026-10"],
                    "closes": [
                        {
                            "id": 1,
                            "period": "2026-10",
                            "start": "2026-10-01",
                            "end": "2026-11-01",
                            "policy": "adjust",
                            "status": "closed",
                            "closed_at": "2026-11-26T02:00:00Z",
                            "closed_by": "key:d0728804a1e7e8f7",
                            "reason": "October books closed",
                            "reopened_at": None,
                            "reopened_by": None,
                            "reopen_reason": None,
                        }
                    ],
                }
            ]
        }
    )

    policy: Literal["adjust", "restate"]
    closed: list[str] = Field(description="The months closed now, oldest first.")
    closes: list[CloseOut]


class AdjustmentOut(BaseModel):
    """A change that arrived for a closed month, and where it went."""

    id: int
    kind: Literal["adjust", "restate", "frozen"] = Field(
        description="adjust: booked to booked_period; restate: counted in the closed month; "
        "frozen: a distinct member (e.g. a new customer) that moves no count."
    )
    kpi: str
    rep_id: str
    measure: int
    source_period: str
    source_day: date
    booked_period: str | None
    booked_day: date | None
    value: Decimal | None = Field(description="The change of the measure (None for members).")
    records: int = Field(description="The change of the record count behind the measure.")
    member: str | None = None
    known_at: datetime = Field(description="When Paceline learned it (the event's receipt).")
    record_type: str
    record_id: str
    event_id: str | None
    source: str | None


class AdjustmentsOut(BaseModel):
    """A page of adjustments."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": 12,
                            "kind": "adjust",
                            "kpi": "revenue",
                            "rep_id": "r-001",
                            "measure": 0,
                            "source_period": "2026-11",
                            "source_day": "2026-11-28",
                            "booked_period": "2026-12",
                            "booked_day": "2026-12-01",
                            "value": "-20000.0000",
                            "records": 0,
                            "member": None,
                            "known_at": "2026-12-02T03:15:00Z",
                            "record_type": "deal",
                            "record_id": "deal-123",
                            "event_id": "crm-123-v3",
                            "source": "hubspot",
                        }
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )

    items: list[AdjustmentOut]
    next_cursor: str | None = None
