"""Shapes of the quarantine API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class QuarantineOut(BaseModel):
    """A kept item: why it could not be mapped, and what became of it."""

    id: int
    source: str
    item_key: str
    object_type: str | None
    record_id: str | None
    reason_code: str = Field(
        description="unparseable, unknown_object, unknown_value, no_owner, unknown_owner, "
        "incomplete, invalid_event, enrichment_failed or gap"
    )
    reason: str
    status: str = Field(description="pending, replayed, superseded or discarded")
    occurrences: int
    attempts: int
    received_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    result: dict[str, Any] | None
    item: dict[str, Any] | None = Field(
        default=None, description="the vendor item as received (single-item reads only)"
    )


class QuarantinePage(BaseModel):
    """A page of items."""

    items: list[QuarantineOut]
    next_after_id: int | None
    next_cursor: str | None = Field(
        default=None, description="The cursor of the next page (next_after_id as a string)."
    )


class ReplayOut(BaseModel):
    """What a replay did, per item."""

    replayed: int = Field(description="items that now map completely")
    still_pending: int
    results: list[QuarantineOut]
