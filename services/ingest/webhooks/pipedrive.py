"""Pipedrive: webhooks v2 (``meta``/``data``/``previous``) and v1 (``current``/``previous``).

Pipedrive posts one change per request with the whole object, so enrichment is rarely
needed: only when a delivery lacks a field the mapping reads (a relay that trims bodies, a
mapping reading fields webhooks leave out) is the object read through API v2 with the
connector's ``api_token`` (:class:`PipedriveApi`, enrichment.py).
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
    updated_us_of,
)
from paceline.ingest.webhooks.mapping import ObjectMapping
from paceline.ingest.webhooks.signatures import SignatureError, verify_basic_auth
from paceline.ingest.webhooks.vendor_records import VendorRecord, parse_time, us_of
from paceline.shared.i18n import Code, msg

API_BASE: Final = "https://api.pipedrive.com"
_PD_ID: Final = re.compile(r"^[0-9A-Za-z-]{1,64}$")

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
    enrichment_credentials = ("api_token",)
    options = (
        SettingSpec(
            "username",
            msg("webhooks.adapter.pipedrive.username", field=Code("http_auth_user")),
            required=True,
        ),
        SettingSpec(
            "password",
            msg("webhooks.adapter.pipedrive.password", field=Code("http_auth_password")),
            True,
            True,
            generated=True,
        ),
        SettingSpec("api_token", msg("webhooks.adapter.pipedrive.api_token"), secret=True),
        SettingSpec(
            "api_base",
            msg(
                "webhooks.adapter.pipedrive.api_base",
                default=Code(API_BASE),
                company=Code("https://<company>.pipedrive.com"),
            ),
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
            raise SignatureError(msg("webhooks.sig.no_secret", name="username / password"))
        verify_basic_auth(req.headers.get("authorization"), username=username, password=password)

    def items(self, req: InboundRequest, conn: Connector) -> list[Item]:
        """One item: the delivery."""
        try:
            data = orjson.loads(req.body)
        except orjson.JSONDecodeError as exc:
            raise Unparseable(msg("webhooks.body.not_json", reason=str(exc))) from None
        if not isinstance(data, dict) or not isinstance(data.get("meta"), dict):
            raise Unparseable(msg("webhooks.body.not_vendor", vendor="Pipedrive", fields="meta"))
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
            raise ItemError("invalid_event", msg("webhooks.item.missing", fields="id"))
        deleted = action == "delete"
        fields = {} if deleted else obj
        record = VendorRecord(
            entity,
            str(ident),
            event_id,
            at_us,
            fields=fields,
            deleted=bool(deleted),
            partial=deleted,
        )
        return [await enrich(record, conn, ctx, PIPEDRIVE_API)]

    @staticmethod
    def _us(value: Any) -> int:
        try:
            at = parse_time(value)
        except ValueError:
            at = None
        if at is None:
            raise ItemError("invalid_event", msg("webhooks.item.missing", fields="timestamp"))
        return us_of(at)


# Pipedrive API v2 paths per webhook entity (leads are served by v1 only).
_PATHS: Final = {
    "deal": "/api/v2/deals/{id}",
    "activity": "/api/v2/activities/{id}",
    "person": "/api/v2/persons/{id}",
    "organization": "/api/v2/organizations/{id}",
    "product": "/api/v2/products/{id}",
    "lead": "/v1/leads/{id}",
}


class PipedriveApi:
    """Pipedrive API v2: ``GET {api_base}/api/v2/deals/{id}`` (activities, persons...) with
    the ``x-api-token`` header; answers ``{"success": true, "data": {...}}``, errors
    ``{"success": false, "error": ...}`` (401, 404). Limits are per token in 2-second
    windows (and a daily token budget): 429 with ``x-ratelimit-reset`` (seconds).

    Docs: https://developers.pipedrive.com/docs/api/v1/Deals (GET /api/v2/deals/{id}),
    https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting
    """

    title = "Pipedrive"
    credential = "api_token"

    def request(
        self, record: VendorRecord, conn: Connector, objmap: ObjectMapping, token: str
    ) -> ApiRequest | None:
        """GET the object."""
        path = _PATHS.get(record.object_type)
        if path is None or not _PD_ID.match(record.record_id):
            return None
        base = str(conn.settings.get("api_base") or API_BASE).rstrip("/")
        return ApiRequest(
            url=base + path.format(id=record.record_id), headers={"x-api-token": token}
        )

    def parse(self, body: Any, record: VendorRecord) -> Fetched | None:
        """``data`` of a successful answer, read as webhook v2 objects are."""
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            return None
        fields = _normalised(body["data"])
        deleted = fields.get("is_deleted") is True or fields.get("status") == "deleted"
        return Fetched(
            fields=fields, updated_us=updated_us_of(fields.get("update_time")), deleted=deleted
        )

    def reset_after(self, headers: httpx.Headers) -> float | None:
        """``x-ratelimit-reset``: seconds until the window resets."""
        value = headers.get("x-ratelimit-reset", "")
        try:
            return float(value) if value else None
        except ValueError:
            return None

    def rate_limited(self, status: int, body: Any) -> bool:
        """Only 429."""
        return False

    def token_grant(self, conn: Connector) -> TokenGrant | None:
        """A static token only."""
        return None


PIPEDRIVE_API: Final = PipedriveApi()
