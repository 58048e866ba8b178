"""SQL of deliveries: fan-out from the alert outbox, claims, attempts, dead letters."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.lifecycle import SEVERITY_RANK
from paceline.shared.db.models_alerts import AlertEvent, Delivery, DeliveryAttempt, Subscription
from paceline.shared.db.upsert import insert_for
from paceline.shared.readmodel.org import team_parents

DEFAULT_ACTIONS = ("opened", "reopened", "escalated", "resolved")


def new_message_id() -> str:
    """A webhook-id: unique per message, the same on every retry and redelivery."""
    return "msg_" + secrets.token_hex(12)


def alert_payload(event: AlertEvent) -> dict[str, Any]:
    """The standard JSON body of an alert event."""
    return {
        "type": f"alert.{event.action}",
        "timestamp": event.at.isoformat(),
        "tenant": event.tenant_id,
        "data": {
            "event": {
                "id": event.id,
                "action": event.action,
                "at": event.at.isoformat(),
                "actor": event.actor,
                "note": event.note,
            },
            "alert": event.snapshot,
        },
    }


def _insert(session: AsyncSession) -> Any:
    return insert_for(session, Delivery)


async def enqueue(
    session: AsyncSession,
    *,
    subscription: Subscription,
    source_key: str,
    event_type: str,
    payload: dict[str, Any],
    now: datetime,
    alert_event_id: int | None = None,
    message_id: str | None = None,
    redelivery_of: int | None = None,
) -> int | None:
    """Persist a delivery (once per subscription and source); its id, or None if it existed."""
    stmt = (
        _insert(session)
        .values(
            tenant_id=subscription.tenant_id,
            subscription_id=subscription.id,
            source_key=source_key,
            message_id=message_id or new_message_id(),
            event_type=event_type,
            alert_event_id=alert_event_id,
            payload=payload,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            redelivery_of=redelivery_of,
        )
        .on_conflict_do_nothing(index_elements=["subscription_id", "source_key"])
        .returning(Delivery.id)
    )
    new_id = await session.scalar(stmt)
    return int(new_id) if new_id is not None else None


def _ancestors(team: str | None, parents: dict[str, str | None]) -> set[str]:
    out: set[str] = set()
    while team is not None and team not in out:
        out.add(team)
        team = parents.get(team)
    return out


def matches(sub: Subscription, *, event: AlertEvent, parents: dict[str, str | None]) -> bool:
    """Whether an alert event passes a subscription's filters."""
    alert = event.snapshot
    if sub.created_at > event.at:
        return False
    if sub.kinds and alert.get("kind") not in sub.kinds:
        return False
    if sub.types and alert.get("type") not in sub.types:
        return False
    if SEVERITY_RANK.get(str(alert.get("severity")), 0) < SEVERITY_RANK.get(sub.min_severity, 0):
        return False
    if event.action not in (sub.actions or DEFAULT_ACTIONS):
        return False
    if event.action == "opened" and alert.get("dedup_key") == f"subscription_disabled:{sub.id}":
        # Its own disablement goes to the other subscriptions: it was disabled when that
        # happened, also if it is enabled again before the event is fanned out.
        return False
    if sub.teams:
        return bool(_ancestors(event.team_id, parents) & set(sub.teams))
    return True


def team_matches(sub: Subscription, team_id: str, parents: dict[str, str | None]) -> bool:
    """Whether a team's digest goes to a subscription (by its team filter)."""
    return not sub.teams or bool(_ancestors(team_id, parents) & set(sub.teams))


async def subscriptions(session: AsyncSession, *, tenant_id: str) -> list[Subscription]:
    """A tenant's enabled subscriptions."""
    return list(
        (
            await session.scalars(
                select(Subscription)
                .where(Subscription.tenant_id == tenant_id, Subscription.enabled.is_(True))
                .order_by(Subscription.id)
            )
        ).all()
    )


async def fan_out(session: AsyncSession, *, now: datetime, limit: int = 500) -> int:
    """Turn alert events not yet fanned out into deliveries; how many events."""
    stmt = (
        select(AlertEvent)
        .where(AlertEvent.fanned_out_at.is_(None))
        .order_by(AlertEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    events = list((await session.scalars(stmt)).all())
    subs: dict[str, list[Subscription]] = {}
    parents: dict[str, dict[str, str | None]] = {}
    for event in events:
        tid = event.tenant_id
        if tid not in subs:
            subs[tid] = await subscriptions(session, tenant_id=tid)
            parents[tid] = await team_parents(session, tenant_id=tid) if subs[tid] else {}
        for sub in subs[tid]:
            if matches(sub, event=event, parents=parents[tid]):
                await enqueue(
                    session,
                    subscription=sub,
                    source_key=f"event:{event.id}",
                    event_type=f"alert.{event.action}",
                    payload=alert_payload(event),
                    now=now,
                    alert_event_id=event.id,
                )
        event.fanned_out_at = now
    await session.flush()
    return len(events)


async def unpublished(session: AsyncSession, *, limit: int = 500) -> list[AlertEvent]:
    """Alert events not yet on the alerts topic, oldest first."""
    return list(
        (
            await session.scalars(
                select(AlertEvent)
                .where(AlertEvent.published_at.is_(None))
                .order_by(AlertEvent.id)
                .limit(limit)
            )
        ).all()
    )


async def mark_published(session: AsyncSession, *, ids: Sequence[int], now: datetime) -> None:
    """Record that alert events are on the alerts topic."""
    if ids:
        await session.execute(
            update(AlertEvent).where(AlertEvent.id.in_(list(ids))).values(published_at=now)
        )


async def claim_due(
    session: AsyncSession, *, now: datetime, lease_until: datetime, limit: int
) -> list[tuple[Delivery, Subscription]]:
    """Lease due deliveries of enabled subscriptions (a crashed holder's lease expires)."""
    stmt = (
        select(Delivery)
        .join(Subscription, Subscription.id == Delivery.subscription_id)
        .where(
            Delivery.status == "pending",
            Delivery.next_attempt_at <= now,
            (Delivery.lease_until.is_(None)) | (Delivery.lease_until < now),
            Subscription.enabled.is_(True),
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
        .with_for_update(of=Delivery, skip_locked=True)
    )
    rows = list((await session.scalars(stmt)).all())
    if not rows:
        return []
    for d in rows:
        d.lease_until = lease_until
    await session.flush()
    sub_ids = {d.subscription_id for d in rows}
    subs = {
        s.id: s
        for s in (
            await session.scalars(select(Subscription).where(Subscription.id.in_(list(sub_ids))))
        ).all()
    }
    return [(d, subs[d.subscription_id]) for d in rows]


async def get_delivery(
    session: AsyncSession, *, delivery_id: int, lock: bool = False
) -> Delivery | None:
    """A delivery by id."""
    stmt = select(Delivery).where(Delivery.id == delivery_id)
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt.execution_options(populate_existing=True))


async def get_subscription(
    session: AsyncSession, *, subscription_id: int, lock: bool = False
) -> Subscription | None:
    """A subscription by id."""
    stmt = select(Subscription).where(Subscription.id == subscription_id)
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt.execution_options(populate_existing=True))


async def add_attempt(session: AsyncSession, **values: Any) -> None:
    """Log one attempt."""
    session.add(DeliveryAttempt(**values))
    await session.flush()
