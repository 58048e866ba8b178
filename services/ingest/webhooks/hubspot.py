"""HubSpot: webhook batches (legacy ``deal.*`` and generic ``object.*`` subscriptions).

HubSpot posts a JSON array of up to 100 events. Each carries ids and, for property
changes, one ``propertyName``/``propertyValue``; creations and deletions carry no
properties. The adapter folds them into the record's snapshot, and — when the connector
has a private-app ``access_token`` — reads the record's current properties through the
CRM API (``GET /crm/v3/objects/{objectTypeId}/{id}``, with timeouts) so each canonical
event carries the whole record. An API failure falls back to the snapshot alone.

Signatures: ``X-HubSpot-Signature-v3`` (HMAC-SHA256 of method + URI + body + timestamp,
5-minute window) and the older v1/v2 ``X-HubSpot-Signature`` (no timestamp; accepted
unless ``require_v3``). Event ids: ``hs-{objectTypeId}-{objectId}-{occurredAt}-{eventId}``
(HubSpot's ``eventId`` alone is not guaranteed unique), so retries deduplicate.

Docs: https://developers.hubspot.com/docs/api/webhooks,
https://developers.hubspot.com/docs/api/webhooks/validating-requests,
https://developers.hubspot.com/docs/guides/crm/using-object-apis
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any, Final

import httpx
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
from paceline.ingest.webhooks.mapping import FieldSpec, ObjectMapping
from paceline.ingest.webhooks.signatures import SignatureError, verify_hubspot
from paceline.ingest.webhooks.vendor_records import VendorRecord, parse_time, us_of

log = logging.getLogger(__name__)

API_BASE: Final = "https://api.hubapi.com"
API_TIMEOUT: Final = httpx.Timeout(10.0, connect=3.0)

# objectTypeId -> the name mappings use (https://developers.hubspot.com/docs/guides/crm/using-object-apis)
OBJECT_TYPES: Final[dict[str, str]] = {
    "0-1": "contact",
    "0-2": "company",
    "0-3": "deal",
    "0-5": "ticket",
    "0-7": "product",
    "0-8": "line_item",
    "0-14": "quote",
    "0-18": "communication",
    "0-19": "feedback_submission",
    "0-27": "task",
    "0-46": "note",
    "0-47": "meeting",
    "0-48": "call",
    "0-49": "email",
    "0-53": "invoice",
    "0-69": "subscription",
    "0-101": "payment",
    "0-116": "postal_mail",
    "0-123": "order",
    "0-136": "lead",
    "0-142": "cart",
}
TYPE_IDS: Final[dict[str, str]] = {name: tid for tid, name in OBJECT_TYPES.items()}

_STANDARD_OPEN_STAGES = [
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
]

DEFAULT_MAPPING: Final[dict[str, Any]] = {
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
                    "open": _STANDARD_OPEN_STAGES,
                    "won": ["closedwon"],
                    "lost": ["closedlost"],
                },
                "is_new_customer": {"true": ["newbusiness"], "false": ["existingbusiness"]},
            },
            "unmatched": {"is_new_customer": "null"},
            "attributes": {"pipeline": "pipeline", "deal_name": "dealname"},
        },
        "meeting": {
            "type": "visit",
            "fields": {
                "rep_id": "hubspot_owner_id",
                "occurred_at": ["hs_meeting_start_time", "hs_timestamp"],
            },
            "defaults": {"channel": "onsite"},
            "deleted_when": {"hs_meeting_outcome": ["CANCELED", "NO_SHOW"]},
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
                "status": {"sent": ["APPROVAL_NOT_NEEDED", "APPROVED"], "rejected": ["REJECTED"]}
            },
            "skip_when": {"hs_status": ["DRAFT", "PENDING_APPROVAL"]},
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
                "paid_at": {"path": "$event_time", "when": {"hs_invoice_status": ["paid"]}},
                "currency": "hs_currency",
            },
            "skip_when": {"hs_invoice_status": ["draft"]},
            "deleted_when": {"hs_invoice_status": ["voided"]},
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
            "attributes": {"subject": "subject", "pipeline_stage": "hs_pipeline_stage"},
        },
        "lead": {
            "type": "lead",
            "fields": {"rep_id": "hubspot_owner_id", "occurred_at": ["createdate", "$event_time"]},
        },
    },
    "ignore_objects": [
        "contact",
        "company",
        "call",
        "email",
        "note",
        "task",
        "product",
        "line_item",
        "communication",
        "postal_mail",
        "conversation",
    ],
}


INVALID = "__invalid__"


def _normalised(event: Any) -> dict[str, Any] | None:
    """A webhook event with its ``subscriptionType``, or None if it is not one.

    Events carrying ``eventType`` (the name HubSpot's subscriptions API and some of its
    examples use) instead of the delivered payload's ``subscriptionType`` are read the same.
    """
    if not isinstance(event, dict):
        return None
    if "subscriptionType" in event:
        return event
    if isinstance(event.get("eventType"), str) and event["eventType"]:
        return {**event, "subscriptionType": event["eventType"]}
    return None


def _object_of(event: dict[str, Any]) -> tuple[str, str | None]:
    """(mapping name, objectTypeId) of a webhook event."""
    prefix = str(event.get("subscriptionType", "")).partition(".")[0]
    if prefix == "object":
        type_id = str(event.get("objectTypeId") or "")
        return OBJECT_TYPES.get(type_id, type_id), type_id or None
    return prefix, TYPE_IDS.get(prefix)


def _properties_needed(objmap: ObjectMapping) -> list[str]:
    """The HubSpot properties a mapping reads (first path segments)."""
    paths: list[str] = []
    for spec in objmap.fields.values():
        if isinstance(spec, FieldSpec):
            paths += [spec.path] if isinstance(spec.path, str) else (spec.path or [])
            paths += list((spec.when or {}).keys())
        else:
            paths += [spec] if isinstance(spec, str) else spec
    paths += list(objmap.skip_when) + list(objmap.deleted_when) + list(objmap.attributes.values())
    names = {p.split(".")[0] for p in paths if not p.startswith("$")}
    names.add("hs_lastmodifieddate")
    return sorted(names)


class HubSpotAdapter(Adapter):
    """HubSpot webhooks."""

    name = "hubspot"
    title = "HubSpot"
    docs = (
        "https://developers.hubspot.com/docs/api/webhooks",
        "https://developers.hubspot.com/docs/api/webhooks/validating-requests",
    )
    options = (
        SettingSpec("client_secret", "the app's client secret (signs the webhooks)", True, True),
        SettingSpec(
            "access_token",
            "a private-app token: read each record's current properties through the CRM API",
            secret=True,
        ),
        SettingSpec("api_base", f"the CRM API's base URL (default {API_BASE})"),
        SettingSpec(
            "signature_url",
            "the exact target URL configured in HubSpot, when a proxy changes the URL we see",
        ),
        SettingSpec("require_v3", "refuse requests without X-HubSpot-Signature-v3 (true/false)"),
    )

    def default_mapping(self) -> dict[str, Any]:
        """Standard HubSpot pipelines and objects."""
        return DEFAULT_MAPPING

    def verify(self, req: InboundRequest, conn: Connector, *, now: datetime) -> None:
        """X-HubSpot-Signature-v3, or v1/v2 unless require_v3."""
        secret = conn.secret("client_secret")
        if secret is None:
            raise SignatureError("the connector has no client_secret")
        uri = str(conn.settings.get("signature_url") or req.url)
        verify_hubspot(
            req.headers,
            method=req.method,
            uri=uri,
            body=req.body,
            secret=secret,
            now=now,
            allow_legacy=not bool(conn.settings.get("require_v3", False)),
        )

    def items(self, req: InboundRequest, conn: Connector) -> list[Item]:
        """One item per event of the batch."""
        try:
            data = orjson.loads(req.body)
        except orjson.JSONDecodeError as exc:
            raise Unparseable(f"the body is not JSON: {exc}") from None
        events = data if isinstance(data, list) else [data]
        out = []
        for i, raw in enumerate(events):
            ev = _normalised(raw)
            if ev is None:
                # One bad event is kept alone; the valid events of the batch go on.
                digest = hashlib.sha256(orjson.dumps(raw, option=orjson.OPT_SORT_KEYS))
                out.append(
                    Item(
                        key=f"hs-invalid-{digest.hexdigest()[:32]}",
                        data={INVALID: f"event [{i}] is not a HubSpot webhook event", "event": raw},
                    )
                )
                continue
            name, type_id = _object_of(ev)
            key = (
                f"hs-{type_id or name}-{ev.get('objectId')}-{ev.get('occurredAt')}-"
                f"{ev.get('eventId')}-{ev.get('propertyName', '')}"
            )
            out.append(
                Item(key=key, data=ev, object_type=name, record_id=str(ev.get("objectId", "")))
            )
        return out

    async def records(self, item: Item, conn: Connector, ctx: AdapterContext) -> list[VendorRecord]:
        """The record states an event holds (enriched through the CRM API when possible)."""
        ev = item.data
        if INVALID in ev:
            raise ItemError("unparseable", str(ev[INVALID]))
        name, type_id = _object_of(ev)
        action = str(ev.get("subscriptionType", "")).partition(".")[2]
        try:
            at = parse_time(ev.get("occurredAt"))
        except ValueError:
            at = None
        if at is None or ("objectId" not in ev and action != "merge"):
            raise ItemError("invalid_event", "the event has no objectId or occurredAt")
        at_us = us_of(at)
        base_id = f"hs-{type_id or name}"
        suffix = f"{ev.get('occurredAt')}-{ev.get('eventId')}"
        object_id = str(ev.get("objectId", ev.get("primaryObjectId", "")))
        event_id = f"{base_id}-{object_id}-{suffix}"
        if action == "associationChange":
            return []
        if action in {"deletion", "privacyDeletion"}:
            return [VendorRecord(name, object_id, event_id, at_us, deleted=True, partial=True)]
        if action == "merge":
            primary = str(ev.get("primaryObjectId", object_id))
            out = [
                VendorRecord(
                    name,
                    str(merged),
                    f"{base_id}-{merged}-{suffix}",
                    at_us,
                    deleted=True,
                    partial=True,
                )
                for merged in ev.get("mergedObjectIds") or []
                if str(merged) != primary
            ]
            out.append(
                VendorRecord(
                    name,
                    primary,
                    f"{base_id}-{primary}-{suffix}",
                    at_us,
                    deleted=False,
                    partial=True,
                )
            )
            return [await self._enriched(r, type_id, conn, ctx) for r in out]
        if action in {"creation", "restore"}:
            record = VendorRecord(name, object_id, event_id, at_us, deleted=False, partial=True)
        elif action == "propertyChange":
            prop = ev.get("propertyName")
            if not isinstance(prop, str) or not prop:
                raise ItemError("invalid_event", "a propertyChange event without propertyName")
            record = VendorRecord(
                name,
                object_id,
                event_id,
                at_us,
                fields={prop: ev.get("propertyValue")},
                partial=True,
            )
        else:
            raise ItemError(
                "unknown_object",
                f"unknown subscription type {ev.get('subscriptionType')!r}",
                object_type=name,
                record_id=object_id,
            )
        return [await self._enriched(record, type_id, conn, ctx)]

    async def _enriched(
        self, record: VendorRecord, type_id: str | None, conn: Connector, ctx: AdapterContext
    ) -> VendorRecord:
        """The record with its current properties from the CRM API, when configured."""
        token = conn.secret("access_token")
        objmap = conn.mapping.objects.get(record.object_type)
        if token is None or type_id is None or objmap is None or objmap.type == "ignore":
            return record
        if record.deleted or ctx.http is None:
            return record
        base = str(conn.settings.get("api_base") or API_BASE).rstrip("/")
        url = f"{base}/crm/v3/objects/{type_id}/{record.record_id}"
        try:
            resp = await ctx.http.get(
                url,
                params={"properties": ",".join(_properties_needed(objmap)), "archived": "false"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=API_TIMEOUT,
            )
        except httpx.HTTPError as exc:
            refused = "not a public address" in str(exc)  # the outbound guard (SSRF)
            why = "its address is not a public address" if refused else type(exc).__name__
            ctx.notes.append(f"HubSpot API unreachable for {record.record_id}: {why}")
            log.warning("hubspot enrichment failed: %s", type(exc).__name__)
            return record
        if resp.status_code != 200:
            ctx.notes.append(f"HubSpot API answered {resp.status_code} for {record.record_id}")
            return record
        try:
            body = resp.json()
            props = dict(body.get("properties") or {})
            updated = parse_time(body.get("updatedAt") or props.get("hs_lastmodifieddate"))
        except (ValueError, AttributeError):
            ctx.notes.append(f"HubSpot API sent an unreadable record {record.record_id}")
            return record
        fields = {**props, **record.fields}
        at_us = max(record.at_us, us_of(updated)) if updated is not None else record.at_us
        if updated is not None and us_of(updated) >= record.at_us:
            fields = {**record.fields, **props}
        return VendorRecord(
            record.object_type,
            record.record_id,
            record.event_id,
            at_us,
            fields=fields,
            deleted=bool(body.get("archived", False)),
            partial=False,
        )
