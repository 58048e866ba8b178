"""Replaying and discarding quarantined items.

A replay re-reads the kept vendor item with the connector's *current* mapping (and, for
HubSpot, the CRM API), folds it into the record's snapshot again (idempotent) and logs
what now maps, through the same path as a webhook. The item's event ids are the ones the
original delivery would have had, so a replay never counts anything twice. Items that
still do not map stay ``pending`` with the new reason.
"""

from __future__ import annotations

import logging
from typing import Any

from paceline.ingest.webhooks import reasons
from paceline.ingest.webhooks import repository as connector_repo
from paceline.ingest.webhooks import service as webhooks
from paceline.ingest.webhooks.base import Connector, Item, ItemError, Unparseable, hint_msg
from paceline.ingest.webhooks.quarantine import repository as repo
from paceline.ingest.webhooks.quarantine.schemas import FixOut, QuarantineOut, ReplayOut
from paceline.shared import metrics
from paceline.shared.db.models_webhooks import QuarantineItem
from paceline.shared.errors import Conflict, NotFound
from paceline.shared.i18n import DEFAULT_LOCALE, from_json, msg, params_json, render
from paceline.shared.web.deps import AppState, Auditor

log = logging.getLogger(__name__)

MAX_REPLAY = 500
FIX_CODES = ("credential_missing", "credential_rejected")


def to_out(
    row: QuarantineItem, *, with_item: bool = False, locale: str = DEFAULT_LOCALE
) -> QuarantineOut:
    """The API form of an item, its words in ``locale``."""
    reason = reasons.read(row.reason)
    return QuarantineOut(
        id=row.id,
        source=row.source,
        item_key=row.item_key,
        object_type=row.object_type,
        record_id=row.record_id,
        reason_code=row.reason_code,
        reason=render(reason, locale),
        reason_message_code=reason.code,
        reason_message_params=params_json(reason.params),
        status=row.status,
        occurrences=row.occurrences,
        attempts=row.attempts,
        received_at=row.received_at,
        last_seen_at=row.last_seen_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        result=_result_of(row.result, locale),
        fix=_fix_of(row, locale),
        item=row.item if with_item else None,
    )


def _fix_of(row: QuarantineItem, locale: str) -> FixOut | None:
    """What would fix a pending item, in ``locale``."""
    fix = (row.result or {}).get("fix") if row.status == "pending" else None
    if not isinstance(fix, dict) or fix.get("code") not in FIX_CODES:
        return None
    params = {str(k): str(v) for k, v in dict(fix.get("params") or {}).items()}
    try:
        message = render(hint_msg(str(fix["code"]), params), locale)
    except KeyError:  # parameters of another release
        return None
    return FixOut(code=str(fix["code"]), params=params, message=message)


def _result_of(result: dict[str, Any] | None, locale: str) -> dict[str, Any] | None:
    """What the last replay produced, each item's reason rendered in ``locale`` again
    from its code and parameters."""
    if not result or not isinstance(result.get("items"), list):
        return result
    items = []
    for item in result["items"]:
        if isinstance(item, dict) and isinstance(item.get("reason_code"), str):
            reason = from_json(
                {"code": item["reason_code"], "params": item.get("reason_params") or {}}
            )
            item = {**item, "reason": render(reason, locale)}
        items.append(item)
    return {**result, "items": items}


async def replay(
    state: AppState,
    *,
    tenant_id: str,
    ids: list[int] | None = None,
    source: str | None = None,
    auditor: Auditor,
    locale: str = DEFAULT_LOCALE,
) -> ReplayOut:
    """Replay items by id, or a source's pending items (oldest first, up to 500)."""
    assert state.box is not None
    assert state.eventlog is not None
    async with state.db.transaction(write=False) as session:
        if ids is None:
            assert source is not None
            ids = await repo.pending_ids(
                session, tenant_id=tenant_id, source=source, limit=MAX_REPLAY
            )
        rows = []
        for item_id in ids:
            row = await repo.get(session, tenant_id=tenant_id, item_id=item_id)
            if row is None:
                raise NotFound(msg("quarantine.not_found", id=str(item_id)))
            if row.status != "pending" and len(ids) == 1:
                raise Conflict(msg("quarantine.not_pending", id=str(item_id), status=row.status))
            if row.status == "pending":
                rows.append(row)
        connectors: dict[str, Connector | None] = {}
        for row in rows:
            if row.source not in connectors:
                found = await connector_repo.connector(
                    session, tenant_id=tenant_id, source=row.source
                )
                connectors[row.source] = (
                    webhooks.open_connector(found, state.box) if found is not None else None
                )
    outs: list[QuarantineOut] = []
    replayed = 0
    for row in rows:
        conn = connectors.get(row.source)
        out = await _replay_one(state, row=row, conn=conn, auditor=auditor, locale=locale)
        replayed += out.status == "replayed"
        outs.append(out)
    return ReplayOut(replayed=replayed, still_pending=len(outs) - replayed, results=outs)


async def _replay_one(
    state: AppState,
    *,
    row: QuarantineItem,
    conn: Connector | None,
    auditor: Auditor,
    locale: str,
) -> QuarantineOut:
    assert state.eventlog is not None
    now = state.clock.now()
    results: list[webhooks.ItemResult] = []
    if conn is not None:
        adapter = webhooks.adapter_of(conn)
        try:
            prepared = [
                webhooks.Prepared(i) for i in adapter.stored_items(row.item, row.item_key, conn)
            ]
        except Unparseable as exc:
            prepared = [
                webhooks.Prepared(
                    Item(key=row.item_key, data=row.item),
                    error=ItemError("unparseable", exc.reason),
                )
            ]
        # The guarded client, as for a webhook: the API base URL is the tenant's choice.
        await webhooks.read_all(state, adapter, prepared, conn, now=now)
    async with state.db.transaction() as session:
        if conn is not None:
            results = await webhooks.apply(
                session,
                conn=conn,
                prepared=prepared,
                eventlog=state.eventlog,
                now=now,
                request_id=auditor.request_id,
                count_occurrence=False,
            )
        fresh = await repo.get(session, tenant_id=row.tenant_id, item_id=row.id)
        assert fresh is not None
        before = {"status": fresh.status, "reason_code": fresh.reason_code, "reason": fresh.reason}
        fresh.attempts += 1
        event_ids = [e for r in results for e in r.event_ids]
        still = conn is None or any(
            r.status == "quarantined" and r.quarantine_id == fresh.id for r in results
        )
        result: dict[str, Any] = {"event_ids": event_ids, "items": [r.as_dict() for r in results]}
        if conn is None:
            result["error"] = f"no connector for source {row.source!r}"
            result["error_code"] = "quarantine.no_connector"
            result["error_params"] = {"source": row.source}
        if still:
            fix = (fresh.result or {}).get("fix")
            fresh.result = {**result, "fix": fix} if fix is not None else result
        else:
            fresh.status = "replayed"
            fresh.resolved_at = now
            fresh.resolved_by = auditor.actor
            fresh.result = result
        await session.flush()
        await auditor.bound(session).record(
            "quarantine.replay",
            target=f"quarantine:{row.id}",
            before=before,
            after={"status": fresh.status, "reason": fresh.reason, "event_ids": event_ids},
            tenant_id=row.tenant_id,
        )
        metrics.QUARANTINE_REPLAYS.labels(result="still_pending" if still else "replayed").inc()
        return to_out(fresh, locale=locale)


async def discard(
    state: AppState,
    *,
    tenant_id: str,
    item_id: int,
    auditor: Auditor,
    note: str,
    locale: str = DEFAULT_LOCALE,
) -> QuarantineOut:
    """Mark a pending item discarded (kept for the record, never replayed)."""
    now = state.clock.now()
    async with state.db.transaction() as session:
        row = await repo.get(session, tenant_id=tenant_id, item_id=item_id)
        if row is None:
            raise NotFound(msg("quarantine.not_found", id=str(item_id)))
        if row.status != "pending":
            raise Conflict(msg("quarantine.not_pending", id=str(item_id), status=row.status))
        row.status = "discarded"
        row.resolved_at = now
        row.resolved_by = auditor.actor
        row.result = {**(row.result or {}), "note": note}
        await session.flush()
        await auditor.bound(session).record(
            "quarantine.discard",
            target=f"quarantine:{item_id}",
            before={"status": "pending", "reason": row.reason},
            after={"status": "discarded", "note": note},
            tenant_id=tenant_id,
        )
        return to_out(row, locale=locale)


MAX_AUTO_RETRY = 200


async def retry_fixable(
    state: AppState, *, tenant_id: str, source: str, auditor: Auditor
) -> ReplayOut | None:
    """Replay a source's pending items a vendor API credential can fix (``incomplete``,
    ``enrichment_failed``), oldest first, at most ``MAX_AUTO_RETRY`` — run when the
    connector's credentials change. Idempotent (a replay never counts twice); what is
    left (more items, or a failure) stays pending for ``POST /v1/quarantine/replay``."""
    async with state.db.transaction(write=False) as session:
        ids = await repo.pending_ids(
            session,
            tenant_id=tenant_id,
            source=source,
            limit=MAX_AUTO_RETRY,
            reason_codes=webhooks.FIXABLE_BY_CREDENTIAL,
        )
    if not ids:
        return None
    try:
        out = await replay(state, tenant_id=tenant_id, ids=ids, auditor=auditor)
    except (NotFound, Conflict) as exc:  # resolved meanwhile by a webhook
        log.info("automatic retry of %s/%s stopped: %s", tenant_id, source, exc)
        return None
    log.info(
        "automatic retry of %s/%s: %d replayed, %d still pending",
        tenant_id,
        source,
        out.replayed,
        out.still_pending,
    )
    return out
