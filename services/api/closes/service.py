"""Month close (月结): close and reopen a month, list closes and adjustments.

Closing a month records the close on the tenant (``tenants.closes``, which the scoring
service reads with every batch under the tenant's facts lock) and in ``period_closes``
(who, when, why). From then on a change to one of its days is routed by
:mod:`paceline.shared.kpi.closes`: booked to the first open month (``adjust``) or counted in
place and listed (``restate``). Reopening ends the close; changes booked elsewhere while it
was closed stay where they were booked (they were what Paceline knew then).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.closes import repository as repo
from paceline.api.closes.schemas import (
    AdjustmentOut,
    AdjustmentsOut,
    CloseIn,
    CloseOut,
    ClosesOut,
)
from paceline.shared.db.context import close_policy
from paceline.shared.db.locks import lock_facts
from paceline.shared.db.models import Tenant
from paceline.shared.db.models_history import FactAdjustment, PeriodClose
from paceline.shared.errors import Conflict, FieldError, InvalidInput, NotFound
from paceline.shared.i18n import msg
from paceline.shared.kpi.closes import Close
from paceline.shared.kpi.periods import Period
from paceline.shared.money import from_units
from paceline.shared.readmodel.progress import parse_period_or_422
from paceline.shared.web.deps import Auditor


def _out(row: PeriodClose) -> CloseOut:
    return CloseOut(
        id=row.id,
        period=row.period,
        start=row.start,
        end=row.end,
        policy="restate" if row.policy == "restate" else "adjust",
        status="reopened" if row.reopened_at is not None else "closed",
        closed_at=row.closed_at,
        closed_by=row.closed_by,
        reason=row.reason,
        reopened_at=row.reopened_at,
        reopened_by=row.reopened_by,
        reopen_reason=row.reopen_reason,
    )


def month_or_422(tenant: Tenant, key: str, field: str = "period") -> Period:
    """A month of the tenant's calendar, or 422 naming the field."""
    period = parse_period_or_422(key, tenant, field)
    if period.kind != "month":
        raise InvalidInput(
            msg("closes.months_only"),
            fields=[
                FieldError(
                    field,
                    msg("closes.not_a_month", key=key, kind=msg(f"periods.kind.{period.kind}")),
                )
            ],
        )
    return period


async def list_closes(session: AsyncSession, *, tenant: Tenant) -> ClosesOut:
    """Every close, newest first, and the months closed now."""
    rows = await repo.closes(session, tenant_id=tenant.id)
    closed = sorted(r.period for r in rows if r.reopened_at is None)
    policy = "restate" if close_policy(tenant) == "restate" else "adjust"
    return ClosesOut(policy=policy, closed=closed, closes=[_out(r) for r in rows])


async def close(
    session: AsyncSession, *, tenant: Tenant, body: CloseIn, now: datetime, auditor: Auditor
) -> CloseOut:
    """Close a month that has ended (409 if it is closed already)."""
    period = month_or_422(tenant, body.period)
    if now < period.end_instant(ZoneInfo(tenant.timezone)):
        raise InvalidInput(
            msg("closes.not_ended"),
            fields=[FieldError("period", msg("closes.ends_at", period=period.key, end=period.end))],
        )
    # Alone on the tenant's facts: no scoring batch is between reading the closes and
    # committing, so every change known after ``now`` meets this close.
    await lock_facts(session, tenant_ids=[tenant.id], exclusive=True)
    await session.refresh(tenant)
    if await repo.open_close(session, tenant_id=tenant.id, period=period.key) is not None:
        raise Conflict(msg("closes.closed_already", period=period.key))
    policy = close_policy(tenant)
    row = await repo.add_close(
        session,
        PeriodClose(
            tenant_id=tenant.id,
            period=period.key,
            start=period.start,
            end=period.end,
            policy=policy,
            closed_at=now,
            closed_by=auditor.actor,
            reason=body.reason,
        ),
    )
    entry = Close(period.key, period.start, period.end, now, policy).to_json()
    tenant.closes = [*(tenant.closes or []), entry]
    tenant.updated_at = now
    out = _out(row)
    await auditor.record(
        "periods.close", target=f"period:{period.key}", after=out.model_dump(mode="json")
    )
    return out


async def reopen(
    session: AsyncSession,
    *,
    tenant: Tenant,
    period_key: str,
    reason: str,
    now: datetime,
    auditor: Auditor,
) -> CloseOut:
    """Reopen a closed month (404 if it is not closed)."""
    period = month_or_422(tenant, period_key)
    await lock_facts(session, tenant_ids=[tenant.id], exclusive=True)
    await session.refresh(tenant)
    row = await repo.open_close(session, tenant_id=tenant.id, period=period.key)
    if row is None:
        raise NotFound(msg("closes.not_closed", period=period.key))
    before = _out(row).model_dump(mode="json")
    row.reopened_at = now
    row.reopened_by = auditor.actor
    row.reopen_reason = reason
    closes = []
    for c in tenant.closes or []:
        if c.get("period") == period.key and c.get("reopened_at") is None:
            c = {**c, "reopened_at": now.isoformat()}
        closes.append(c)
    tenant.closes = closes
    tenant.updated_at = now
    await session.flush()
    out = _out(row)
    await auditor.record(
        "periods.reopen",
        target=f"period:{period.key}",
        before=before,
        after=out.model_dump(mode="json"),
    )
    return out


def adjustment_out(a: FactAdjustment) -> AdjustmentOut:
    """The API shape of a stored adjustment."""
    return AdjustmentOut(
        id=a.id,
        kind="restate" if a.kind == "restate" else "frozen" if a.kind == "frozen" else "adjust",
        kpi=a.kpi,
        rep_id=a.rep_id,
        measure=a.measure,
        source_period=a.source_period,
        source_day=a.source_day,
        booked_period=a.booked_period,
        booked_day=a.booked_day,
        value=from_units(a.value) if a.member is None else None,
        records=a.n,
        member=a.member,
        known_at=a.known_at,
        record_type=a.record_type,
        record_id=a.record_id,
        event_id=a.event_id,
        source=a.source,
    )


async def list_adjustments(
    session: AsyncSession,
    *,
    tenant: Tenant,
    period: str | None,
    source_period: str | None,
    kpi: str | None,
    rep_ids: Sequence[str] | None,
    after_id: int | None,
    limit: int,
) -> AdjustmentsOut:
    """Adjustments booked into ``period`` and/or made to ``source_period``, by id."""
    booked = month_or_422(tenant, period).key if period else None
    source = month_or_422(tenant, source_period, "source_period").key if source_period else None
    rows = await repo.adjustments(
        session,
        tenant_id=tenant.id,
        booked_period=booked,
        source_period=source,
        kpi=kpi,
        rep_ids=rep_ids,
        after_id=after_id,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return AdjustmentsOut(
        items=[adjustment_out(a) for a in rows],
        next_cursor=str(rows[-1].id) if more and rows else None,
    )
