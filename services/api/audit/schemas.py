"""Audit log shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class AuditEntryOut(BaseModel):
    """One admin action: who, when, what, before and after (secrets redacted)."""

    id: int
    at: datetime
    actor: str = Field(description="key:<id> of the API key that acted, or cli.")
    action: str = Field(description="e.g. keys.create, org.replace, targets.revise")
    target: str = Field(description="What was acted on, e.g. key:<id>, team:north, target:12")
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None


class AuditPage(BaseModel):
    """A page of the audit log, newest first."""

    items: list[AuditEntryOut]
    next_cursor: str | None
