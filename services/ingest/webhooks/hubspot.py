"""HubSpot: webhook batches (legacy ``deal.*`` and generic ``object.*`` subscriptions).

HubSpot posts a JSON array of up to 100 events. Each carries ids and, for property
changes, one ``propertyName``/``propertyValue``; creations and deletions carry no
properties. The adapter folds them into the record's snapshot, and — when an event lacks
a property the mapping reads and the connector has a private-app ``access_token`` — reads
the record's current properties through the CRM API (``GET
/crm/v3/objects/{objectTypeId}/{id}``; enrichment.py: guarded client, cache, 429 waits)
so each canonical event carries the whole record. Without the token such items wait in
the quarantine (``incomplete``, naming ``access_token``) and are retried once it is set.

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
import re
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
from paceline.ingest.webhooks.enrichment import (
    ApiRequest,
    Fetched,
    TokenGrant,
    enrich,
    fields_read,
)
from paceline.ingest.webhooks.mapping import ObjectMapping
from paceline.ingest.webhooks.signatures import SignatureError, verify_hubspot
from paceline.ingest.webhooks.vendor_records import VendorRecord, parse_time, us_of
from paceline.shared.i18n import Code, OneOf, msg

log = logging.getLogger(__name__)

API_BASE: Final = "https://api.hubapi.com"
_TYPE_ID: Final = re.compile(r"^\d+-\d+$")

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


class HubSpotAdapter(Adapter):
    """HubSpot webhooks."""

    name = "hubspot"
    title = "HubSpot"
    docs = (
        "https://developers.hubspot.com/docs/api/webhooks",
        "https://developers.hubspot.com/docs/api/webhooks/validating-requests",
    )
    enrichment_credentials = ("access_token",)
    options = (
        SettingSpec("client_secret", msg("webhooks.adapter.hubspot.client_secret"), True, True),
        SettingSpec("access_token", msg("webhooks.adapter.hubspot.access_token"), secret=True),
        SettingSpec("api_base", msg("webhooks.adapter.hubspot.api_base", default=Code(API_BASE))),
        SettingSpec("signature_url", msg("webhooks.adapter.hubspot.signature_url")),
        SettingSpec(
            "require_v3",
            msg(
                "webhooks.adapter.hubspot.require_v3",
                header=Code("X-HubSpot-Signature-v3"),
                values=OneOf([Code("true"), Code("false")]),
            ),
        ),
    )

    def default_mapping(self) -> dict[str, Any]:
        """Standard HubSpot pipelines and objects."""
        return DEFAULT_MAPPING

    def verify(self, req: InboundRequest, conn: Connector, *, now: datetime) -> None:
        """X-HubSpot-Signature-v3, or v1/v2 unless require_v3."""
        secret = conn.secret("client_secret")
        if secret is None:
            raise SignatureError(msg("webhooks.sig.no_secret", name="client_secret"))
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
            raise Unparseable(msg("webhooks.body.not_json", reason=str(exc))) from None
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
                        data={INVALID: i, "event": raw},
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
            raise ItemError(
                "unparseable", msg("webhooks.hubspot.not_an_event", index=str(ev[INVALID])[:100])
            )
        name, type_id = _object_of(ev)
        action = str(ev.get("subscriptionType", "")).partition(".")[2]
        try:
            at = parse_time(ev.get("occurredAt"))
        except ValueError:
            at = None
        if at is None or ("objectId" not in ev and action != "merge"):
            raise ItemError(
                "invalid_event", msg("webhooks.item.missing", fields="objectId / occurredAt")
            )
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
                raise ItemError(
                    "invalid_event",
                    msg("webhooks.item.missing", fields="propertyName (propertyChange)"),
                )
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
                msg(
                    "webhooks.hubspot.subscription",
                    subscription=str(ev.get("subscriptionType"))[:100],
                ),
                object_type=name,
                record_id=object_id,
            )
        return [await self._enriched(record, type_id, conn, ctx)]

    async def _enriched(
        self, record: VendorRecord, type_id: str | None, conn: Connector, ctx: AdapterContext
    ) -> VendorRecord:
        """The record with its current properties from the CRM API, when it lacks some."""
        if type_id is None:
            return record
        return await enrich(record, conn, ctx, HUBSPOT_API)


class HubSpotApi:
    """HubSpot's CRM objects API: ``GET /crm/v3/objects/{objectTypeId}/{id}`` with a
    private-app token (``Authorization: Bearer``). 429s carry the policy in the body and
    no ``Retry-After``; the burst window is 10 seconds (1 s waits, then the budget).

    Docs: https://developers.hubspot.com/docs/guides/crm/using-object-apis,
    https://developers.hubspot.com/docs/api/usage-details
    """

    title = "HubSpot"
    credential = "access_token"

    def request(
        self, record: VendorRecord, conn: Connector, objmap: ObjectMapping, token: str
    ) -> ApiRequest | None:
        """GET the record's properties the mapping reads."""
        type_id = TYPE_IDS.get(record.object_type, record.object_type)
        if not _TYPE_ID.match(type_id):
            return None
        base = str(conn.settings.get("api_base") or API_BASE).rstrip("/")
        props = sorted({*fields_read(objmap), "hs_lastmodifieddate"})
        return ApiRequest(
            url=f"{base}/crm/v3/objects/{type_id}/{record.record_id}",
            headers={"Authorization": f"Bearer {token}"},
            params={"properties": ",".join(props), "archived": "false"},
        )

    def parse(self, body: Any, record: VendorRecord) -> Fetched | None:
        """``{"id", "properties", "updatedAt", "archived"}``."""
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            return None
        props = dict(body["properties"])
        updated = parse_time(body.get("updatedAt") or props.get("hs_lastmodifieddate"))
        return Fetched(
            fields=props,
            updated_us=us_of(updated) if updated is not None else None,
            deleted=bool(body.get("archived", False)),
        )

    def reset_after(self, headers: httpx.Headers) -> float | None:
        """HubSpot sends no reset time: its burst window is 10 s."""
        return None

    def rate_limited(self, status: int, body: Any) -> bool:
        """Only 429."""
        return False

    def token_grant(self, conn: Connector) -> TokenGrant | None:
        """A static token only."""
        return None


HUBSPOT_API: Final = HubSpotApi()
