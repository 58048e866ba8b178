"""Audit log shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": 7,
                            "at": "2026-11-26T02:00:00Z",
                            "actor": "key:d0728804a1e7e8f7",
                            "action": "keys.create",
                            "target": "key:5f064dadd809b648",
                            "before": None,
                            "after": {
                                "id": "5f064dadd809b648",
                                "tenant_id": "default",
                                "name": "hubspot-sync",
                                "prefix": "pl_5f064dad",
                                "scopes": ["ingest"],
                                "created_at": "2026-11-26T02:00:00Z",
                                "expires_at": "2027-12-31T23:59:59+08:00",
                                "revoked_at": None,
                            },
                            "request_id": "a6937632c99249048cd9c2d893e3eea4",
                        }
                    ],
                    "next_cursor": "7",
                }
            ]
        }
    )

    items: list[AuditEntryOut]
    next_cursor: str | None
