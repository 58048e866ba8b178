"""Apply a batch of logged events to the facts: dedupe, version, retract, add.

For each batch, inside the caller's transaction:

1. parse the envelopes (unreadable records are kept in ``log_rejects``);
2. drop repeated ``(tenant, source, event_id)`` — within the batch and against every event
   stored before (the insert into ``events`` is the idempotency check);
3. fold each new event into its record's state (:func:`paceline.shared.kpi.records.fold`);
4. recompute each touched record's contributions and turn the change into fact deltas
   (retract the old contribution, add the new one), one step per knowledge time, routed
   through the tenant's month closes (:mod:`paceline.scoring.facts.ledger`);
5. write record states, fact deltas, the change log and adjustments.

The result equals a from-scratch recomputation over the latest version of every record,
whatever the order, repetition or lateness of the events, and a read as of T equals one
over the events received by T (tests/scoring prove both).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.scoring.facts import repository as repo
from paceline.scoring.facts.ledger import Applied, Folded, Ledger, apply_events
from paceline.shared.db import context as context_repo
from paceline.shared.db import lifecycle
from paceline.shared.db.models import Tenant
from paceline.shared.eventlog import ConsumedRecord
from paceline.shared.events import Envelope
from paceline.shared.i18n import msg
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.closes import CloseBook
from paceline.shared.kpi.records import (
    Issue,
    RecordState,
    TenantContext,
    contributions_from_json,
    contributions_to_json,
)

RecordKey = tuple[str, str, str]  # tenant, type, record id


class FlagMemo:
    """Unknown reps already flagged by this process (forgotten after ``ttl_s``).

    A flag raised in a batch is only remembered once that batch's transaction commits
    (:meth:`committed`); a rolled-back batch (:meth:`rolled_back`) leaves nothing behind,
    so its retry raises the alert again.
    """

    def __init__(self, ttl_s: float = 600.0) -> None:
        self.ttl_s = ttl_s
        self._until: dict[tuple[str, str], float] = {}
        self._pending: list[tuple[str, str]] = []

    def seen(self, tenant_id: str, rep_id: str) -> bool:
        """Whether the rep was flagged lately."""
        until = self._until.get((tenant_id, rep_id))
        return until is not None and until > time.monotonic()

    def remember(self, tenant_id: str, rep_id: str) -> None:
        """Note that the rep was flagged in the current batch (kept once it commits)."""
        self._pending.append((tenant_id, rep_id))

    def committed(self) -> None:
        """The batch committed: keep its flags for ``ttl_s``."""
        if len(self._until) > 100_000:
            self._until.clear()
        until = time.monotonic() + self.ttl_s
        for key in self._pending:
            self._until[key] = until
        self._pending.clear()

    def rolled_back(self) -> None:
        """The batch failed: forget its flags."""
        self._pending.clear()


TenantModels = tuple[TenantContext, Sequence[KpiDefinition]]
# How a batch learns a tenant's context (zone, currency, FX) and KPIs; the worker caches.
TenantLoader = Callable[[AsyncSession, Tenant], Awaitable[TenantModels]]


async def load_tenant_models(session: AsyncSession, tenant: Tenant) -> TenantModels:
    """A tenant's context and KPIs, read from the database."""
    return (
        await context_repo.tenant_context(session, tenant=tenant),
        await context_repo.tenant_kpis(session, tenant_id=tenant.id),
    )


@dataclass(slots=True)
class BatchOutcome:
    """What one batch did."""

    consumed: int = 0
    new_events: int = 0
    repeated: int = 0
    unreadable: int = 0
    records_changed: int = 0
    issues: list[tuple[str, Issue]] = field(default_factory=list)
    touched_tenants: set[str] = field(default_factory=set)
    received_at: list[datetime] = field(default_factory=list)  # of the newly applied events
    # The ingest request ids of the newly applied events (distinct, in log order): the
    # batch's log line names them, so one request can be followed from ingest to facts.
    request_ids: list[str] = field(default_factory=list)


def _event_row(env: Envelope, rec: ConsumedRecord) -> dict[str, Any]:
    ev = env.event
    return {
        "tenant_id": env.tenant_id,
        "source": env.source,
        "event_id": ev.event_id,
        "type": ev.type,
        "record_id": ev.record_id,
        "version_rank": ev.version_rank,
        "rep_id": ev.rep_id,
        "occurred_at": ev.occurred_at,
        "received_at": env.received_at,
        "payload": ev.model_dump(mode="json", exclude_none=True),
        "log_partition": rec.partition,
        "log_offset": rec.offset,
    }


async def apply_batch(
    session: AsyncSession,
    *,
    records: Sequence[ConsumedRecord],
    topic: str,
    load_tenant: TenantLoader = load_tenant_models,
    now: datetime,
    flagged: FlagMemo | None = None,
) -> BatchOutcome:
    """Apply consumed log records to events, record states and facts."""
    out = BatchOutcome(consumed=len(records))
    envelopes: list[tuple[ConsumedRecord, Envelope]] = []
    rejects: list[dict[str, Any]] = []
    for rec in records:
        try:
            envelopes.append((rec, Envelope.model_validate_json(rec.value)))
        except ValidationError as exc:
            rejects.append(
                {
                    "topic": topic,
                    "partition": rec.partition,
                    "offset": rec.offset,
                    "error": str(exc)[:2000],
                    "value": rec.value.decode("utf-8", "replace")[:100_000],
                    "created_at": now,
                }
            )
    out.unreadable = len(rejects)
    await repo.add_rejects(session, rows=rejects)

    # Repeated ids inside the batch: the first in log order wins.
    firsts: dict[tuple[str, str, str], tuple[ConsumedRecord, Envelope]] = {}
    for rec, env in envelopes:
        firsts.setdefault((env.tenant_id, env.source, env.event.event_id), (rec, env))
    new_ids = await repo.insert_new_events(
        session, rows=[_event_row(env, rec) for rec, env in firsts.values()]
    )
    out.new_events = len(new_ids)
    out.repeated = len(envelopes) - len(new_ids)
    out.received_at = [env.received_at for ident, (_rec, env) in firsts.items() if ident in new_ids]
    out.request_ids = list(
        dict.fromkeys(
            env.request_id
            for ident, (_rec, env) in firsts.items()
            if ident in new_ids and env.request_id
        )
    )
    if not new_ids:
        return out

    # New events per record, in log order (one record's events share a partition).
    by_record: dict[RecordKey, list[Applied]] = defaultdict(list)
    for ident, (_rec, env) in firsts.items():
        pk = new_ids.get(ident)
        if pk is not None:
            ev = env.event
            by_record[(env.tenant_id, ev.type, ev.record_id)].append(
                Applied(pk, ev, env.received_at, env.source)
            )
    out.touched_tenants = {k[0] for k in by_record}
    await repo.lock_tenants(session, tenant_ids=out.touched_tenants, exclusive=False)

    # Read after the lock: a month close takes it exclusively, so the closes seen here
    # hold until this batch commits.
    tenants = await repo.tenants_by_id(session, ids=out.touched_tenants)
    contexts: dict[str, TenantContext] = {}
    kpis: dict[str, Sequence[KpiDefinition]] = {}
    ledgers: dict[str, Ledger] = {}
    for tid, tenant in tenants.items():
        contexts[tid], kpis[tid] = await load_tenant(session, tenant)
        ledgers[tid] = Ledger(tid, CloseBook.of(tenant.closes, contexts[tid].timezone))
    stored = await repo.load_records(session, keys=list(by_record))

    upserts: list[dict[str, Any]] = []
    for key, events in by_record.items():
        tenant_id = key[0]
        ctx = contexts.get(tenant_id)
        if ctx is None:
            # A tenant deleted after its events were logged: keep the events, no facts.
            continue
        row = stored.get(key)
        done = apply_events(
            ledgers[tenant_id],
            record=(key[1], key[2]),
            state=RecordState.from_json(row.state) if row is not None else None,
            event_pk=row.event_pk if row is not None else 0,
            known_at=row.known_at if row is not None else None,
            current=contributions_from_json(row.contributions) if row else [],
            events=events,
            kpis=kpis[tenant_id],
            ctx=ctx,
        )
        out.issues.extend((tenant_id, i) for i in done.issues)
        upserts.append(_record_row(tenant_id, key[1], key[2], done, now))
    out.records_changed = len(upserts)
    await repo.upsert_records(session, rows=upserts)
    for _tenant_id, ledger in sorted(ledgers.items()):
        await _write_ledger(session, ledger)
    await _flag_data_quality(session, out=out, by_record=by_record, now=now, flagged=flagged)
    return out


async def _write_ledger(session: AsyncSession, ledger: Ledger) -> None:
    """Write a ledger's facts, change log and adjustments."""
    await repo.apply_fact_delta(session, tenant_id=ledger.tenant_id, delta=ledger.facts.nonzero())
    await repo.add_changes(
        session, rows=ledger.change_rows(), member_rows=ledger.member_change_rows()
    )
    await repo.add_adjustments(session, rows=ledger.adjustments)


async def _flag_missing_rates(
    session: AsyncSession, *, issues: Sequence[tuple[str, Issue]], now: datetime
) -> None:
    """One alert per tenant and currency whose amounts could not be converted."""
    missing_fx: dict[tuple[str, str], list[str]] = defaultdict(list)
    for tenant_id, issue in issues:
        if issue.kind == "missing_fx_rate":
            pair, _, day = issue.detail.partition(" on ")
            missing_fx[(tenant_id, pair.split("->")[0])].append(day)
    for (tenant_id, currency), days in sorted(missing_fx.items()):
        await lifecycle.raise_alert(
            session,
            tenant_id=tenant_id,
            kind="data_quality",
            type="missing_fx_rate",
            dedup_key=f"missing_fx_rate:{currency}",
            scope="company",
            severity="warning",
            title=msg("alerts.quality.missing_fx_rate", currency=currency),
            detail={"currency": currency, "days": sorted(set(days))[:50]},
            now=now,
        )


def _record_row(
    tenant_id: str, type_: str, record_id: str, done: Folded, now: datetime
) -> dict[str, Any]:
    state = done.state
    assert state is not None
    days = [c.day for c in done.contributions]
    return {
        "tenant_id": tenant_id,
        "type": type_,
        "record_id": record_id,
        "event_pk": done.event_pk,
        "version_rank": state.rank,
        "rep_id": state.current.rep_id,
        "deleted": state.current.deleted,
        "state": state.to_json(),
        "contributions": contributions_to_json(done.contributions),
        "first_day": min(days) if days else None,
        "last_day": max(days) if days else None,
        "updated_at": now,
        "known_at": done.known_at,
    }


async def _flag_data_quality(
    session: AsyncSession,
    *,
    out: BatchOutcome,
    by_record: dict[RecordKey, list[Applied]],
    now: datetime,
    flagged: FlagMemo | None = None,
) -> None:
    """Raise data-quality alerts for what this batch revealed (unknown reps, missing rates).

    ``flagged`` remembers the unknown reps this process flagged lately, so a steady stream
    of one unknown rep's events costs one alert upsert per memo period, not one per batch.
    """
    await _flag_missing_rates(session, issues=out.issues, now=now)
    reps: dict[str, set[str]] = defaultdict(set)
    for (tenant_id, _type, _rid), events in by_record.items():
        reps[tenant_id].update(a.event.rep_id for a in events)
    for tenant_id, rep_ids in sorted(reps.items()):
        if flagged is not None:
            rep_ids = {r for r in rep_ids if not flagged.seen(tenant_id, r)}
            if not rep_ids:
                continue
        known = await repo.known_reps(session, tenant_id=tenant_id, rep_ids=rep_ids)
        for rep_id in sorted(rep_ids - known):
            if flagged is not None:
                flagged.remember(tenant_id, rep_id)
            await lifecycle.raise_alert(
                session,
                tenant_id=tenant_id,
                kind="data_quality",
                type="unknown_rep",
                dedup_key=f"unknown_rep:{rep_id}",
                scope=f"rep:{rep_id}",
                severity="warning",
                title=msg("alerts.quality.unknown_rep", rep=rep_id),
                detail={"rep_id": rep_id},
                now=now,
            )


async def rebuild_tenant(
    session: AsyncSession,
    *,
    tenant: Tenant,
    now: datetime,
    load_tenant: TenantLoader = load_tenant_models,
) -> int:
    """Recompute all of a tenant's facts, change log and adjustments from its events.

    Each record's stored events are folded again in log order with their knowledge times
    and the tenant's closes, so the rebuilt history equals the one built live (and a
    change of KPI formulas, exchange rates or time zone applies to every period: a
    restatement by configuration, docs/KPIS.md). Returns the records done.
    """
    ctx, kpis = await load_tenant(session, tenant)
    await repo.lock_tenants(session, tenant_ids=[tenant.id], exclusive=True)
    await repo.delete_tenant_facts(session, tenant_id=tenant.id)
    book = CloseBook.of(tenant.closes, ctx.timezone)
    after: tuple[str, str] | None = None
    done = 0
    issues: list[tuple[str, Issue]] = []
    while True:
        page = await repo.iter_records(session, tenant_id=tenant.id, after=after, limit=500)
        if not page:
            # Problems still present after the rebuild are flagged again (e.g. a rate that
            # was loaded for other days than the amounts need).
            await _flag_missing_rates(session, issues=issues, now=now)
            return done
        history = await repo.events_of_records(
            session, tenant_id=tenant.id, keys=[(r.type, r.record_id) for r in page]
        )
        ledger = Ledger(tenant.id, book)
        upserts = []
        for row in page:
            events = history.get((row.type, row.record_id), [])
            if not events:  # pragma: no cover - every record comes from events
                continue
            folded = apply_events(
                ledger,
                record=(row.type, row.record_id),
                state=None,
                event_pk=0,
                known_at=None,
                current=[],
                events=events,
                kpis=kpis,
                ctx=ctx,
            )
            issues.extend((tenant.id, i) for i in folded.issues)
            upserts.append(_record_row(row.tenant_id, row.type, row.record_id, folded, now))
        await repo.upsert_records(session, rows=upserts)
        await _write_ledger(session, ledger)
        done += len(page)
        after = (page[-1].type, page[-1].record_id)
