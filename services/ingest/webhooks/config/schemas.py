"""Request and response shapes of the connector configuration API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from paceline.ingest.webhooks.mapping import Mapping


class ConnectorIn(BaseModel):
    """Create or replace a connector. Omitted secrets keep their stored values."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "adapter": "hubspot",
                    "enabled": True,
                    "settings": {},
                    "secrets": {"client_secret": "hs-app-secret"},
                }
            ]
        },
        extra="forbid",
    )

    adapter: str | None = Field(
        default=None,
        description="hubspot, pipedrive, salesforce, zoho or generic (default: the source's "
        "own adapter, else generic)",
    )
    enabled: bool = True
    settings: dict[str, Any] = Field(
        default_factory=dict, description="see GET /v1/connector-adapters"
    )
    secrets: dict[str, str] = Field(
        default_factory=dict,
        description="write-only; stored encrypted, never returned. Secrets the adapter can "
        "generate (Standard Webhooks, Pipedrive password, Zoho token) are made up when "
        "missing and returned once in generated_secrets.",
    )
    mapping: Mapping | None = Field(
        default=None, description="omitted: the stored mapping, or the adapter's defaults"
    )


class ConnectorOut(BaseModel):
    """A connector, secrets redacted."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "source": "hubspot",
                    "adapter": "hubspot",
                    "enabled": True,
                    "endpoint_id": "s-_3XRuxZu35Ajypv_s8Aof2FjrVgha3",
                    "webhook_path": (
                        "/v1/webhooks/hubspot?endpoint=s-_3XRuxZu35Ajypv_s8Aof2FjrVgha3"
                    ),
                    "settings": {},
                    "secrets": {"client_secret": "[redacted]"},
                    "mapping": {
                        "objects": {
                            "deal": {
                                "type": "deal",
                                "fields": {
                                    "amount": {
                                        "path": "properties.amount",
                                        "when": None,
                                        "scale": None,
                                    },
                                    "rep_id": "properties.hubspot_owner_id",
                                    "stage": "properties.dealstage",
                                },
                                "values": {"stage": {"lost": ["closedlost"], "won": ["closedwon"]}},
                                "unmatched": {},
                                "defaults": {},
                                "skip_when": {},
                                "deleted_when": {},
                                "attributes": {},
                            }
                        },
                        "ignore_objects": ["ticket"],
                        "owners": {"10001": "r-001"},
                        "unknown_owner": "quarantine",
                        "default_currency": "CNY",
                    },
                    "revision": 3,
                    "created_at": "2026-12-03T02:00:00Z",
                    "updated_at": "2026-12-03T02:00:00Z",
                    "generated_secrets": None,
                }
            ]
        }
    )

    source: str
    adapter: str
    enabled: bool
    endpoint_id: str
    webhook_path: str = Field(description="the path (and query) to configure in the CRM")
    settings: dict[str, Any]
    secrets: dict[str, str] = Field(description="secret names, values redacted")
    mapping: Mapping
    revision: int
    created_at: datetime
    updated_at: datetime
    generated_secrets: dict[str, str] | None = Field(
        default=None,
        description="secrets Paceline made up in this request, in plaintext: shown only once",
    )


class RotateIn(BaseModel):
    """What to renew."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"endpoint": True, "secrets": []}]},
        extra="forbid",
    )

    endpoint: bool = Field(default=True, description="a new endpoint id (the old one stops)")
    secrets: list[str] = Field(
        default_factory=list, description="generated secrets to make up anew"
    )


class AdapterOption(BaseModel):
    """A setting or secret an adapter understands."""

    name: str
    description: str = Field(description="what it is, in the request's language")
    description_code: str = Field(description="the description's catalog code")
    description_params: dict[str, Any] = Field(default_factory=dict)
    secret: bool
    required: bool
    generated: bool


class PresetOut(BaseModel):
    """A built-in setup of the generic connector for one CRM (``settings.preset``)."""

    name: str
    title: str = Field(description="in the request's language")
    title_code: str
    title_params: dict[str, Any] = Field(default_factory=dict)
    docs: list[str] = Field(description="the vendor documentation it was built from")
    objects: dict[str, str] = Field(
        description="object type -> the CRM's own name of the object or form"
    )
    notes: str = Field(description="what to set up in the CRM, in the request's language")
    notes_code: str | None = None
    notes_params: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any]
    mapping: Mapping


class AdapterOut(BaseModel):
    """An adapter, its options, its documentation and its default mapping."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "hubspot",
                    "title": "HubSpot",
                    "title_code": "webhooks.adapter.vendor",
                    "title_params": {"vendor": "HubSpot"},
                    "docs": [
                        "https://developers.hubspot.com/docs/api/webhooks",
                        "https://developers.hubspot.com/docs/api/webhooks/validating-requests",
                    ],
                    "options": [
                        {
                            "name": "client_secret",
                            "description": "应用的 Client Secret（用于 Webhook 签名）",
                            "description_code": "webhooks.adapter.hubspot.client_secret",
                            "description_params": {},
                            "secret": True,
                            "required": True,
                            "generated": False,
                        },
                        {
                            "name": "access_token",
                            "description": "私有应用令牌：通过 CRM API 读取每条记录的最新属性",
                            "description_code": "webhooks.adapter.hubspot.access_token",
                            "description_params": {},
                            "secret": True,
                            "required": False,
                            "generated": False,
                        },
                    ],
                    "default_mapping": {
                        "objects": {
                            "deal": {
                                "type": "deal",
                                "fields": {
                                    "rep_id": "hubspot_owner_id",
                                    "amount": "amount",
                                    "currency": "deal_currency_code",
                                    "stage": "dealstage",
                                    "closed_at": "closedate",
                                    "is_new_customer": "dealtype",
                                },
                                "values": {
                                    "stage": {
                                        "open": ["appointmentscheduled", "qualifiedtobuy"],
                                        "won": ["closedwon"],
                                        "lost": ["closedlost"],
                                    },
                                    "is_new_customer": {
                                        "true": ["newbusiness"],
                                        "false": ["existingbusiness"],
                                    },
                                },
                                "unmatched": {"is_new_customer": "null"},
                                "defaults": {},
                                "skip_when": {},
                                "deleted_when": {},
                                "attributes": {"pipeline": "pipeline", "deal_name": "dealname"},
                            },
                            "meeting": {
                                "type": "visit",
                                "fields": {
                                    "rep_id": "hubspot_owner_id",
                                    "occurred_at": ["hs_meeting_start_time", "hs_timestamp"],
                                },
                                "values": {},
                                "unmatched": {},
                                "defaults": {"channel": "onsite"},
                                "skip_when": {},
                                "deleted_when": {"hs_meeting_outcome": ["CANCELED", "NO_SHOW"]},
                                "attributes": {},
                            },
                            "quote": {
                                "type": "quote",
                                "fields": {
                                    "rep_id": "hubspot_owner_id",
                                    "amount": "hs_quote_amount",
                                    "currency": "hs_currency",
                                    "status": "hs_status",
                                },
                                "values": {
                                    "status": {
                                        "sent": ["APPROVAL_NOT_NEEDED", "APPROVED"],
                                        "rejected": ["REJECTED"],
                                    }
                                },
                                "unmatched": {},
                                "defaults": {},
                                "skip_when": {"hs_status": ["DRAFT", "PENDING_APPROVAL"]},
                                "deleted_when": {},
                                "attributes": {"title": "hs_title"},
                            },
                            "invoice": {
                                "type": "payment",
                                "fields": {
                                    "rep_id": "hubspot_owner_id",
                                    "invoice_id": ["hs_number", "$record_id"],
                                    "amount_due": "hs_amount_billed",
                                    "amount_paid": "hs_amount_paid",
                                    "due_date": "hs_due_date",
                                    "paid_at": {
                                        "path": "$event_time",
                                        "when": {"hs_invoice_status": ["paid"]},
                                        "scale": None,
                                    },
                                    "currency": "hs_currency",
                                },
                                "values": {},
                                "unmatched": {},
                                "defaults": {},
                                "skip_when": {"hs_invoice_status": ["draft"]},
                                "deleted_when": {"hs_invoice_status": ["voided"]},
                                "attributes": {},
                            },
                            "ticket": {
                                "type": "complaint",
                                "fields": {
                                    "rep_id": "hubspot_owner_id",
                                    "severity": "hs_ticket_priority",
                                    "opened_at": "createdate",
                                    "first_response_at": "first_agent_reply_date",
                                    "resolved_at": "closed_date",
                                },
                                "values": {},
                                "unmatched": {},
                                "defaults": {},
                                "skip_when": {},
                                "deleted_when": {},
                                "attributes": {
                                    "subject": "subject",
                                    "pipeline_stage": "hs_pipeline_stage",
                                },
                            },
                            "lead": {
                                "type": "lead",
                                "fields": {
                                    "rep_id": "hubspot_owner_id",
                                    "occurred_at": ["createdate", "$event_time"],
                                },
                                "values": {},
                                "unmatched": {},
                                "defaults": {},
                                "skip_when": {},
                                "deleted_when": {},
                                "attributes": {},
                            },
                        },
                        "ignore_objects": ["contact", "company"],
                        "owners": {},
                        "unknown_owner": "passthrough",
                        "default_currency": None,
                    },
                }
            ]
        }
    )

    name: str
    title: str = Field(description="in the request's language (vendor brand names as they are)")
    title_code: str
    title_params: dict[str, Any] = Field(default_factory=dict)
    docs: list[str]
    options: list[AdapterOption]
    default_mapping: Mapping
    presets: list[PresetOut] = Field(
        default_factory=list, description="generic: the built-in presets (settings.preset)"
    )
