"""Salesforce: Outbound Messages (SOAP) and Change Data Capture events (JSON).

**Outbound Messages** (``text/xml``): a SOAP ``notifications`` envelope with up to 100
``Notification`` elements, each an ``sObject`` with the fields chosen in Setup. Salesforce
resends until it gets the exact acknowledgement::

    <soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
      <soapenv:Body>
        <notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">
          <Ack>true</Ack>
        </notificationsResponse>
      </soapenv:Body>
    </soapenv:Envelope>

Outbound messages carry no signature: the connector's unguessable endpoint id authenticates
the URL and the ``OrganizationId`` must be the configured org. XML is parsed with
``defusedxml`` (no entity expansion, no external entities, no DTD retrieval). Event ids
are the ``Notification`` ``Id`` (Salesforce keeps it on resends); the state's time is the
record's ``LastModifiedDate`` (or ``SystemModstamp``) — include one of them in the message.

**Change Data Capture** (``application/json``): change events as a relay (a Pub/Sub API or
CometD subscriber) posts them, either the streaming envelope ``{"data": {"payload": ...,
"event": {"replayId": ...}}}``, a bare payload with ``ChangeEventHeader``, or an array of
either; signed with Standard Webhooks headers and the connector's ``cdc_secret``. Updates
carry only changed fields and are folded into the record's snapshot; when a change lacks a
field the mapping reads (an update of a record never seen before has no ``OwnerId``), the
record is read through the REST API (:class:`SalesforceApi`) with the connector's
``access_token`` and ``instance_url``, else it waits in the quarantine naming them. Event ids:
``sf-cdc-{transactionKey}-{sequenceNumber}-{recordId}``; the time is ``commitTimestamp``
plus ``sequenceNumber`` microseconds (orders changes of one transaction). Gap events carry
no fields: they are quarantined for the nightly reconciliation.

Docs: https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_om_outboundmessaging_wsdl.htm,
https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_event_fields_header.htm
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Final
from xml.etree.ElementTree import Element  # types only; parsing is defusedxml

import httpx
import orjson
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from fastapi import Response

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
from paceline.ingest.webhooks.signatures import SignatureError, verify_standard_webhook
from paceline.ingest.webhooks.vendor_records import VendorRecord, parse_time, us_of
from paceline.shared.i18n import Code, msg

API_VERSION: Final = "v62.0"
_VERSION: Final = re.compile(r"^v\d{2,3}\.\d$")
_SF_ID: Final = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")
_SF_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")

SOAP_NS: Final = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS: Final = "http://soap.sforce.com/2005/09/outbound"
XSI_NS: Final = "http://www.w3.org/2001/XMLSchema-instance"

ACK: Final = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}">\n'
    "  <soapenv:Body>\n"
    f'    <notificationsResponse xmlns="{OUTBOUND_NS}">\n'
    "      <Ack>true</Ack>\n"
    "    </notificationsResponse>\n"
    "  </soapenv:Body>\n"
    "</soapenv:Envelope>\n"
)

_OPEN_STAGES = [
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
]

DEFAULT_MAPPING: Final[dict[str, Any]] = {
    "objects": {
        "Opportunity": {
            "type": "deal",
            "fields": {
                "rep_id": "OwnerId",
                "amount": "Amount",
                "currency": "CurrencyIsoCode",
                "stage": "StageName",
                "closed_at": "CloseDate",
                "customer_id": "AccountId",
                "is_new_customer": "Type",
            },
            "values": {
                "stage": {"open": _OPEN_STAGES, "won": ["Closed Won"], "lost": ["Closed Lost"]},
                "is_new_customer": {
                    "true": ["New Customer", "New Business"],
                    "false": [
                        "Existing Customer - Upgrade",
                        "Existing Customer - Replacement",
                        "Existing Customer - Downgrade",
                        "Existing Business",
                    ],
                },
            },
            "unmatched": {"is_new_customer": "null"},
            "deleted_when": {"IsDeleted": [True]},
            "attributes": {"opportunity_name": "Name", "lead_source": "LeadSource"},
        },
        "Event": {
            "type": "visit",
            "fields": {
                "rep_id": "OwnerId",
                "occurred_at": ["StartDateTime", "ActivityDateTime", "ActivityDate"],
                "customer_id": "AccountId",
                "duration_min": "DurationInMinutes",
            },
            "defaults": {"channel": "onsite"},
            "skip_when": {"Type": ["Call", "Email"]},
            "deleted_when": {"IsDeleted": [True]},
            "attributes": {"subject": "Subject"},
        },
        "Quote": {
            "type": "quote",
            "fields": {
                "rep_id": ["OwnerId", "CreatedById"],
                "amount": ["GrandTotal", "TotalPrice"],
                "currency": "CurrencyIsoCode",
                "customer_id": "AccountId",
                "status": "Status",
            },
            "values": {
                "status": {
                    "sent": ["Presented", "Approved"],
                    "accepted": ["Accepted"],
                    "rejected": ["Denied", "Rejected"],
                }
            },
            "skip_when": {"Status": ["Draft", "Needs Review", "In Review"]},
        },
        "Case": {
            "type": "complaint",
            "fields": {
                "rep_id": "OwnerId",
                "customer_id": "AccountId",
                "severity": "Priority",
                "opened_at": "CreatedDate",
                "resolved_at": "ClosedDate",
            },
            "attributes": {"subject": "Subject", "origin": "Origin"},
        },
        "Lead": {
            "type": "lead",
            "fields": {
                "rep_id": "OwnerId",
                "occurred_at": ["CreatedDate", "$event_time"],
                "source": "LeadSource",
            },
            "deleted_when": {"IsDeleted": [True]},
        },
    },
    "ignore_objects": ["Account", "Contact", "Task", "User", "Product2", "OpportunityLineItem"],
}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].split(":")[-1]


def _text(el: Element) -> Any:
    if el.get(f"{{{XSI_NS}}}nil") == "true":
        return None
    if len(el):
        return {_local(child.tag): _text(child) for child in el}
    text = (el.text or "").strip()
    if text in {"true", "false"}:
        return text == "true"
    return text


def parse_outbound(body: bytes) -> dict[str, Any]:
    """The notifications of an Outbound Message: org, action and each sObject's fields."""
    try:
        root = fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise Unparseable(msg("webhooks.salesforce.bad_soap", reason=str(exc))) from None
    notifications = root.find(f"{{{SOAP_NS}}}Body/{{{OUTBOUND_NS}}}notifications")
    if notifications is None:
        raise Unparseable(msg("webhooks.item.missing", fields="notifications (SOAP Body)"))
    out: dict[str, Any] = {
        "OrganizationId": (notifications.findtext(f"{{{OUTBOUND_NS}}}OrganizationId") or ""),
        "ActionId": notifications.findtext(f"{{{OUTBOUND_NS}}}ActionId") or "",
        "notifications": [],
    }
    for notification in notifications.findall(f"{{{OUTBOUND_NS}}}Notification"):
        sobject = notification.find(f"{{{OUTBOUND_NS}}}sObject")
        if sobject is None:
            raise Unparseable(msg("webhooks.item.missing", fields="Notification/sObject"))
        xsi_type = sobject.get(f"{{{XSI_NS}}}type") or ""
        out["notifications"].append(
            {
                "NotificationId": notification.findtext(f"{{{OUTBOUND_NS}}}Id") or "",
                "object": xsi_type.split(":")[-1],
                "fields": {_local(child.tag): _text(child) for child in sobject},
            }
        )
    return out


def _cdc_events(data: Any) -> list[dict[str, Any]]:
    """Change events from a relay's JSON: envelope, bare payload, or an array."""
    if isinstance(data, list):
        return [ev for item in data for ev in _cdc_events(item)]
    if not isinstance(data, dict):
        raise Unparseable(msg("webhooks.body.not_object"))
    if "ChangeEventHeader" in data:
        return [{"payload": data, "replayId": None}]
    nested = data.get("data")
    inner: dict[str, Any] = nested if isinstance(nested, dict) else data
    payload = inner.get("payload")
    if not isinstance(payload, dict) or "ChangeEventHeader" not in payload:
        raise Unparseable(msg("webhooks.item.missing", fields="ChangeEventHeader"))
    found = inner.get("event")
    event: dict[str, Any] = found if isinstance(found, dict) else {}
    return [{"payload": payload, "replayId": event.get("replayId", inner.get("replayId"))}]


class SalesforceAdapter(Adapter):
    """Salesforce Outbound Messages and CDC events."""

    name = "salesforce"
    title = "Salesforce"
    docs = (
        "https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_om_outboundmessaging_wsdl.htm",
        "https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_event_fields_header.htm",
    )
    enrichment_credentials = ("access_token", "client_secret")
    options = (
        SettingSpec(
            "organization_id",
            msg("webhooks.adapter.salesforce.organization_id"),
            required=True,
        ),
        SettingSpec(
            "cdc_secret",
            msg("webhooks.adapter.salesforce.cdc_secret", example=Code("whsec_...")),
            True,
            generated=True,
        ),
        SettingSpec(
            "instance_url",
            msg(
                "webhooks.adapter.salesforce.instance_url",
                example=Code("https://yourdomain.my.salesforce.com"),
            ),
        ),
        SettingSpec("access_token", msg("webhooks.adapter.salesforce.access_token"), secret=True),
        SettingSpec(
            "api_version",
            msg("webhooks.adapter.salesforce.api_version", default=Code(API_VERSION)),
        ),
        SettingSpec(
            "client_id",
            msg(
                "webhooks.adapter.salesforce.client_id",
                token=Code("access_token"),
                secret=Code("client_secret"),
            ),
        ),
        SettingSpec("client_secret", msg("webhooks.adapter.salesforce.client_secret"), secret=True),
    )

    def default_mapping(self) -> dict[str, Any]:
        """Standard Sales Cloud objects and stages."""
        return DEFAULT_MAPPING

    def generate_secret(self, name: str) -> str:
        """Standard Webhooks secrets are ``whsec_`` + base64 of 24 random bytes."""
        import base64
        import secrets

        return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()

    def verify(self, req: InboundRequest, conn: Connector, *, now: datetime) -> None:
        """Outbound: the org id; CDC: Standard Webhooks signature."""
        if req.media_type in {"text/xml", "application/xml", "application/soap+xml"}:
            org = str(conn.settings.get("organization_id") or "")
            if len(org) < 15:
                raise SignatureError(msg("webhooks.sig.no_secret", name="organization_id"))
            try:
                parsed = parse_outbound(req.body)
            except Unparseable as exc:
                raise SignatureError(
                    msg("webhooks.salesforce.unauthenticated", reason=exc.reason)
                ) from None
            if parsed["OrganizationId"][:15] != org[:15]:
                raise SignatureError(msg("webhooks.sig.mismatch", what="OrganizationId"))
            return
        secret = conn.secret("cdc_secret")
        if secret is None:
            raise SignatureError(msg("webhooks.sig.no_secret", name="cdc_secret"))
        verify_standard_webhook(req.headers, body=req.body, secret=secret, now=now)

    def items(self, req: InboundRequest, conn: Connector) -> list[Item]:
        """One item per notification or change event."""
        if req.media_type in {"text/xml", "application/xml", "application/soap+xml"}:
            parsed = parse_outbound(req.body)
            return [
                Item(
                    key=f"sf-om-{n['NotificationId']}",
                    data={"kind": "outbound", "OrganizationId": parsed["OrganizationId"], **n},
                    object_type=n["object"],
                    record_id=str(n["fields"].get("Id") or ""),
                )
                for n in parsed["notifications"]
            ]
        try:
            data = orjson.loads(req.body)
        except orjson.JSONDecodeError as exc:
            raise Unparseable(msg("webhooks.body.not_json", reason=str(exc))) from None
        out = []
        for ev in _cdc_events(data):
            header = ev["payload"]["ChangeEventHeader"]
            ids = header.get("recordIds") or []
            key = (
                f"sf-cdc-{header.get('transactionKey')}-{header.get('sequenceNumber')}"
                if header.get("transactionKey")
                else f"sf-cdc-r{ev.get('replayId')}-{'-'.join(map(str, ids))}"
            )
            out.append(
                Item(
                    key=key,
                    data={"kind": "cdc", **ev},
                    object_type=str(header.get("entityName") or ""),
                    record_id=str(ids[0]) if len(ids) == 1 else None,
                )
            )
        return out

    async def records(self, item: Item, conn: Connector, ctx: AdapterContext) -> list[VendorRecord]:
        """Record states of a notification or change event."""
        if item.data.get("kind") == "outbound":
            return [self._outbound(item.data, ctx)]
        return [await enrich(r, conn, ctx, SALESFORCE_API) for r in self._cdc(item.data)]

    def _outbound(self, data: dict[str, Any], ctx: AdapterContext) -> VendorRecord:
        fields = dict(data.get("fields") or {})
        record_id = str(fields.get("Id") or "")
        if not record_id:
            raise ItemError(
                "invalid_event",
                msg("webhooks.item.missing", fields="sObject Id"),
                object_type=data.get("object"),
            )
        try:
            at = parse_time(fields.get("LastModifiedDate") or fields.get("SystemModstamp"))
        except ValueError:
            at = None
        at_us = us_of(at or ctx.now)
        deleted = fields.get("IsDeleted") is True
        return VendorRecord(
            str(data.get("object") or ""),
            record_id,
            f"sf-om-{data.get('NotificationId')}",
            at_us,
            fields=fields,
            deleted=deleted,
            partial=False,
        )

    def _cdc(self, data: dict[str, Any]) -> list[VendorRecord]:
        payload = dict(data["payload"])
        header = payload.pop("ChangeEventHeader")
        entity = str(header.get("entityName") or "")
        change = str(header.get("changeType") or "").upper()
        ids = [str(i) for i in header.get("recordIds") or []]
        if change.startswith("GAP_"):
            raise ItemError(
                "gap",
                msg("webhooks.salesforce.gap", change=change, entity=entity, ids=", ".join(ids)),
                object_type=entity,
                record_id=ids[0] if len(ids) == 1 else None,
            )
        if not ids or any("*" in i for i in ids):
            raise ItemError(
                "invalid_event", msg("webhooks.salesforce.no_record_ids", change=change)
            )
        try:
            commit = parse_time(header.get("commitTimestamp"))
        except ValueError:
            commit = None
        if commit is None:
            raise ItemError("invalid_event", msg("webhooks.item.missing", fields="commitTimestamp"))
        seq = int(header.get("sequenceNumber") or 0)
        at_us = us_of(commit) + min(max(seq, 0), 999)
        for name in header.get("nulledFields") or []:
            payload[str(name)] = None
        txn = header.get("transactionKey")
        out = []
        for rid in ids:
            event_id = (
                f"sf-cdc-{txn}-{seq}-{rid}" if txn else f"sf-cdc-r{data.get('replayId')}-{rid}"
            )
            if change == "DELETE":
                out.append(VendorRecord(entity, rid, event_id, at_us, deleted=True, partial=True))
            else:
                out.append(
                    VendorRecord(
                        entity,
                        rid,
                        event_id,
                        at_us,
                        fields=payload,
                        deleted=False if change in {"CREATE", "UNDELETE"} else None,
                        partial=change == "UPDATE",
                    )
                )
        return out

    def respond(self, summary: dict[str, Any], req: InboundRequest) -> Response | None:
        """The SOAP acknowledgement for outbound messages (JSON for CDC)."""
        if req.media_type in {"text/xml", "application/xml", "application/soap+xml"}:
            return Response(content=ACK, media_type="text/xml; charset=utf-8")
        return None


class SalesforceApi:
    """Salesforce REST API, sObject Rows: ``GET {instance_url}/services/data/{version}/
    sobjects/{type}/{id}?fields=...`` with ``Authorization: Bearer``. Errors are a JSON
    array ``[{"message", "errorCode"}]``: 401 ``INVALID_SESSION_ID``, 404 ``NOT_FOUND``,
    403 ``REQUEST_LIMIT_EXCEEDED`` when the org's API requests are used up (a limit, not a
    bad credential).

    Docs: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_retrieve.htm,
    https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
    """

    title = "Salesforce"
    credential = "access_token"

    def request(
        self, record: VendorRecord, conn: Connector, objmap: ObjectMapping, token: str
    ) -> ApiRequest | None:
        """GET the record's fields the mapping reads."""
        base = str(conn.settings.get("instance_url") or "").rstrip("/")
        version = str(conn.settings.get("api_version") or API_VERSION)
        if not base or not _VERSION.match(version) or not _SF_ID.match(record.record_id):
            return None
        if not _SF_NAME.match(record.object_type):
            return None
        fields = sorted({*fields_read(objmap), "LastModifiedDate", "IsDeleted"})
        return ApiRequest(
            url=f"{base}/services/data/{version}/sobjects/{record.object_type}/{record.record_id}",
            headers={"Authorization": f"Bearer {token}"},
            params={"fields": ",".join(fields)},
        )

    def parse(self, body: Any, record: VendorRecord) -> Fetched | None:
        """The sObject's fields (without ``attributes``)."""
        if not isinstance(body, dict) or "attributes" not in body:
            return None
        fields = {k: v for k, v in body.items() if k != "attributes"}
        return Fetched(
            fields=fields,
            updated_us=updated_us_of(
                fields.get("LastModifiedDate") or fields.get("SystemModstamp")
            ),
            deleted=fields.get("IsDeleted") is True,
        )

    def reset_after(self, headers: httpx.Headers) -> float | None:
        """Salesforce sends no reset time."""
        return None

    def rate_limited(self, status: int, body: Any) -> bool:
        """``REQUEST_LIMIT_EXCEEDED`` (403)."""
        return isinstance(body, list) and any(
            isinstance(e, dict) and e.get("errorCode") == "REQUEST_LIMIT_EXCEEDED" for e in body
        )

    def token_grant(self, conn: Connector) -> TokenGrant | None:
        """With ``client_id`` and ``client_secret`` of a connected app enabled for the
        client credentials flow: access tokens from ``POST {instance_url}/services/oauth2/
        token`` (``grant_type=client_credentials``), renewed on 401.
        Docs: https://developer.salesforce.com/docs/atlas.en-us.262.0.chatterapi.meta/chatterapi/quickstart_connecting.htm
        """
        base = str(conn.settings.get("instance_url") or "").rstrip("/")
        client_id = str(conn.settings.get("client_id") or "")
        client_secret = conn.secret("client_secret")
        if not base or not client_id or client_secret is None:
            return None
        return TokenGrant(
            url=f"{base}/services/oauth2/token",
            form={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": client_secret,
            },
            credential="client_secret",
        )


SALESFORCE_API: Final = SalesforceApi()
