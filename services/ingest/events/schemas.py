"""Request and response shapes of the canonical event intake."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class FieldProblem(BaseModel):
    """One field of one event that failed validation."""

    field: str
    reason: str


class EventResult(BaseModel):
    """What happened to one event of the request."""

    index: int = Field(description="Position in the request (0-based; the line for NDJSON).")
    event_id: str | None = None
    status: Literal["accepted", "duplicate", "rejected"] = Field(
        description=(
            "accepted: durably in the event log (a resend of an id already processed is "
            "also accepted, and ignored by scoring); duplicate: the same event_id appeared "
            "earlier in this request; rejected: not valid, see errors."
        )
    )
    errors: list[FieldProblem] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class IngestResponse(BaseModel):
    """Per-event results of an intake request."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "accepted": 4,
                    "duplicates": 0,
                    "rejected": 0,
                    "results": [
                        {
                            "index": 0,
                            "event_id": "deal-1-v1",
                            "status": "accepted",
                            "errors": [],
                            "warnings": [],
                        },
                        {
                            "index": 1,
                            "event_id": "deal-2-v1",
                            "status": "accepted",
                            "errors": [],
                            "warnings": [],
                        },
                    ],
                }
            ]
        }
    )

    accepted: int
    duplicates: int
    rejected: int
    results: list[EventResult]
