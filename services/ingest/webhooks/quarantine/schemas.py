"""Shapes of the quarantine API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FixOut(BaseModel):
    """What would fix an item: a code, its parameters, and the message (its catalog code
    is ``webhooks.fix.<code>``)."""

    code: str = Field(description="credential_missing or credential_rejected")
    params: dict[str, str] = Field(description="vendor and credential (the secret's name)")
    message: str = Field(description="the message in the caller's language")


class QuarantineOut(BaseModel):
    """A kept item: why it could not be mapped, and what became of it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 17,
                    "source": "hubspot",
                    "item_key": "hs-0-3-1234-1764300000000-1-dealstage",
                    "object_type": "deal",
                    "record_id": "1234",
                    "reason_code": "unknown_owner",
                    "reason": "deal 1234：负责人 10002 不在映射的 owners 中",
                    "reason_message_code": "webhooks.map.unknown_owner",
                    "reason_message_params": {"object": "deal", "id": "1234", "owner": "10002"},
                    "status": "pending",
                    "occurrences": 1,
                    "attempts": 1,
                    "received_at": "2026-11-26T02:00:00Z",
                    "last_seen_at": "2026-11-26T02:00:00Z",
                    "resolved_at": None,
                    "resolved_by": None,
                    "result": None,
                }
            ]
        }
    )

    id: int
    source: str
    item_key: str
    object_type: str | None
    record_id: str | None
    reason_code: str = Field(
        description="unparseable, unknown_object, unknown_value, no_owner, unknown_owner, "
        "incomplete, invalid_event, enrichment_failed or gap"
    )
    reason: str = Field(description="why, in the caller's language")
    reason_message_code: str = Field(
        default="webhooks.reason.text",
        description="the catalog code of `reason` (`reason_code` is the kind of problem)",
    )
    reason_message_params: dict[str, Any] = Field(
        default_factory=dict, description="the parameters of `reason`"
    )
    status: str = Field(description="pending, replayed, superseded or discarded")
    occurrences: int
    attempts: int
    received_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    result: dict[str, Any] | None
    fix: FixOut | None = Field(
        default=None,
        description="what would fix a pending item (e.g. the connector secret that lets "
        "Paceline read the whole record through the vendor's API); items it names are "
        "retried automatically when the connector's secrets change",
    )
    item: dict[str, Any] | None = Field(
        default=None, description="the vendor item as received (single-item reads only)"
    )


class QuarantinePage(BaseModel):
    """A page of items."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": 17,
                            "source": "hubspot",
                            "item_key": "hs-0-3-1234-1764300000000-1-dealstage",
                            "object_type": "deal",
                            "record_id": "1234",
                            "reason_code": "unknown_owner",
                            "reason": "deal 1234：负责人 10002 不在映射的 owners 中",
                            "reason_message_code": "webhooks.map.unknown_owner",
                            "reason_message_params": {
                                "object": "deal",
                                "id": "1234",
                                "owner": "10002",
                            },
                            "status": "pending",
                            "occurrences": 1,
                            "attempts": 1,
                            "received_at": "2026-11-26T02:00:00Z",
                            "last_seen_at": "2026-11-26T02:00:00Z",
                            "resolved_at": None,
                            "resolved_by": None,
                            "result": None,
                        }
                    ],
                    "next_after_id": None,
                    "next_cursor": None,
                }
            ]
        }
    )

    items: list[QuarantineOut]
    next_after_id: int | None
    next_cursor: str | None = Field(
        default=None, description="The cursor of the next page (next_after_id as a string)."
    )


class ReplayOut(BaseModel):
    """What a replay did, per item."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "replayed": 1,
                    "still_pending": 0,
                    "results": [
                        {
                            "id": 17,
                            "source": "hubspot",
                            "item_key": "hs-0-3-1234-1764300000000-1-dealstage",
                            "object_type": "deal",
                            "record_id": "1234",
                            "reason_code": "unknown_owner",
                            "reason": "deal 1234：负责人 10002 不在映射的 owners 中",
                            "reason_message_code": "webhooks.map.unknown_owner",
                            "reason_message_params": {
                                "object": "deal",
                                "id": "1234",
                                "owner": "10002",
                            },
                            "status": "replayed",
                            "occurrences": 1,
                            "attempts": 2,
                            "received_at": "2026-11-26T02:00:00Z",
                            "last_seen_at": "2026-11-26T02:00:00Z",
                            "resolved_at": "2026-11-26T03:10:00Z",
                            "resolved_by": "key:d0728804a1e7e8f7",
                            "result": {"event_ids": ["hs-0-3-1234-1764300000000-1"]},
                        }
                    ],
                }
            ]
        }
    )

    replayed: int = Field(description="items that now map completely")
    still_pending: int
    results: list[QuarantineOut]
