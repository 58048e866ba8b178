"""A CRM webhook's way in: authenticate, split, read, map, quarantine, log.

1. **Find the connector** by the endpoint id in the URL (``?endpoint=`` or the path
   suffix), or by the caller's API key and the source. Unknown or disabled: 401.
2. **Verify** the vendor's signature or credentials with the connector's decrypted
   secrets and the injected clock. Wrong or stale: 401 and nothing is stored.
3. **Split** the body into vendor items; a body that cannot be read is kept whole in the
   quarantine (``unparseable``).
4. **Read** each item into vendor records — outside any database transaction, because it
   may call the CRM's API (HubSpot enrichment).
5. **Apply** in one write transaction: fold each record into its snapshot, map it with
   the tenant's mapping, validate each mapped event once with the canonical intake's
   complete check (:func:`validate_item`, the one ``POST /v1/events`` makes), keep what
   cannot be mapped or is not valid in the quarantine (per item, with the reasons),
   append the valid events to the event log without checking them again
   (:func:`append_checked`, ``source`` = the connector's source), then commit. The
   answer (2xx) comes only after the log holds the events and the commit succeeded; a
   log outage answers 503 and rolls back, and the CRM retries.

Event ids are stable per vendor event, so retries and replays inside the signature window
are acknowledged and counted once (scoring drops repeated ``(tenant, source, event_id)``).
An id scoring has already stored is answered ``duplicate`` and not appended again (one
indexed look-up of the request's ids in the events table, in the apply transaction); a
retry that arrives before scoring has applied the first copy is still answered
``accepted``, and scoring drops the repeat.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.ingest.events.schemas import EventResult
from paceline.ingest.events.service import Checked, _Item, append_checked, validate_item
from paceline.ingest.webhooks import reasons
from paceline.ingest.webhooks import repository as repo
from paceline.ingest.webhooks.adapters import adapter_for
from paceline.ingest.webhooks.base import (
    Adapter,
    AdapterContext,
    Connector,
    Hint,
    InboundRequest,
    Item,
    ItemError,
    Unparseable,
)
from paceline.ingest.webhooks.enrichment import RecordCache
from paceline.ingest.webhooks.mapping import (
    Failed,
    Mapped,
    Mapping,
    ObjectMapping,
    Outcome,
    Skipped,
    map_canonical,
    map_record,
)
from paceline.ingest.webhooks.quarantine import repository as quarantine_repo
from paceline.ingest.webhooks.vendor_records import Snapshot, VendorRecord
from paceline.shared import metrics
from paceline.shared.crypto import SecretBox
from paceline.shared.db.import_runs import existing_event_ids as stored_event_ids
from paceline.shared.db.models_webhooks import WebhookConnector, WebhookRecord
from paceline.shared.errors import Unauthorized
from paceline.shared.eventlog import EventLog
from paceline.shared.events import CanonicalEvent
from paceline.shared.i18n import DEFAULT_LOCALE, Msg, msg, params_json, render
from paceline.shared.outbound import outbound_client
from paceline.shared.settings import Settings
from paceline.shared.web.deps import AppState

log = logging.getLogger(__name__)

RAW_BODY = "__raw_body__"
RECORD_CACHE = "webhook_record_cache"  # AppState.extras: the enrichment's RecordCache
# Reason codes a vendor API credential can fix (retried when the connector's credentials
# change: config/router.py).
FIXABLE_BY_CREDENTIAL = ("incomplete", "enrichment_failed")


def open_connector(row: WebhookConnector, box: SecretBox) -> Connector:
    """A connector with its secrets decrypted (for this request only)."""
    plain: dict[str, str] = {}
    for name, stored in (row.secrets or {}).items():
        try:
            plain[name] = box.decrypt(stored)
        except ValueError:
            log.error(
                "connector %s/%s: secret %r cannot be decrypted", row.tenant_id, row.source, name
            )
    return Connector(
        tenant_id=row.tenant_id,
        source=row.source,
        adapter=row.adapter,
        settings=dict(row.settings or {}),
        secrets=plain,
        mapping=Mapping.model_validate(row.mapping or {}),
    )


async def find_connector(
    session: AsyncSession,
    *,
    source: str,
    endpoint_id: str | None,
    tenant_id: str | None,
) -> WebhookConnector:
    """The connector a request is for; Unauthorized if none (or disabled, or another source)."""
    row: WebhookConnector | None = None
    if endpoint_id:
        row = await repo.connector_by_endpoint(session, endpoint_id=endpoint_id)
    elif tenant_id is not None:
        row = await repo.connector(session, tenant_id=tenant_id, source=source)
    else:
        raise Unauthorized(msg("webhooks.endpoint.missing"))
    if row is None or row.source != source:
        raise Unauthorized(msg("webhooks.endpoint.unknown"))
    if not row.enabled:
        raise Unauthorized(msg("webhooks.endpoint.disabled"))
    return row


def raw_item(req: InboundRequest, reason: Msg) -> tuple[Item, ItemError]:
    """A whole body the adapter could not read, as one quarantine item."""
    digest = hashlib.sha256(req.body).hexdigest()[:32]
    data = {
        RAW_BODY: req.body.decode("utf-8", errors="replace"),
        "__headers__": {"content-type": req.headers.get("content-type", "")},
    }
    return Item(key=f"raw-{digest}", data=data), ItemError("unparseable", reason)


@dataclass(slots=True)
class Prepared:
    """An item and what reading it gave."""

    item: Item
    records: list[VendorRecord] = field(default_factory=list)
    error: ItemError | None = None
    notes: list[Msg] = field(default_factory=list)
    hints: list[Hint] = field(default_factory=list)


def split(adapter: Adapter, req: InboundRequest, conn: Connector) -> list[Prepared]:
    """The items of a verified body (or the whole body, when it cannot be read)."""
    try:
        return [Prepared(item) for item in adapter.items(req, conn)]
    except Unparseable as exc:
        item, error = raw_item(req, exc.reason)
        return [Prepared(item, error=error)]


async def read(
    adapter: Adapter, prepared: Sequence[Prepared], conn: Connector, ctx: AdapterContext
) -> None:
    """Read each item's records (may call the CRM's API); errors are kept per item."""
    for p in prepared:
        if p.error is not None:
            continue
        ctx.notes = []
        ctx.hints = []
        try:
            p.records = await adapter.records(p.item, conn, ctx)
        except ItemError as exc:
            p.error = exc
        p.notes = list(ctx.notes)
        p.hints = []
        for hint in ctx.hints:
            if hint not in p.hints:
                p.hints.append(hint)


async def read_all(
    state: AppState,
    adapter: Adapter,
    prepared: Sequence[Prepared],
    conn: Connector,
    *,
    now: datetime,
) -> None:
    """Read the items, with the guarded CRM client when the connector has a vendor API
    credential, and the process's record cache (enrichment.py)."""
    cache = state.extras.get(RECORD_CACHE)
    if not isinstance(cache, RecordCache):
        cache = state.extras[RECORD_CACHE] = RecordCache()
    if needs_http(conn):
        async with crm_client(state.settings) as http:
            await read(adapter, prepared, conn, AdapterContext(now=now, http=http, cache=cache))
    else:
        await read(adapter, prepared, conn, AdapterContext(now=now, cache=cache))


@dataclass(slots=True)
class ItemResult:
    """What happened to one vendor item."""

    key: str
    status: str = "ignored"  # accepted | duplicate | quarantined | ignored
    event_ids: list[str] = field(default_factory=list)
    reason: Msg | None = None
    quarantine_id: int | None = None

    def as_dict(self, locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
        """JSON form: the reason in ``locale``, with its code and parameters."""
        reason = self.reason
        return {
            "item": self.key,
            "status": self.status,
            "event_ids": self.event_ids,
            "reason": render(reason, locale) if reason is not None else None,
            "reason_code": reason.code if reason is not None else None,
            "reason_params": params_json(reason.params) if reason is not None else None,
            "quarantine_id": self.quarantine_id,
        }


@dataclass(frozen=True, slots=True)
class _Valid:
    """A mapped event that passed the canonical intake's validation, and its result."""

    event: CanonicalEvent
    result: EventResult


def _validated(outcome: Outcome, *, index: int, now: datetime) -> _Valid | Skipped | Failed:
    """A mapped event through the canonical intake's validation, the only one it gets.

    :func:`validate_item` is the complete check of ``POST /v1/events`` (types, NUL
    characters, the schema, dates too far ahead); what fails it is ``invalid_event``.
    """
    if not isinstance(outcome, Mapped):
        return outcome
    event, result = validate_item(_Item(index, outcome.event), now=now)
    if event is None:
        return Failed(
            "invalid_event",
            msg(
                "webhooks.map.invalid_event",
                event_id=str(outcome.event.get("event_id")),
                reasons=[
                    msg("errors.field_reason", field=e.field, reason=e.msg()) for e in result.errors
                ],
            ),
        )
    return _Valid(event, result)


def _object_mapping(mapping: Mapping, record: VendorRecord) -> ObjectMapping | Outcome:
    """The object mapping a record uses, or the outcome when there is none."""
    objmap = mapping.objects.get(record.object_type)
    if record.object_type in mapping.ignore_objects or (
        objmap is not None and objmap.type == "ignore"
    ):
        return Skipped(msg("webhooks.skip.ignored_object", object=record.object_type))
    if objmap is None:
        return Failed(
            "unknown_object", msg("webhooks.map.unknown_object", object=record.object_type)
        )
    return objmap


async def _fold(
    session: AsyncSession, *, conn: Connector, prepared: Sequence[Prepared], now: datetime
) -> dict[tuple[str, str], Snapshot]:
    """Fold every record of the request into its snapshot (stored), before mapping any.

    Mapping against the request's final snapshots means a batch that creates a record and
    sets its owner and stage in separate events maps every event to the complete record.
    """
    loaded: dict[tuple[str, str], tuple[WebhookRecord | None, Snapshot]] = {}
    for p in prepared:
        for record in p.records:
            if record.canonical is not None:
                continue
            if not isinstance(_object_mapping(conn.mapping, record), ObjectMapping):
                continue
            key = (record.object_type, record.record_id)
            if key not in loaded:
                loaded[key] = await repo.load_snapshot(
                    session,
                    tenant_id=conn.tenant_id,
                    source=conn.source,
                    object_type=record.object_type,
                    record_id=record.record_id,
                )
            loaded[key][1].merge(record)
    for (object_type, record_id), (row, snapshot) in loaded.items():
        await repo.save_snapshot(
            session,
            row=row,
            tenant_id=conn.tenant_id,
            source=conn.source,
            object_type=object_type,
            record_id=record_id,
            snapshot=snapshot,
            now=now,
        )
    return {key: snapshot for key, (_row, snapshot) in loaded.items()}


def _map(
    conn: Connector, record: VendorRecord, snapshots: dict[tuple[str, str], Snapshot]
) -> Outcome:
    if record.canonical is not None:
        return map_canonical(record.canonical, mapping=conn.mapping)
    objmap = _object_mapping(conn.mapping, record)
    if not isinstance(objmap, ObjectMapping):
        return objmap
    snapshot = snapshots[(record.object_type, record.record_id)]
    return map_record(record, snapshot, objmap=objmap, mapping=conn.mapping)


async def apply(
    session: AsyncSession,
    *,
    conn: Connector,
    prepared: Sequence[Prepared],
    eventlog: EventLog,
    now: datetime,
    request_id: str | None,
    count_occurrence: bool = True,
) -> list[ItemResult]:
    """Map, quarantine and log the items (in the caller's write transaction)."""
    results: list[ItemResult] = []
    checked: list[Checked] = []  # validated once, appended as they are
    owners: list[int] = []  # index of the item each event came from
    complete: list[tuple[str, str]] = []
    snapshots = await _fold(session, conn=conn, prepared=prepared, now=now)
    for p in prepared:
        res = ItemResult(key=p.item.key)
        results.append(res)
        problems: list[Failed] = []
        if p.error is not None:
            problems.append(Failed(p.error.code, p.error.reason))
        for record in p.records:
            outcome = _validated(_map(conn, record, snapshots), index=len(checked), now=now)
            if isinstance(outcome, _Valid):
                checked.append((outcome.event, outcome.result))
                owners.append(len(results) - 1)
                if record.canonical is None:
                    complete.append((record.object_type, record.record_id))
            elif isinstance(outcome, Failed):
                problems.append(outcome)
        if problems:
            code = problems[0].code
            if p.notes and code == "incomplete":
                code = "enrichment_failed"
            # What would fix it: a credential to read the whole record through the API.
            hints = p.hints if code in FIXABLE_BY_CREDENTIAL else []
            why = [f.reason for f in problems] + p.notes + [h.msg() for h in hints]
            error = p.error
            row = await quarantine_repo.upsert(
                session,
                tenant_id=conn.tenant_id,
                source=conn.source,
                item_key=p.item.key[:400],
                object_type=(
                    error.object_type if error and error.object_type else p.item.object_type
                ),
                record_id=(error.record_id if error and error.record_id else p.item.record_id),
                reason_code=code,
                reason=reasons.stored(why),
                item=p.item.data,
                now=now,
                request_id=request_id,
                fix=hints[0].as_dict() if hints else None,
            )
            if not count_occurrence and row.occurrences > 1:
                row.occurrences -= 1
            res.status = "quarantined"
            res.reason = reasons.joined(why)
            res.quarantine_id = row.id
        elif not p.records or not any(owner == len(results) - 1 for owner in owners):
            res.reason = msg("webhooks.result.nothing_to_count")
    # Replays across requests: ids scoring already stored (one indexed look-up in this
    # transaction) are answered ``duplicate`` and not appended again.
    known = await stored_event_ids(
        session,
        tenant_id=conn.tenant_id,
        source=conn.source,
        event_ids=[event.event_id for event, _result in checked if event is not None],
    )
    fresh: list[Checked] = []
    fresh_owners: list[int] = []
    for (event, result), owner in zip(checked, owners, strict=True):
        res = results[owner]
        if event is not None and event.event_id in known:
            res.event_ids.append(event.event_id)
            if res.status not in {"quarantined", "accepted"}:
                res.status = "duplicate"
            continue
        fresh.append((event, result.model_copy(update={"index": len(fresh)})))
        fresh_owners.append(owner)
    if fresh:
        response = await append_checked(
            checked=fresh,
            tenant_id=conn.tenant_id,
            source=conn.source,
            eventlog=eventlog,
            now=now,
            request_id=request_id,
        )
        for r in response.results:
            res = results[fresh_owners[r.index]]
            if r.event_id is not None:
                res.event_ids.append(r.event_id)
            if res.status == "quarantined":
                continue
            if r.status == "accepted":
                res.status = "accepted"
            elif r.status == "duplicate" and res.status != "accepted":
                res.status = "duplicate"
    if complete:
        await quarantine_repo.supersede_incomplete(
            session, tenant_id=conn.tenant_id, source=conn.source, records=complete, now=now
        )
    for res in results:
        metrics.WEBHOOK_ITEMS.labels(source=conn.adapter, status=res.status).inc()
    return results


def summary(
    source: str, results: Sequence[ItemResult], locale: str = DEFAULT_LOCALE
) -> dict[str, Any]:
    """The JSON answer of a webhook request or a replay (reasons in ``locale``)."""
    return {
        "source": source,
        "accepted": sum(r.status == "accepted" for r in results),
        "duplicates": sum(r.status == "duplicate" for r in results),
        "quarantined": sum(r.status == "quarantined" for r in results),
        "ignored": sum(r.status == "ignored" for r in results),
        "results": [r.as_dict(locale) for r in results],
    }


def needs_http(conn: Connector) -> bool:
    """Whether reading this connector's items may call the CRM's API."""
    names = adapter_for(conn.adapter).enrichment_credentials
    return any(conn.secret(name) is not None for name in names)


def crm_client(settings: Settings) -> httpx.AsyncClient:
    """The client for a CRM's API during a webhook or a replay: the guarded outbound
    client (the API base URL is the tenant's choice), connecting within 3 s."""
    return outbound_client(
        timeout=httpx.Timeout(settings.outbound_timeout_s, connect=3.0),
        allow_private=settings.outbound_private_allowed,
    )


def adapter_of(conn: Connector) -> Adapter:
    """The connector's adapter."""
    return adapter_for(conn.adapter)
