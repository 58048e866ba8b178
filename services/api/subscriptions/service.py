"""Create, change and delete subscriptions; read the delivery log; redeliver.

Secrets (the standard format's ``whsec_`` signing secret, a DingTalk or Feishu bot's
secret) and URLs (bot URLs carry their token) are stored encrypted with the process's
:class:`~paceline.shared.crypto.SecretBox`; a made secret is returned once, at creation
or rotation, never again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.subscriptions import repository as repo
from paceline.api.subscriptions.schemas import (
    AttemptOut,
    DeliveriesPage,
    DeliveryDetail,
    DeliveryOut,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionUpdate,
)
from paceline.shared.crypto import SecretBox
from paceline.shared.db import lifecycle
from paceline.shared.db.models_alerts import Delivery, Subscription
from paceline.shared.delivery_options import BOT_FORMATS, delivery_options
from paceline.shared.errors import Conflict, FieldError, InvalidInput, NotFound
from paceline.shared.i18n import msg, render
from paceline.shared.outbound import VENDOR_SECRET_FORMATS, new_secret, redact_url
from paceline.shared.readmodel.org import team_parents

OPTION_FIELDS = (
    "grouping",
    "group_by",
    "group_wait_s",
    "group_interval_s",
    "repeat_interval_s",
    "quiet_hours",
    "inhibit",
    "dashboard_url",
    "mentions",
)


def _options(
    fmt: str, stored: dict[str, Any], body: SubscriptionIn | SubscriptionUpdate
) -> dict[str, Any]:
    """The stored delivery options with the body's on top (checked as a whole)."""
    out = dict(stored or {})
    for field in OPTION_FIELDS:
        value = getattr(body, field)
        if value is not None:
            if field == "mentions":
                value = {team: m.model_dump() for team, m in value.items()}
            out[field] = list(value) if isinstance(value, list) else value
    if fmt in BOT_FORMATS and out.get("grouping") is False:
        raise InvalidInput(
            msg("subscriptions.bot_always_grouped"),
            fields=[FieldError("grouping", msg("subscriptions.grouping_standard_only"))],
        )
    return out


def subscription_out(sub: Subscription) -> SubscriptionOut:
    """The API shape of a subscription."""
    opts = delivery_options(sub.format, sub.delivery_options)
    return SubscriptionOut(
        id=sub.id,
        name=sub.name,
        url=sub.url_display,
        format=sub.format,
        has_secret=sub.secret_enc is not None,
        kinds=list(sub.kinds or []),
        types=list(sub.types or []),
        teams=list(sub.teams or []),
        min_severity=sub.min_severity,
        actions=list(sub.actions or []),
        digests=list(sub.digests or []),
        enabled=sub.enabled,
        grouping=opts.grouping,
        group_by=list(opts.group_by),
        group_wait_s=opts.group_wait_s,
        group_interval_s=opts.group_interval_s,
        repeat_interval_s=opts.repeat_interval_s,
        quiet_hours=opts.quiet_hours,
        inhibit=opts.inhibit,
        dashboard_url=opts.dashboard_url,
        mentions=dict(opts.mentions),
        disabled_reason=sub.disabled_reason,
        disabled_at=sub.disabled_at,
        created_at=sub.created_at,
        updated_at=sub.updated_at,
    )


def audit_view(sub: Subscription) -> dict[str, Any]:
    """What the audit log keeps of a subscription (no URL credentials, no secret)."""
    return subscription_out(sub).model_dump(mode="json")


async def _check_teams(session: AsyncSession, *, tenant_id: str, teams: list[str]) -> None:
    if not teams:
        return
    known = await team_parents(session, tenant_id=tenant_id)
    unknown = [t for t in teams if t not in known]
    if unknown:
        team = repr(unknown[0])
        raise InvalidInput(
            msg("subscriptions.unknown_team", team=team),
            fields=[FieldError("teams", msg("subscriptions.no_team", team=team))],
        )


def _secret_for(fmt: str, given: str | None) -> tuple[str | None, str | None]:
    """(stored plaintext secret, secret to return once) for a format."""
    if fmt == "standard":
        if given is not None:
            raise InvalidInput(
                msg("subscriptions.standard_secret"),
                fields=[FieldError("secret", msg("subscriptions.standard_secret_reason"))],
            )
        made = new_secret()
        return made, made
    if given is not None and fmt not in VENDOR_SECRET_FORMATS:
        raise InvalidInput(
            msg("subscriptions.no_secret", format=fmt),
            fields=[FieldError("secret", msg("subscriptions.no_secret_reason"))],
        )
    return given, None


async def create(
    session: AsyncSession,
    *,
    tenant_id: str,
    body: SubscriptionIn,
    box: SecretBox,
    actor: str,
    now: datetime,
) -> SubscriptionCreated:
    """A new subscription; the standard format's secret is returned this once."""
    await _check_teams(session, tenant_id=tenant_id, teams=body.teams)
    secret, shown = _secret_for(body.format, body.secret)
    sub = Subscription(
        tenant_id=tenant_id,
        name=body.name,
        url_enc=box.encrypt(body.url),
        url_display=redact_url(body.url, body.format),
        format=body.format,
        secret_enc=box.encrypt(secret) if secret is not None else None,
        kinds=list(body.kinds),
        types=list(body.types),
        teams=list(body.teams),
        min_severity=body.min_severity,
        actions=list(body.actions),
        digests=list(body.digests),
        delivery_options=_options(body.format, {}, body),
        enabled=body.enabled,
        consecutive_dead=0,
        created_at=now,
        updated_at=now,
        created_by=actor,
    )
    session.add(sub)
    await session.flush()
    return SubscriptionCreated(**subscription_out(sub).model_dump(), secret=shown)


async def get_or_404(
    session: AsyncSession, *, tenant_id: str, subscription_id: int, lock: bool = False
) -> Subscription:
    """A subscription, or 404."""
    sub = await repo.get(session, tenant_id=tenant_id, subscription_id=subscription_id, lock=lock)
    if sub is None:
        raise NotFound(msg("subscriptions.not_found", subscription=str(subscription_id)))
    return sub


async def list_subscriptions(session: AsyncSession, *, tenant_id: str) -> list[SubscriptionOut]:
    """Every subscription of the tenant."""
    return [subscription_out(s) for s in await repo.list_all(session, tenant_id=tenant_id)]


async def update(
    session: AsyncSession,
    *,
    tenant_id: str,
    subscription_id: int,
    body: SubscriptionUpdate,
    box: SecretBox,
    now: datetime,
) -> tuple[SubscriptionCreated, dict[str, Any]]:
    """Apply the given fields; (the subscription with a new secret if rotated, before)."""
    sub = await get_or_404(session, tenant_id=tenant_id, subscription_id=subscription_id, lock=True)
    before = audit_view(sub)
    shown: str | None = None
    if body.teams is not None:
        await _check_teams(session, tenant_id=tenant_id, teams=body.teams)
        sub.teams = list(body.teams)
    for field in ("kinds", "types", "actions", "digests"):
        value = getattr(body, field)
        if value is not None:
            setattr(sub, field, list(value))
    if body.name is not None:
        sub.name = body.name
    sub.delivery_options = _options(sub.format, sub.delivery_options, body)
    if body.min_severity is not None:
        sub.min_severity = body.min_severity
    if body.url is not None:
        sub.url_enc = box.encrypt(body.url)
        sub.url_display = redact_url(body.url, sub.format)
    if body.secret is not None:
        _secret_for(sub.format, body.secret)
        sub.secret_enc = box.encrypt(body.secret)
    if body.rotate_secret:
        if sub.format != "standard":
            raise InvalidInput(
                msg("subscriptions.rotate_standard_only"),
                fields=[
                    FieldError("rotate_secret", msg("subscriptions.rotate_standard_only_reason"))
                ],
            )
        shown = new_secret()
        if body.rotation_overlap_s > 0 and sub.secret_enc is not None:
            sub.previous_secret_enc = sub.secret_enc
            sub.previous_secret_until = now + timedelta(seconds=body.rotation_overlap_s)
        else:
            sub.previous_secret_enc = sub.previous_secret_until = None
        sub.secret_enc = box.encrypt(shown)
    if body.enabled is not None and body.enabled != sub.enabled:
        sub.enabled = body.enabled
        if body.enabled:
            sub.disabled_reason = None
            sub.disabled_at = None
            sub.failing_since = None
            sub.consecutive_dead = 0
            await repo.resume_pending(session, subscription_id=sub.id, now=now)
            await lifecycle.resolve_alerts(
                session,
                tenant_id=tenant_id,
                dedup_keys=[f"subscription_disabled:{sub.id}"],
                now=now,
                note=msg("delivery.note.reenabled"),
            )
        else:
            sub.disabled_reason = render(
                msg("delivery.disabled.by_admin"),
                await lifecycle.tenant_locale(session, tenant_id=tenant_id),
            )
            sub.disabled_at = now
    sub.updated_at = now
    await session.flush()
    return SubscriptionCreated(**subscription_out(sub).model_dump(), secret=shown), before


async def delete(session: AsyncSession, *, tenant_id: str, subscription_id: int) -> dict[str, Any]:
    """Delete a subscription and its delivery log; what it was."""
    sub = await get_or_404(session, tenant_id=tenant_id, subscription_id=subscription_id, lock=True)
    before = audit_view(sub)
    await session.delete(sub)
    await session.flush()
    return before


def delivery_out(d: Delivery) -> DeliveryOut:
    """The API shape of a delivery."""
    return DeliveryOut(
        id=d.id,
        message_id=d.message_id,
        event_type=d.event_type,
        status=d.status,
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at,
        created_at=d.created_at,
        delivered_at=d.delivered_at,
        dead_at=d.dead_at,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        redelivery_of=d.redelivery_of,
        folded_into=d.folded_into,
        payload=d.payload,
    )


async def deliveries(
    session: AsyncSession,
    *,
    tenant_id: str,
    subscription_id: int,
    status: str | None,
    before_id: int | None,
    limit: int,
) -> DeliveriesPage:
    """A subscription's delivery log, newest first."""
    await get_or_404(session, tenant_id=tenant_id, subscription_id=subscription_id)
    rows = await repo.deliveries(
        session,
        tenant_id=tenant_id,
        subscription_id=subscription_id,
        status=status,
        before_id=before_id,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return DeliveriesPage(
        items=[delivery_out(d) for d in rows], next_cursor=rows[-1].id if more and rows else None
    )


async def delivery_detail(
    session: AsyncSession, *, tenant_id: str, subscription_id: int, delivery_id: int
) -> DeliveryDetail:
    """A delivery with its attempts."""
    d = await repo.delivery(
        session, tenant_id=tenant_id, subscription_id=subscription_id, delivery_id=delivery_id
    )
    if d is None:
        raise NotFound(
            msg(
                "subscriptions.delivery_not_found",
                delivery=str(delivery_id),
                subscription=str(subscription_id),
            )
        )
    attempts = await repo.attempts(session, delivery_id=d.id)
    return DeliveryDetail(
        **delivery_out(d).model_dump(),
        attempts_log=[
            AttemptOut(
                attempt=a.attempt,
                at=a.at,
                status_code=a.status_code,
                error=a.error,
                duration_ms=a.duration_ms,
                response=a.response,
                outcome=a.outcome,
                next_attempt_at=a.next_attempt_at,
            )
            for a in attempts
        ],
    )


async def redeliver(
    session: AsyncSession, *, tenant_id: str, subscription_id: int, delivery_id: int, now: datetime
) -> DeliveryOut:
    """Send a delivery again (same message id and payload) as a new delivery, due now."""
    sub = await get_or_404(session, tenant_id=tenant_id, subscription_id=subscription_id)
    original = await repo.delivery(
        session, tenant_id=tenant_id, subscription_id=subscription_id, delivery_id=delivery_id
    )
    if original is None:
        raise NotFound(
            msg(
                "subscriptions.delivery_not_found",
                delivery=str(delivery_id),
                subscription=str(subscription_id),
            )
        )
    if original.status == "pending":
        raise Conflict(msg("subscriptions.delivery_retrying", delivery=str(delivery_id)))
    n = await repo.redeliveries(session, delivery_id=original.id) + 1
    d = repo.add_delivery(
        session,
        subscription=sub,
        source_key=f"redeliver:{original.id}:{n}",
        event_type=original.event_type,
        payload=original.payload,
        now=now,
        message_id=original.message_id,
        redelivery_of=original.id,
    )
    await session.flush()
    return delivery_out(d)


async def ping(
    session: AsyncSession, *, tenant_id: str, subscription_id: int, now: datetime
) -> DeliveryOut:
    """A test message to the subscriber (``type: ping``)."""
    sub = await get_or_404(session, tenant_id=tenant_id, subscription_id=subscription_id)
    d = repo.add_delivery(
        session,
        subscription=sub,
        source_key=f"ping:{now.isoformat()}:{sub.id}",
        event_type="ping",
        payload={
            "type": "ping",
            "timestamp": now.isoformat(),
            "tenant": tenant_id,
            "data": {
                "digest": {
                    "title": f"Paceline test message for {sub.name}",
                    "summary": ["It works."],
                }
            },
        },
        now=now,
    )
    await session.flush()
    return delivery_out(d)
