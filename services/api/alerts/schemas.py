"""Alert shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class AlertOut(BaseModel):
    """An alert: one per dedup key, with its lifecycle state."""

    id: int
    kind: str = Field(description="lag | anomaly | data_quality | system")
    type: str = Field(description="e.g. lag, rep_silent, anomaly_low, burst, unknown_rep")
    dedup_key: str
    scope: str
    team: str | None = Field(default=None, description="The team of a rep or team scope.")
    severity: str = Field(description="info | warning | critical")
    status: str = Field(description="open | acknowledged | resolved")
    title: str
    detail: dict[str, Any]
    occurrences: int
    first_seen_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None


class AlertEventOut(BaseModel):
    """One change in an alert's history."""

    id: int
    action: str = Field(
        description="opened, reopened, escalated, deescalated, acknowledged, resolved"
    )
    at: datetime
    actor: str
    severity: str
    status: str
    note: str


class AlertWithHistory(AlertOut):
    """An alert and every change it went through, oldest first."""

    history: list[AlertEventOut]


class AlertsPage(BaseModel):
    """A page of alerts, newest first."""

    items: list[AlertOut]
    next_cursor: str | None = Field(
        description="Pass as cursor for the next page; null at the end."
    )


class AlertAction(BaseModel):
    """An optional note for an acknowledgement or a resolution."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"note": "talked to the rep; deals are in the pipeline"}]},
        extra="forbid",
        str_strip_whitespace=True,
    )

    note: Annotated[str, Field(max_length=2000)] = ""


class DigestOut(BaseModel):
    """A digest made for a team and period."""

    id: int
    team: str
    kind: str
    period: str
    created_at: datetime
    body: dict[str, Any]
