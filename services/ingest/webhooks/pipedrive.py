"""Pipedrive: webhooks v2 (``meta``/``data``/``previous``) and v1 (``current``/``previous``).

Pipedrive posts one change per request with the whole object, so no enrichment is needed.
It does not sign webhooks: the connector checks the HTTP Basic credentials set on the
webhook (``http_auth_user``/``http_auth_password``). A failing endpoint is banned by
Pipedrive for 30 minutes and what it would have sent is dropped, hence the nightly
reconciliation (docs/CONNECTORS.md).

v1 payloads are read into the v2 field names (``user_id`` -> ``owner_id``), so one mapping
serves both. Event ids: v2 ``pd-{entity}-{id}-{meta.id}`` (one per change, kept on
retries); v1 ``pd-{object}-{id}-{meta.timestamp_micro}``. The state's time is the
event's ``meta.timestamp`` (v2, milliseconds) or ``timestamp_micro`` (v1).

Docs: https://pipedrive.readme.io/docs/guide-for-webhooks-v2,
https://pipedrive.readme.io/docs/webhooks-v2-migration-guide,
https://pipedrive.readme.io/docs/guide-for-webhooks
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import orjson

from paceline.ingest.webhooks.base import (
    Adapter,
    AdapterContext,
    Connector,
    InboundRequest,
    Item,
    ItemError,
    SettingSpec,
    Unparseable,
)
from paceline.ingest.webhooks.signatures import SignatureError, verify_basic_auth
from paceline.ingest.webhooks.vendor_records import VendorRecord, parse_time, us_of

DEFAULT_MAPPING: Final[dict[str, Any]] = {
    "objects": {
        "deal": {
            "type": "deal",
            "fields": {
                "rep_id": "owner_id",
                "amount": "value",
                "currency": "currency",
                "stage": "status",
                "closed_at": ["won_time", "lost_time", "close_time"],
                "customer_id": "org_id",
            },
            "values": {"stage": {"open": ["open"], "won": ["won"], "lost": ["lost"]}},
            "deleted_when": {"status": ["deleted"], "is_deleted": [True]},
            "attributes": {"pipeline_id": "pipeline_id", "stage_id": "stage_id", "title": "title"},
        },
        "activity": {
            "type": "visit",
            "fields": {
                "rep_id": "owner_id",
                "occurred_at": ["due_at", "marked_as_done_time", "add_time"],
                "customer_id": "org_id",
                "channel": "type",
            },
            "values": {"channel": {"onsite": ["meeting", "lunch"]}},
            "unmatched": {"channel": "skip"},
            "deleted_when": {"done": [False], "is_deleted": [True]},
            "attributes": {"subject": "subject", "deal_id": "deal_id"},
        },
        "lead": {
            "type": "lead",
            "fields": {
                "rep_id": "owner_id",
                "occurred_at": "add_time",
                "customer_id": "organization_id",
            },
            "deleted_when": {"is_archived": [True]},
            "attributes": {"title": "title"},
        },
    },
    "ignore_objects": [
        "person",
        "organization",
        "product",
        "note",
        "stage",
        "pipeline",
        "user",
        "filter",
        "activityType",
        "activity_type",
        "deal_product",
        "deal_installment",
        "board",
        "phase",
        "project",
        "task",
    ],
}

_V1_ACTIONS: Final = {
    "added": "create",
    "updated": "change",
    "deleted": "delete",
    "merged": "merge",
}


def _due_at(obj: dict[str, Any]) -> str | None:
    """An activity's due date and time (UTC) as one timestamp."""
    day = obj.get("due_date")
    if not day:
        return None
    clock = obj.get("due_time") or "12:00"
    return f"{day}T{clock}:00+00:00" if len(str(clock)) == 5 else f"{day}T{clock}+00:00"


def _normalised(obj: dict[str, Any] | None) -> dict[str, Any]:
    """v1 names read as v2 ones (owner), plus the activity's due time as one field."""
    if not obj:
        return {}
    out = dict(obj)
    if "owner_id" not in out and "user_id" in out:
        out["owner_id"] = out["user_id"]
    due = _due_at(out)
    if due is not None:
        out["due_at"] = due
    if isinstance(out.get("done"), int) and not isinstance(out.get("done"), bool):
        out["done"] = bool(out["done"])
    return out


class PipedriveAdapter(Adapter):
    """Pipedrive webhooks v1 and v2."""

    name = "pipedrive"
    title = "Pipedrive"
    docs = (
        "https://pipedrive.readme.io/docs/guide-for-webhooks-v2",
        "https://pipedrive.readme.io/docs/guide-for-webhooks",
    )
    options = (
        SettingSpec("username", "the webhook's HTTP Basic user (http_auth_user)", required=True),
        SettingSpec(
            "password",
            "the webhook's HTTP Basic password (http_auth_password)",
            True,
            True,
            generated=True,
        ),
    )

    def default_mapping(self) -> dict[str, Any]:
        """Deals (status open/won/lost), meetings as visits, leads."""
        return DEFAULT_MAPPING

    def verify(self, req: InboundRequest, conn: Connector, *, now: datetime) -> None:
        """HTTP Basic credentials."""
        username = str(conn.settings.get("username") or "")
        password = conn.secret("password")
        if not username or password is None:
            raise SignatureError("the connector has no username/password")
        verify_basic_auth(req.headers.get("authorization"), username=username, password=password)

    def items(self, req: InboundRequest, conn: Connector) -> list[Item]:
        """One item: the delivery."""
        try:
            data = orjson.loads(req.body)
        except orjson.JSONDecodeError as exc:
            raise Unparseable(f"the body is not JSON: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("meta"), dict):
            raise Unparseable("not a Pipedrive webhook (no meta object)")
        meta = data["meta"]
        if "current" in data or "event" in data or meta.get("v") == 1:
            entity = str(meta.get("object") or str(data.get("event", ".")).split(".")[-1])
            ident = meta.get("id") or (data.get("current") or data.get("previous") or {}).get("id")
            key = f"pd-{entity}-{ident}-{meta.get('timestamp_micro') or meta.get('timestamp')}"
        else:
            entity = str(meta.get("entity", ""))
            ident = meta.get("entity_id") or (data.get("data") or {}).get("id")
            key = f"pd-{entity}-{ident}-{meta.get('id') or meta.get('timestamp')}"
        return [Item(key=key, data=data, object_type=entity, record_id=str(ident))]

    async def records(self, item: Item, conn: Connector, ctx: AdapterContext) -> list[VendorRecord]:
        """The object's state in this delivery."""
        data = item.data
        meta = data["meta"]
        v1 = "current" in data or "event" in data or meta.get("v") == 1
        if v1:
            entity = str(meta.get("object") or str(data.get("event", ".")).split(".")[-1])
            action = _V1_ACTIONS.get(str(meta.get("action")), str(meta.get("action")))
            current = data.get("current")
            obj = _normalised(current if isinstance(current, dict) else data.get("previous"))
            micro = meta.get("timestamp_micro")
            at_us = int(micro) if isinstance(micro, int) else self._us(meta.get("timestamp"))
            ident = meta.get("id") or obj.get("id")
            event_id = f"pd-{entity}-{ident}-{micro or meta.get('timestamp')}"
        else:
            entity = str(meta.get("entity", ""))
            action = str(meta.get("action", ""))
            current = data.get("data")
            obj = _normalised(current if isinstance(current, dict) else data.get("previous"))
            at_us = self._us(meta.get("timestamp") or obj.get("update_time"))
            ident = meta.get("entity_id") or obj.get("id")
            event_id = f"pd-{entity}-{ident}-{meta.get('id') or meta.get('timestamp')}"
        if ident is None:
            raise ItemError("invalid_event", "the delivery names no object id")
        deleted = action == "delete"
        fields = {} if deleted else obj
        return [
            VendorRecord(
                entity,
                str(ident),
                event_id,
                at_us,
                fields=fields,
                deleted=bool(deleted),
                partial=deleted,
            )
        ]

    @staticmethod
    def _us(value: Any) -> int:
        try:
            at = parse_time(value)
        except ValueError:
            at = None
        if at is None:
            raise ItemError("invalid_event", "the delivery has no timestamp")
        return us_of(at)
