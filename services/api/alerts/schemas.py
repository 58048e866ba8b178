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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": 1,
                            "kind": "data_quality",
                            "type": "backdated",
                            "dedup_key": "backdated:api:2026-11-26",
                            "scope": "company",
                            "team": None,
                            "severity": "warning",
                            "status": "open",
                            "title": (
                                "Back-dated events from 'api' on 2026-11-26: event times "
                                "more than 7 days before their arrival"
                            ),
                            "detail": {
                                "source": "api",
                                "day": "2026-11-26",
                                "count": 3,
                                "events": ["deal-1-v1", "deal-2-v1", "deal-3-v1"],
                            },
                            "occurrences": 1,
                            "first_seen_at": "2026-11-26T02:00:00Z",
                            "last_seen_at": "2026-11-26T02:00:00Z",
                            "acknowledged_at": None,
                            "acknowledged_by": None,
                            "resolved_at": None,
                        }
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )

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
