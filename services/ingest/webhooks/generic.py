"""Generic: signed canonical events, or any CRM's JSON records with a field map.

For home-grown CRMs and the Chinese CRMs: 简道云 (Jiandaoyun), 纷享销客 (Fxiaoke), 销售易
(Xiaoshouyi / Neocrm) and 金蝶云苍穹 (Kingdee Cosmic) have built-in presets (setting
``preset``, :mod:`paceline.ingest.webhooks.presets`, applied when the connector is saved);
setup in docs/CONNECTORS.md.

Body formats (setting ``format``):

* ``canonical`` (default): canonical events — one JSON object, a JSON array, or NDJSON —
  exactly as ``POST /v1/events`` takes them; only ``owners`` and ``default_currency`` of
  the mapping apply.
* ``records``: the CRM's own JSON. ``items_path`` (optional) names an array of records,
  else the body is one record; ``object_type`` (a constant) or ``object_type_path`` says
  which mapping applies; ``record_id_path``, ``version_path`` (the record's update time or
  sequence), ``deleted_path`` + ``deleted_values`` read the rest; then the tenant's object
  mappings turn the record into canonical events like any vendor's.
  ``object_type_query`` names a query parameter of the push URL that gives the object
  type instead (简道云 pushes every form alike: ``...&form=opportunity``); it is kept in
  the stored item, so quarantine replays know it. ``version_tz``: the zone of an update
  time written without an offset (金蝶云苍穹's ``yyyy-MM-dd HH:mm:ss``).

One element of a batch that is not a JSON object is quarantined alone (``unparseable``);
the other elements go on.

Signature schemes (setting ``signature``):

* ``standard_webhooks`` (default): ``webhook-id``/``webhook-timestamp``/``webhook-signature``
  with the connector's ``whsec_`` secret (https://www.standardwebhooks.com/);
* ``jiandaoyun``: 简道云 data push, ``X-JDY-Signature`` = SHA-1 of
  ``{nonce}:{body}:{secret}:{timestamp}`` (https://hc.jiandaoyun.com/open/11507);
* ``twenty``: Twenty CRM, ``X-Twenty-Webhook-Signature`` = hex HMAC-SHA256 of
  ``{timestamp}:{body}`` with ``X-Twenty-Webhook-Timestamp`` (ms)
  (https://docs.twenty.com/developers/extend/webhooks);
* ``token``: a static token in the ``X-Paceline-Token`` header (or ``token_header``) or the
  ``token`` query parameter, for automation tools that can only add a fixed header.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

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
from paceline.ingest.webhooks.signatures import (
    SignatureError,
    standard_webhook_id,
    verify_jiandaoyun,
    verify_standard_webhook,
    verify_token,
    verify_twenty,
)
from paceline.ingest.webhooks.vendor_records import (
    VendorRecord,
    id_text,
    lookup,
    parse_time,
    us_of,
)
from paceline.shared.i18n import Code, Msg, OneOf, msg

SCHEMES: Final = ("standard_webhooks", "jiandaoyun", "twenty", "token")
FORMATS: Final = ("canonical", "records")
_RECORDS: Final = Code("records")  # the format the record settings apply to
NDJSON: Final = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})


# Reserved keys of a stored item: the object type named by the push URL's query
# (``object_type_query``: 简道云 pushes every form's records alike), and an element of a
# batch that is not a JSON object (kept alone in the quarantine).
OBJECT_TYPE_KEY: Final = "__object_type__"
NOT_AN_OBJECT: Final = "__not_an_object__"


def _not_an_object(value: Any, index: int, *, what: str) -> Item:
    digest = content_digest(value)
    return Item(
        key=f"gen-bad-{digest}",
        data={NOT_AN_OBJECT: value, "index": index},
        object_type=what,
    )


def _version_time(version: Any, tz: Any) -> datetime | None:
    """The record's update time; a time without an offset is in ``version_tz`` (else UTC)."""
    at = parse_time(version)
    if at is None or not tz or not isinstance(version, str) or _HAS_OFFSET.search(version):
        return at
    return at.replace(tzinfo=ZoneInfo(str(tz)))


_HAS_OFFSET: Final = re.compile(r"(Z|z|[+-]\d{2}:?\d{2})$")


def content_digest(row: Any) -> str:
    """SHA-256 (32 hex digits) of a record's JSON with sorted keys."""
    return hashlib.sha256(orjson.dumps(row, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


class GenericAdapter(Adapter):
    """Signed canonical events or mapped JSON records."""

    name = "generic"
    title = "Generic (Standard Webhooks)"

    def title_msg(self) -> Msg:
        """通用（Standard Webhooks） / Generic (Standard Webhooks)."""
        return msg("webhooks.adapter.generic.title")

    docs = (
        "https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md",
    )
    options = (
        SettingSpec(
            "secret",
            msg(
                "webhooks.adapter.generic.secret",
                prefix=Code("whsec_"),
                scheme=Code("standard_webhooks"),
            ),
            True,
            True,
            generated=True,
        ),
        SettingSpec(
            "signature",
            msg(
                "webhooks.adapter.generic.signature",
                schemes=OneOf([Code(s) for s in SCHEMES]),
                default=Code("standard_webhooks"),
            ),
        ),
        SettingSpec(
            "token_header", msg("webhooks.adapter.generic.token_header", scheme=Code("token"))
        ),
        SettingSpec(
            "format",
            msg(
                "webhooks.adapter.generic.format",
                formats=OneOf([Code(f) for f in FORMATS]),
                default=Code("canonical"),
            ),
        ),
        SettingSpec("items_path", msg("webhooks.adapter.generic.items_path", format=_RECORDS)),
        SettingSpec("object_type", msg("webhooks.adapter.generic.object_type", format=_RECORDS)),
        SettingSpec(
            "object_type_path",
            msg("webhooks.adapter.generic.object_type_path", format=_RECORDS),
        ),
        SettingSpec(
            "object_type_query",
            msg(
                "webhooks.adapter.generic.object_type_query",
                format=_RECORDS,
                param=Code("form"),
                url=Code("...&form=opportunity"),
            ),
        ),
        SettingSpec("preset", msg("webhooks.adapter.generic.preset")),
        SettingSpec(
            "record_id_path", msg("webhooks.adapter.generic.record_id_path", format=_RECORDS)
        ),
        SettingSpec("version_path", msg("webhooks.adapter.generic.version_path", format=_RECORDS)),
        SettingSpec(
            "version_tz",
            msg(
                "webhooks.adapter.generic.version_tz",
                format=_RECORDS,
                example=Code("Asia/Shanghai"),
            ),
        ),
        SettingSpec("deleted_path", msg("webhooks.adapter.generic.deleted_path", format=_RECORDS)),
        SettingSpec(
            "deleted_values",
            msg(
                "webhooks.adapter.generic.deleted_values",
                format=_RECORDS,
                path=Code("deleted_path"),
            ),
        ),
    )

    def generate_secret(self, name: str) -> str:
        """``whsec_`` + base64 of 24 random bytes (usable by every scheme)."""
        return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()

    def verify(self, req: InboundRequest, conn: Connector, *, now: datetime) -> None:
        """The configured scheme."""
        secret = conn.secret("secret")
        if secret is None:
            raise SignatureError(msg("webhooks.sig.no_secret", name="secret"))
        scheme = str(conn.settings.get("signature") or "standard_webhooks")
        if scheme == "standard_webhooks":
            verify_standard_webhook(req.headers, body=req.body, secret=secret, now=now)
        elif scheme == "jiandaoyun":
            verify_jiandaoyun(req.headers, req.query, body=req.body, secret=secret, now=now)
        elif scheme == "twenty":
            verify_twenty(req.headers, body=req.body, secret=secret, now=now)
        elif scheme == "token":
            header = str(conn.settings.get("token_header") or "X-Paceline-Token").lower()
            verify_token(req.headers.get(header) or req.query.get("token"), expected=secret)
        else:
            raise SignatureError(msg("webhooks.sig.scheme", scheme=scheme[:50]))

    def items(self, req: InboundRequest, conn: Connector) -> list[Item]:
        """Canonical events, or records, one item each."""
        fmt = str(conn.settings.get("format") or "canonical")
        if fmt == "canonical":
            return self._canonical_items(req)
        try:
            data = orjson.loads(req.body)
        except orjson.JSONDecodeError as exc:
            raise Unparseable(msg("webhooks.body.not_json", reason=str(exc))) from None
        items_path = conn.settings.get("items_path")
        rows = lookup(data, str(items_path)) if items_path and isinstance(data, dict) else data
        if isinstance(rows, dict):
            rows = [rows]
        if not isinstance(rows, list):
            raise Unparseable(msg("webhooks.body.not_objects"))
        query_name = conn.settings.get("object_type_query")
        from_query = req.query.get(str(query_name)) if query_name else None
        out = []
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                # One element that is not a record is kept alone; the others go on.
                out.append(_not_an_object(row, i, what="record"))
                continue
            if from_query:
                row = {**row, OBJECT_TYPE_KEY: from_query}
            otype, rid, version = self._ids(row, conn)
            digest = content_digest(row)
            key = f"gen-{otype}-{rid}-{version}-{digest[:12]}" if rid else f"gen-{digest}-{i}"
            out.append(Item(key=key[:400], data=row, object_type=otype, record_id=rid))
        return out

    def _canonical_items(self, req: InboundRequest) -> list[Item]:
        raw: list[Any]
        try:
            if req.media_type in NDJSON:
                raw = [orjson.loads(line) for line in req.body.split(b"\n") if line.strip()]
            else:
                data = orjson.loads(req.body)
                raw = data if isinstance(data, list) else [data]
        except orjson.JSONDecodeError as exc:
            raise Unparseable(msg("webhooks.body.not_json", reason=str(exc))) from None
        message_id = standard_webhook_id(req.headers) or ""
        out = []
        for i, ev in enumerate(raw):
            if not isinstance(ev, dict):
                out.append(_not_an_object(ev, i, what="event"))
                continue
            ident = ev.get("event_id")
            key = f"gen-{ident}" if isinstance(ident, str) and ident else f"gen-{message_id}-{i}"
            out.append(
                Item(
                    key=key[:400],
                    data={"__canonical__": ev},
                    object_type=str(ev.get("type") or ""),
                    record_id=id_text(ev.get("entity_id") or ev.get("event_id")),
                )
            )
        return out

    @staticmethod
    def _ids(row: dict[str, Any], conn: Connector) -> tuple[str, str | None, Any]:
        s = conn.settings
        otype = str(
            row.get(OBJECT_TYPE_KEY)
            or s.get("object_type")
            or (lookup(row, str(s["object_type_path"])) if s.get("object_type_path") else "")
            or "record"
        )
        rid = id_text(lookup(row, str(s.get("record_id_path") or "id")))
        version = lookup(row, str(s.get("version_path") or "updated_at"))
        return otype, rid, version

    def stored_items(self, data: dict[str, Any], key: str, conn: Connector) -> list[Item]:
        """Items again from what the quarantine kept."""
        if "__canonical__" in data or NOT_AN_OBJECT in data or OBJECT_TYPE_KEY in data:
            return [Item(key=key, data=data)]
        return super().stored_items(data, key, conn)

    async def records(self, item: Item, conn: Connector, ctx: AdapterContext) -> list[VendorRecord]:
        """A canonical event as it is, or a record read with the configured paths."""
        if NOT_AN_OBJECT in item.data:
            raise ItemError(
                "unparseable",
                msg("webhooks.item.not_object", index=str(item.data.get("index"))),
            )
        if "__canonical__" in item.data:
            ev = item.data["__canonical__"]
            return [
                VendorRecord(
                    str(ev.get("type") or ""),
                    str(ev.get("entity_id") or ev.get("event_id") or ""),
                    str(ev.get("event_id") or ""),
                    0,
                    canonical=ev,
                )
            ]
        otype, rid, version = self._ids(item.data, conn)
        if rid is None:
            raise ItemError("invalid_event", msg("webhooks.item.missing", fields="record_id_path"))
        try:
            at = _version_time(version, conn.settings.get("version_tz"))
        except ValueError:
            at = None
        at_us = us_of(at) if at is not None else us_of(ctx.now)
        deleted_path = conn.settings.get("deleted_path")
        deleted = False
        if deleted_path:
            marker = lookup(item.data, str(deleted_path))
            listed = conn.settings.get("deleted_values") or [True]
            deleted = str(marker) in {str(v) for v in listed} or marker in listed
        # The record's content is part of its id: a delete (or any change) that carries
        # an unchanged update time is a new event, the same bytes again the same one.
        stamp = version if version is not None else at_us
        digest = content_digest(item.data)
        event_id = f"{conn.source}-{otype}-{rid}-{stamp}-{digest[:12]}"
        if len(event_id) > 200:  # the canonical id's limit: long ids hashed whole
            whole = hashlib.sha256(event_id.encode()).hexdigest()[:32]
            event_id = f"{conn.source}-{otype}-{whole}"
        return [
            VendorRecord(
                otype,
                rid,
                event_id,
                at_us,
                fields=item.data,
                deleted=deleted,
                partial=False,
                after_ties=True,
            )
        ]
