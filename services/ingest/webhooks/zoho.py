"""Zoho CRM: Notification API callbacks (``/actions/watch`` channels).

Zoho posts ``{"server_time", "module", "ids", "operation", "channel_id", "token",
"affected_fields", "affected_values", "query_params", "resource_uri"}``. With
``return_affected_field_values: true`` on the channel, ``affected_values`` holds the
field values per record (``[{"record_id", "values"}]``); they are folded into each
record's snapshot. A record still lacking a field the mapping reads (the owner is absent
unless it changed) is read through the CRM API when the connector has an ``access_token``
(:class:`ZohoApi`, enrichment.py); without one it stays in the quarantine as
``incomplete`` (naming ``access_token``) until a later notification completes it or the
token is set (then it is retried automatically).

Authentication: the channel's ``token`` (up to 50 characters, echoed in every callback)
must equal the connector's ``token`` secret; ``channel_id`` must match when configured.
Zoho callbacks carry no event id: each record's event id is
``zoho-{module}-{id}-{server_time}-{operation}``; the state's time is ``server_time``.

Docs: https://www.zoho.com/crm/developer/docs/api/v8/notifications/overview.html,
https://www.zoho.com/crm/developer/docs/api/v8/notifications/enable.html
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
    fields_read,
    updated_us_of,
)
from paceline.ingest.webhooks.mapping import ObjectMapping
from paceline.ingest.webhooks.signatures import SignatureError, verify_token
from paceline.ingest.webhooks.vendor_records import VendorRecord, parse_time, us_of
from paceline.shared.i18n import Code, msg

API_BASE: Final = "https://www.zohoapis.com"
API_VERSION: Final = "v8"
ACCOUNTS_URL: Final = "https://accounts.zoho.com"
_SCOPE: Final = "ZohoCRM.modules.READ"  # the OAuth scope the API reads need
_VERSION: Final = re.compile(r"^v[2-9]$")
_ID: Final = re.compile(r"^[0-9]{1,30}$")

_OPEN_STAGES = [
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Identify Decision Makers",
    "Id. Decision Makers",
    "Proposal/Price Quote",
    "Negotiation/Review",
]

_OWNER = ["Owner.id", "Owner"]

DEFAULT_MAPPING: Final[dict[str, Any]] = {
    "objects": {
        "Deals": {
            "type": "deal",
            "fields": {
                "rep_id": _OWNER,
                "amount": "Amount",
                "currency": "Currency",
                "stage": "Stage",
                "closed_at": "Closing_Date",
                "customer_id": "Account_Name.id",
                "is_new_customer": "Type",
            },
            "values": {
                "stage": {
                    "open": _OPEN_STAGES,
                    "won": ["Closed Won"],
                    "lost": ["Closed Lost", "Closed-Lost to Competition"],
                },
                "is_new_customer": {"true": ["New Business"], "false": ["Existing Business"]},
            },
            "unmatched": {"is_new_customer": "null"},
            "attributes": {"deal_name": "Deal_Name", "lead_source": "Lead_Source"},
        },
        "Events": {
            "type": "visit",
            "fields": {"rep_id": _OWNER, "occurred_at": ["Start_DateTime", "$event_time"]},
            "defaults": {"channel": "onsite"},
            "attributes": {"title": "Event_Title", "venue": "Venue"},
        },
        "Quotes": {
            "type": "quote",
            "fields": {
                "rep_id": _OWNER,
                "amount": "Grand_Total",
                "currency": "Currency",
                "customer_id": "Account_Name.id",
                "status": "Quote_Stage",
            },
            "values": {
                "status": {
                    "sent": ["Delivered", "Negotiation", "On Hold"],
                    "accepted": ["Confirmed", "Closed Won"],
                    "rejected": ["Closed Lost"],
                }
            },
            "skip_when": {"Quote_Stage": ["Draft"]},
        },
        "Invoices": {
            "type": "payment",
            "fields": {
                "rep_id": _OWNER,
                "invoice_id": ["Invoice_Number", "$record_id"],
                "amount_due": "Grand_Total",
                "due_date": "Due_Date",
                "amount_paid": {"path": "Grand_Total", "when": {"Status": ["Paid"]}},
                "paid_at": {"path": "$event_time", "when": {"Status": ["Paid"]}},
                "currency": "Currency",
                "customer_id": "Account_Name.id",
            },
            "deleted_when": {"Status": ["Cancelled"]},
        },
        "Cases": {
            "type": "complaint",
            "fields": {
                "rep_id": _OWNER,
                "severity": "Priority",
                "opened_at": ["Created_Time", "$event_time"],
                "resolved_at": {"path": "$event_time", "when": {"Status": ["Closed"]}},
                "customer_id": "Account_Name.id",
            },
            "attributes": {"subject": "Subject", "case_origin": "Case_Origin"},
        },
        "Leads": {
            "type": "lead",
            "fields": {
                "rep_id": _OWNER,
                "occurred_at": ["Created_Time", "$event_time"],
                "source": "Lead_Source",
            },
        },
    },
    "ignore_objects": [
        "Accounts",
        "Contacts",
        "Tasks",
        "Calls",
        "Products",
        "Vendors",
        "Price_Books",
        "Sales_Orders",
        "Purchase_Orders",
        "Campaigns",
        "Solutions",
        "Notes",
    ],
}

# Newer API versions call the Events module "Meetings".
DEFAULT_MAPPING["objects"]["Meetings"] = DEFAULT_MAPPING["objects"]["Events"]


class ZohoAdapter(Adapter):
    """Zoho CRM notifications."""

    name = "zoho"
    title = "Zoho CRM"
    docs = ("https://www.zoho.com/crm/developer/docs/api/v8/notifications/enable.html",)
    enrichment_credentials = ("access_token", "refresh_token")
    options = (
        SettingSpec(
            "token",
            msg("webhooks.adapter.zoho.token", max=50),
            True,
            True,
            generated=True,
        ),
        SettingSpec("channel_id", msg("webhooks.adapter.zoho.channel_id")),
        SettingSpec(
            "access_token",
            msg("webhooks.adapter.zoho.access_token", scope=Code(_SCOPE)),
            secret=True,
        ),
        SettingSpec(
            "api_base",
            msg(
                "webhooks.adapter.zoho.api_base",
                default=Code(API_BASE),
                others="https://www.zohoapis.eu, .in, .com.au, .jp, .ca, .sa, "
                "https://www.zohoapis.com.cn",
            ),
        ),
        SettingSpec(
            "api_version",
            msg(
                "webhooks.adapter.zoho.api_version",
                low=Code("v2"),
                high=Code("v8"),
                default=Code(API_VERSION),
            ),
        ),
        SettingSpec(
            "client_id",
            msg(
                "webhooks.adapter.zoho.client_id",
                token=Code("access_token"),
                secret=Code("client_secret"),
                refresh=Code("refresh_token"),
            ),
        ),
        SettingSpec("client_secret", msg("webhooks.adapter.zoho.client_secret"), secret=True),
        SettingSpec(
            "refresh_token",
            msg("webhooks.adapter.zoho.refresh_token", scope=Code(_SCOPE)),
            secret=True,
        ),
        SettingSpec(
            "accounts_url",
            msg(
                "webhooks.adapter.zoho.accounts_url",
                default=Code(ACCOUNTS_URL),
                others="https://accounts.zoho.eu, .in, .com.au, .jp, https://accounts.zoho.com.cn",
            ),
        ),
    )

    def default_mapping(self) -> dict[str, Any]:
        """Standard Zoho CRM modules and stages."""
        return DEFAULT_MAPPING

    def generate_secret(self, name: str) -> str:
        """Tokens are at most 50 characters."""
        import secrets

        return secrets.token_urlsafe(30)[:40]

    def verify(self, req: InboundRequest, conn: Connector, *, now: datetime) -> None:
        """The channel token in the body (and the channel id when configured)."""
        expected = conn.secret("token")
        if expected is None:
            raise SignatureError(msg("webhooks.sig.no_secret", name="token"))
        try:
            data = orjson.loads(req.body)
        except orjson.JSONDecodeError:
            raise SignatureError(msg("webhooks.sig.token_unreadable")) from None
        if not isinstance(data, dict):
            raise SignatureError(msg("webhooks.body.not_vendor", vendor="Zoho", fields="token"))
        verify_token(str(data.get("token") or ""), expected=expected, what="token")
        channel = conn.settings.get("channel_id")
        if channel and str(data.get("channel_id")) != str(channel):
            raise SignatureError(msg("webhooks.sig.mismatch", what="channel_id"))

    def items(self, req: InboundRequest, conn: Connector) -> list[Item]:
        """One item: the notification."""
        try:
            data = orjson.loads(req.body)
        except orjson.JSONDecodeError as exc:
            raise Unparseable(msg("webhooks.body.not_json", reason=str(exc))) from None
        if not isinstance(data, dict) or "module" not in data or "ids" not in data:
            raise Unparseable(msg("webhooks.body.not_vendor", vendor="Zoho", fields="module, ids"))
        ids = [str(i) for i in data.get("ids") or []]
        stored = {k: v for k, v in data.items() if k != "token"}  # the token is a secret
        key = (
            f"zoho-{data['module']}-{data.get('operation')}-{data.get('server_time')}-"
            + "-".join(ids[:5])
        )
        return [
            Item(
                key=key[:400],
                data=stored,
                object_type=str(data["module"]),
                record_id=ids[0] if len(ids) == 1 else None,
            )
        ]

    async def records(self, item: Item, conn: Connector, ctx: AdapterContext) -> list[VendorRecord]:
        """One record state per id."""
        data = item.data
        module = str(data.get("module"))
        operation = str(data.get("operation") or "").lower()
        try:
            at = parse_time(data.get("server_time"))
        except ValueError:
            at = None
        if at is None:
            raise ItemError("invalid_event", msg("webhooks.item.missing", fields="server_time"))
        values: dict[str, dict[str, Any]] = {}
        for entry in data.get("affected_values") or []:
            if isinstance(entry, dict) and isinstance(entry.get("values"), dict):
                values[str(entry.get("record_id"))] = entry["values"]
        out = []
        for rid in [str(i) for i in data.get("ids") or []]:
            fields = values.get(rid, {})
            try:
                modified = parse_time(fields.get("Modified_Time"))
            except ValueError:
                modified = None
            at_us = max(us_of(at), us_of(modified)) if modified is not None else us_of(at)
            event_id = f"zoho-{module}-{rid}-{data.get('server_time')}-{operation}"
            if operation == "delete":
                out.append(VendorRecord(module, rid, event_id, at_us, deleted=True, partial=True))
            else:
                out.append(
                    VendorRecord(
                        module,
                        rid,
                        event_id,
                        at_us,
                        fields=fields,
                        deleted=False if operation == "insert" else None,
                        partial=True,
                    )
                )
        return [await enrich(r, conn, ctx, ZOHO_API) for r in out]


class ZohoApi:
    """Zoho CRM's records API (v2 and later): ``GET {api_base}/crm/{version}/{module}/{id}``
    with ``Authorization: Zoho-oauthtoken <token>``; the record is ``data[0]``, lookups
    such as ``Owner`` are ``{"id", "name", "email"}``. A missing record answers 204 (no
    content); errors are ``{"code", "details", "message", "status": "error"}``; 429
    ``TOO_MANY_REQUESTS`` when the concurrency or credit limit is reached.

    Docs: https://www.zoho.com/crm/developer/docs/api/v8/get-records.html,
    https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html
    """

    title = "Zoho CRM"
    credential = "access_token"

    def request(
        self, record: VendorRecord, conn: Connector, objmap: ObjectMapping, token: str
    ) -> ApiRequest | None:
        """GET the record with the fields the mapping reads."""
        base = str(conn.settings.get("api_base") or API_BASE).rstrip("/")
        version = str(conn.settings.get("api_version") or API_VERSION)
        if not _VERSION.match(version) or not _ID.match(record.record_id):
            return None
        return ApiRequest(
            url=f"{base}/crm/{version}/{record.object_type}/{record.record_id}",
            headers={"Authorization": f"Zoho-oauthtoken {token}"},
            params={"fields": ",".join(sorted({*fields_read(objmap), "Modified_Time"}))},
        )

    def parse(self, body: Any, record: VendorRecord) -> Fetched | None:
        """``{"data": [record]}``."""
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            return None
        rows = [r for r in body["data"] if isinstance(r, dict)]
        if not rows:
            return None
        fields = dict(rows[0])
        return Fetched(fields=fields, updated_us=updated_us_of(fields.get("Modified_Time")))

    def reset_after(self, headers: httpx.Headers) -> float | None:
        """Zoho documents no reset header."""
        return None

    def rate_limited(self, status: int, body: Any) -> bool:
        """``TOO_MANY_REQUESTS`` in the body."""
        return isinstance(body, dict) and body.get("code") == "TOO_MANY_REQUESTS"

    def token_grant(self, conn: Connector) -> TokenGrant | None:
        """With ``client_id``, ``client_secret`` and ``refresh_token``: access tokens (one
        hour) from ``POST {accounts_url}/oauth/v2/token`` (``grant_type=refresh_token``).
        Docs: https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html
        """
        client_id = str(conn.settings.get("client_id") or "")
        client_secret = conn.secret("client_secret")
        refresh = conn.secret("refresh_token")
        if not client_id or client_secret is None or refresh is None:
            return None
        accounts = str(conn.settings.get("accounts_url") or ACCOUNTS_URL).rstrip("/")
        return TokenGrant(
            url=f"{accounts}/oauth/v2/token",
            form={
                "grant_type": "refresh_token",
                "client_id": client_id,
                "client_secret": client_secret,
                "refresh_token": refresh,
            },
            credential="refresh_token",
        )


ZOHO_API: Final = ZohoApi()
