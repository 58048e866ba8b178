"""SQL of the subscription routes (always scoped by tenant)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models_alerts import Delivery, DeliveryAttempt, Subscription


async def get(
    session: AsyncSession, *, tenant_id: str, subscription_id: int, lock: bool = False
) -> Subscription | None:
    """A tenant's subscription."""
    stmt = select(Subscription).where(
        Subscription.tenant_id == tenant_id, Subscription.id == subscription_id
    )
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def list_all(session: AsyncSession, *, tenant_id: str) -> list[Subscription]:
    """A tenant's subscriptions by id."""
    return list(
        (
            await session.scalars(
                select(Subscription)
                .where(Subscription.tenant_id == tenant_id)
                .order_by(Subscription.id)
            )
        ).all()
    )


async def deliveries(
    session: AsyncSession,
    *,
    tenant_id: str,
    subscription_id: int,
    status: str | None,
    before_id: int | None,
    limit: int,
) -> list[Delivery]:
    """A subscription's deliveries, newest first."""
    stmt = select(Delivery).where(
        Delivery.tenant_id == tenant_id, Delivery.subscription_id == subscription_id
    )
    if status is not None:
        stmt = stmt.where(Delivery.status == status)
    if before_id is not None:
        stmt = stmt.where(Delivery.id < before_id)
    return list((await session.scalars(stmt.order_by(Delivery.id.desc()).limit(limit))).all())


async def delivery(
    session: AsyncSession, *, tenant_id: str, subscription_id: int, delivery_id: int
) -> Delivery | None:
    """One delivery of a subscription."""
    return await session.scalar(
        select(Delivery).where(
            Delivery.tenant_id == tenant_id,
            Delivery.subscription_id == subscription_id,
            Delivery.id == delivery_id,
        )
    )


async def attempts(session: AsyncSession, *, delivery_id: int) -> list[DeliveryAttempt]:
    """A delivery's attempts, in order."""
    return list(
        (
            await session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(DeliveryAttempt.attempt, DeliveryAttempt.id)
            )
        ).all()
    )


async def redeliveries(session: AsyncSession, *, delivery_id: int) -> int:
    """How many times a delivery was redelivered by hand."""
    return int(
        await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.redelivery_of == delivery_id)
        )
        or 0
    )


def add_delivery(
    session: AsyncSession,
    *,
    subscription: Subscription,
    source_key: str,
    event_type: str,
    payload: dict[str, Any],
    now: datetime,
    message_id: str | None = None,
    redelivery_of: int | None = None,
) -> Delivery:
    """A new pending delivery, due now."""
    d = Delivery(
        tenant_id=subscription.tenant_id,
        subscription_id=subscription.id,
        source_key=source_key,
        message_id=message_id or "msg_" + secrets.token_hex(12),
        event_type=event_type,
        payload=payload,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        redelivery_of=redelivery_of,
    )
    session.add(d)
    return d


async def resume_pending(session: AsyncSession, *, subscription_id: int, now: datetime) -> None:
    """Make a re-enabled subscription's pending deliveries due now (with a fresh window)."""
    await session.execute(
        update(Delivery)
        .where(Delivery.subscription_id == subscription_id, Delivery.status == "pending")
        .values(next_attempt_at=now, created_at=now, lease_until=None)
    )
