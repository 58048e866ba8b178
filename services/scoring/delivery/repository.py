"""SQL of deliveries: fan-out from the alert outbox, claims, attempts, dead letters."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from paceline.scoring.delivery.grouping import Change, budget, group_key
from paceline.shared.db.lifecycle import SEVERITY_RANK
from paceline.shared.db.models import Alert, Rep, Team, Tenant
from paceline.shared.db.models_alerts import AlertEvent, Delivery, DeliveryAttempt, Subscription
from paceline.shared.db.upsert import insert_for
from paceline.shared.delivery_options import VENDOR_LIMITS, delivery_options
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
    held_in_group: str | None = None,
    alert_key: str | None = None,
) -> int | None:
    """Persist a delivery (once per subscription and source); its id, or None if it existed.

    With ``held_in_group`` it is an alert change waiting for its group's message.
    """
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
            status="held" if held_in_group is not None else "pending",
            group_key=held_in_group,
            alert_key=alert_key,
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
                opts = delivery_options(sub.format, sub.delivery_options)
                await enqueue(
                    session,
                    subscription=sub,
                    source_key=f"event:{event.id}",
                    event_type=f"alert.{event.action}",
                    payload=alert_payload(event),
                    now=now,
                    alert_event_id=event.id,
                    held_in_group=(
                        group_key(event.snapshot, action=event.action, labels=opts.group_by)
                        if opts.grouping
                        else None
                    ),
                    alert_key=str(event.snapshot.get("dedup_key", event.alert_id)),
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


async def recent_sends(
    session: AsyncSession, *, subscription_id: int, now: datetime, window_s: float
) -> list[datetime]:
    """When a subscription's recent attempts went out; one at ``now`` per attempt in flight."""
    since = now - timedelta(seconds=window_s)
    done = (
        await session.scalars(
            select(DeliveryAttempt.at)
            .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
            .where(Delivery.subscription_id == subscription_id, DeliveryAttempt.at > since)
        )
    ).all()
    in_flight = int(
        await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.subscription_id == subscription_id,
                Delivery.status == "pending",
                Delivery.lease_until > now,
            )
        )
        or 0
    )
    return [*done, *([now] * in_flight)]


def _window_s(fmt: str) -> float:
    vendor = VENDOR_LIMITS.get(fmt)
    return max((lim.window_s for lim in vendor.limits), default=0.0) if vendor else 0.0


async def send_budget(session: AsyncSession, *, sub: Subscription, now: datetime) -> int:
    """How many more messages the subscription's destination takes now (its vendor limits)."""
    vendor = VENDOR_LIMITS.get(sub.format)
    if vendor is None:
        return 1_000_000
    sent = await recent_sends(
        session, subscription_id=sub.id, now=now, window_s=_window_s(sub.format)
    )
    return budget(vendor.limits, sent, now)


async def claim_due(
    session: AsyncSession, *, now: datetime, lease_until: datetime, limit: int
) -> list[tuple[Delivery, Subscription]]:
    """Lease due deliveries of enabled subscriptions (a crashed holder's lease expires),
    no more per subscription than its destination's rate limits allow now."""
    due = (
        (Delivery.status == "pending")
        & (Delivery.next_attempt_at <= now)
        & ((Delivery.lease_until.is_(None)) | (Delivery.lease_until < now))
    )
    sub_ids = list(
        (
            await session.scalars(
                select(Delivery.subscription_id)
                .join(Subscription, Subscription.id == Delivery.subscription_id)
                .where(due, Subscription.enabled.is_(True))
                .group_by(Delivery.subscription_id)
                .order_by(func.min(Delivery.next_attempt_at))
            )
        ).all()
    )
    out: list[tuple[Delivery, Subscription]] = []
    for sub_id in sub_ids:
        if len(out) >= limit:
            break
        sub = await session.scalar(
            select(Subscription).where(Subscription.id == sub_id).with_for_update()
        )
        if sub is None:
            continue
        room = min(limit - len(out), await send_budget(session, sub=sub, now=now))
        if room <= 0:
            continue
        stmt = (
            select(Delivery)
            .where(due, Delivery.subscription_id == sub_id)
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(room)
            .with_for_update(skip_locked=True)
        )
        rows = list((await session.scalars(stmt)).all())
        for d in rows:
            d.lease_until = lease_until
        await session.flush()  # counted as in flight by the next subscription's budget
        out += [(d, sub) for d in rows]
    return out


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


# -- grouped delivery -----------------------------------------------------------------


async def grouping_due(session: AsyncSession, *, now: datetime) -> list[int]:
    """Subscriptions with held alert changes to look at now."""
    return list(
        (
            await session.scalars(
                select(Delivery.subscription_id)
                .join(Subscription, Subscription.id == Delivery.subscription_id)
                .where(
                    Delivery.status == "held",
                    Delivery.next_attempt_at <= now,
                    Subscription.enabled.is_(True),
                )
                .group_by(Delivery.subscription_id)
            )
        ).all()
    )


async def held(session: AsyncSession, *, subscription_id: int) -> list[Delivery]:
    """A subscription's held alert changes, oldest first."""
    return list(
        (
            await session.scalars(
                select(Delivery)
                .where(Delivery.subscription_id == subscription_id, Delivery.status == "held")
                .order_by(Delivery.id)
                .with_for_update()
            )
        ).all()
    )


async def last_group_messages(
    session: AsyncSession, *, subscription_id: int, since: datetime
) -> dict[str, datetime]:
    """When each group's last message was made (groups with one since ``since``)."""
    msg = aliased(Delivery)
    rows = await session.execute(
        select(Delivery.group_key, func.max(msg.created_at))
        .join(msg, msg.id == Delivery.folded_into)
        .where(
            Delivery.subscription_id == subscription_id,
            Delivery.status == "folded",
            msg.created_at >= since,
        )
        .group_by(Delivery.group_key)
    )
    return {str(k): at for k, at in rows.all() if k is not None}


async def last_shown(
    session: AsyncSession, *, subscription_id: int, alert_keys: Sequence[str], since: datetime
) -> dict[str, tuple[str, str, datetime]]:
    """Per alert, the (status, severity) its last message showed, and when (since ``since``)."""
    if not alert_keys:
        return {}
    msg = aliased(Delivery)
    rows = await session.execute(
        select(Delivery.alert_key, Delivery.payload, msg.created_at)
        .join(msg, msg.id == Delivery.folded_into)
        .where(
            Delivery.subscription_id == subscription_id,
            Delivery.status == "folded",
            Delivery.alert_key.in_(list(alert_keys)),
            msg.created_at >= since,
        )
        .order_by(Delivery.id)
    )
    out: dict[str, tuple[str, str, datetime]] = {}
    for key, payload, at in rows.all():
        alert = (payload or {}).get("data", {}).get("alert", {})
        out[str(key)] = (str(alert.get("status")), str(alert.get("severity")), at)
    return out


async def pending_count(session: AsyncSession, *, subscription_id: int) -> int:
    """A subscription's messages waiting to be sent (each will take a slot)."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.subscription_id == subscription_id, Delivery.status == "pending")
        )
        or 0
    )


async def open_lag_alerts(session: AsyncSession, *, tenant_id: str) -> list[Alert]:
    """A tenant's open lag alerts of teams and the company (inhibition sources)."""
    return list(
        (
            await session.scalars(
                select(Alert).where(
                    Alert.tenant_id == tenant_id,
                    Alert.kind == "lag",
                    Alert.status != "resolved",
                    (Alert.scope == "company") | Alert.scope.like("team:%"),
                )
            )
        ).all()
    )


async def scope_names(
    session: AsyncSession, *, tenant_id: str, changes: Sequence[Change]
) -> dict[str, str]:
    """Names of the teams and reps a message shows (``team:north`` -> 华北区), by scope."""
    teams: set[str] = set()
    reps: set[str] = set()
    for c in changes:
        scope = str(c.alert.get("scope") or "")
        if scope.startswith("team:"):
            teams.add(scope[5:])
        elif scope.startswith("rep:"):
            reps.add(scope[4:])
        if c.alert.get("team"):
            teams.add(str(c.alert["team"]))
    out: dict[str, str] = {}
    if teams:
        rows = await session.execute(
            select(Team.id, Team.name).where(Team.tenant_id == tenant_id, Team.id.in_(teams))
        )
        out |= {f"team:{tid}": name for tid, name in rows.all()}
    if reps:
        rows = await session.execute(
            select(Rep.id, Rep.name).where(Rep.tenant_id == tenant_id, Rep.id.in_(reps))
        )
        out |= {f"rep:{rid}": name for rid, name in rows.all()}
    return out


async def get_tenant(session: AsyncSession, *, tenant_id: str) -> Tenant | None:
    """A tenant by id."""
    return await session.get(Tenant, tenant_id)


async def settle(
    session: AsyncSession,
    *,
    folded: dict[int, int],
    suppressed: dict[int, str],
    look_again: list[int],
    next_look: datetime,
) -> None:
    """Record a grouping step: changes folded into messages, left out, or looked at later."""
    for change_id, message_id in folded.items():
        await session.execute(
            update(Delivery)
            .where(Delivery.id == change_id)
            .values(status="folded", folded_into=message_id, next_attempt_at=None)
        )
    for change_id, reason in suppressed.items():
        await session.execute(
            update(Delivery)
            .where(Delivery.id == change_id)
            .values(status="suppressed", last_error=reason[:1000], next_attempt_at=None)
        )
    if look_again:
        await session.execute(
            update(Delivery).where(Delivery.id.in_(look_again)).values(next_attempt_at=next_look)
        )
