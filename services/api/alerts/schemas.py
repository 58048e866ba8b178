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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 42,
                    "kind": "lag",
                    "type": "lag",
                    "dedup_key": "lag:revenue:rep:r-001:2026-11",
                    "scope": "rep:r-001",
                    "team": "north-bj",
                    "severity": "warning",
                    "status": "acknowledged",
                    "title": (
                        "王芳 is behind on revenue for 2026-11: 180,000 of 452,381 expected (pace "
                        "0.40)"
                    ),
                    "detail": {
                        "kpi": "revenue",
                        "period": "2026-11",
                        "actual": "180000.0000",
                        "expected": "452380.9524",
                        "pace": "0.3979",
                        "status": "at_risk",
                    },
                    "occurrences": 3,
                    "first_seen_at": "2026-11-24T02:00:00Z",
                    "last_seen_at": "2026-11-26T02:00:00Z",
                    "acknowledged_at": "2026-11-26T03:12:00Z",
                    "acknowledged_by": "key:d0728804a1e7e8f7",
                    "resolved_at": None,
                    "history": [
                        {
                            "id": 101,
                            "action": "opened",
                            "at": "2026-11-24T02:00:00Z",
                            "actor": "system",
                            "severity": "warning",
                            "status": "open",
                            "note": "",
                        },
                        {
                            "id": 107,
                            "action": "acknowledged",
                            "at": "2026-11-26T03:12:00Z",
                            "actor": "key:d0728804a1e7e8f7",
                            "severity": "warning",
                            "status": "acknowledged",
                            "note": "talked to the rep; deals are in the pipeline",
                        },
                    ],
                }
            ]
        }
    )

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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "team": "north",
                    "kind": "weekly",
                    "period": "2026-W48",
                    "created_at": "2026-11-30T01:00:00Z",
                    "body": {
                        "team": "north",
                        "week": "2026-W48",
                        "kpis": [
                            {
                                "kpi": "revenue",
                                "actual": "660000.0000",
                                "target": "900000.0000",
                                "status": "behind",
                            }
                        ],
                        "open_alerts": 2,
                    },
                }
            ]
        }
    )

    id: int
    team: str
    kind: str
    period: str
    created_at: datetime
    body: dict[str, Any]
