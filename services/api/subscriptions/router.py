"""Subscription routes: CRUD, the delivery log, redelivery and a test message."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from paceline.api.subscriptions import service
from paceline.api.subscriptions.schemas import (
    DeliveriesPage,
    DeliveryDetail,
    DeliveryOut,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionUpdate,
)
from paceline.shared.crypto import SecretBox
from paceline.shared.errors import FieldError, InvalidInput, Unavailable
from paceline.shared.i18n import msg
from paceline.shared.web.deps import (
    AdminPrincipal,
    AppState,
    AuditDep,
    ReadPrincipal,
    ReadSessionDep,
    StateDep,
    WriteSessionDep,
)
from paceline.shared.web.pagination import CursorQuery, int_cursor, page_limit, set_next_page
from paceline.shared.web.security import url_refusal

router = APIRouter(prefix="/v1", tags=["subscriptions"])


def _check_destination(state: AppState, url: str | None) -> None:
    """Refuse a URL that is not well formed or whose host is never public (in any
    spelling: ``127.1``, ``0x7f000001``, ``[::ffff:127.0.0.1]``), unless private
    destinations are allowed.

    Names are checked again, resolved, on every delivery (shared/outbound.py).
    """
    if url is None:
        return
    reason = url_refusal(url, allow_private=state.settings.outbound_private_allowed)
    if reason is not None:
        raise InvalidInput(
            msg("errors.field_reason", field="url", reason=reason),
            fields=[FieldError("url", reason)],
        )


def _box(state: AppState) -> SecretBox:
    if state.box is None:
        raise Unavailable(msg("web.secrets.no_key"))
    return state.box


@router.post(
    "/subscriptions", response_model=SubscriptionCreated, status_code=201, summary="Subscribe"
)
async def create_subscription(
    body: SubscriptionIn,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> SubscriptionCreated:
    """A subscriber endpoint with filters and a format; the signing secret is shown once."""
    _check_destination(state, body.url)
    out = await service.create(
        session,
        tenant_id=principal.tenant_id,
        body=body,
        box=_box(state),
        actor=principal.actor,
        now=state.clock.now(),
    )
    await audit.record(
        "subscriptions.create",
        target=f"subscription:{out.id}",
        after=out.model_dump(mode="json", exclude={"secret"}),
    )
    return out


@router.get("/subscriptions", response_model=list[SubscriptionOut], summary="List subscriptions")
async def list_subscriptions(
    principal: AdminPrincipal, session: ReadSessionDep
) -> list[SubscriptionOut]:
    """Every subscription (URLs redacted, secrets never shown)."""
    return await service.list_subscriptions(session, tenant_id=principal.tenant_id)


@router.get(
    "/subscriptions/{subscription_id}", response_model=SubscriptionOut, summary="A subscription"
)
async def get_subscription(
    subscription_id: int, principal: AdminPrincipal, session: ReadSessionDep
) -> SubscriptionOut:
    """One subscription."""
    sub = await service.get_or_404(
        session, tenant_id=principal.tenant_id, subscription_id=subscription_id
    )
    return service.subscription_out(sub)


@router.patch(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionCreated,
    summary="Change a subscription",
)
async def update_subscription(
    subscription_id: int,
    body: SubscriptionUpdate,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> SubscriptionCreated:
    """Change filters, URL or secret, enable or disable; ``secret`` only on rotation."""
    _check_destination(state, body.url)
    out, before = await service.update(
        session,
        tenant_id=principal.tenant_id,
        subscription_id=subscription_id,
        body=body,
        box=_box(state),
        now=state.clock.now(),
    )
    await audit.record(
        "subscriptions.update",
        target=f"subscription:{subscription_id}",
        before=before,
        after=out.model_dump(mode="json", exclude={"secret"}),
    )
    return out


@router.delete("/subscriptions/{subscription_id}", status_code=204, summary="Delete a subscription")
async def delete_subscription(
    subscription_id: int, principal: AdminPrincipal, session: WriteSessionDep, audit: AuditDep
) -> Response:
    """Delete it with its delivery log; pending deliveries are dropped."""
    before = await service.delete(
        session, tenant_id=principal.tenant_id, subscription_id=subscription_id
    )
    await audit.record(
        "subscriptions.delete", target=f"subscription:{subscription_id}", before=before
    )
    return Response(status_code=204)


@router.get(
    "/subscriptions/{subscription_id}/deliveries",
    response_model=DeliveriesPage,
    summary="The delivery log",
)
async def list_deliveries(
    request: Request,
    response: Response,
    subscription_id: int,
    principal: ReadPrincipal,
    session: ReadSessionDep,
    status: Annotated[str | None, Query(pattern="^(pending|delivered|dead)$")] = None,
    cursor: CursorQuery = None,
    before_id: Annotated[
        int | None,
        Query(
            ge=0,
            le=2**63 - 1,
            deprecated=True,
            description="next_cursor of the previous page (older `cursor`).",
        ),
    ] = None,
    limit: Annotated[int, page_limit(500)] = 100,
) -> DeliveriesPage:
    """Messages to this subscriber, newest first, with where each stands."""
    page = await service.deliveries(
        session,
        tenant_id=principal.tenant_id,
        subscription_id=subscription_id,
        status=status,
        before_id=int_cursor(cursor, before_id),
        limit=limit,
    )
    set_next_page(request, response, None if page.next_cursor is None else str(page.next_cursor))
    return page


@router.get(
    "/subscriptions/{subscription_id}/deliveries/{delivery_id}",
    response_model=DeliveryDetail,
    summary="A delivery and its attempts",
)
async def get_delivery(
    subscription_id: int, delivery_id: int, principal: ReadPrincipal, session: ReadSessionDep
) -> DeliveryDetail:
    """Every attempt: when, the status code or error, what happens next."""
    return await service.delivery_detail(
        session,
        tenant_id=principal.tenant_id,
        subscription_id=subscription_id,
        delivery_id=delivery_id,
    )


@router.post(
    "/subscriptions/{subscription_id}/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryOut,
    status_code=202,
    summary="Redeliver",
    responses={409: {"description": "The delivery is being retried already"}},
)
async def redeliver(
    subscription_id: int,
    delivery_id: int,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> DeliveryOut:
    """Send a delivered or dead-lettered message again (same webhook-id and payload)."""
    out = await service.redeliver(
        session,
        tenant_id=principal.tenant_id,
        subscription_id=subscription_id,
        delivery_id=delivery_id,
        now=state.clock.now(),
    )
    await audit.record(
        "subscriptions.redeliver",
        target=f"subscription:{subscription_id}",
        after={"delivery_id": out.id, "redelivery_of": delivery_id},
    )
    return out


@router.post(
    "/subscriptions/{subscription_id}/test",
    response_model=DeliveryOut,
    status_code=202,
    summary="Send a test message",
)
async def test_subscription(
    subscription_id: int,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> DeliveryOut:
    """Queue a ``ping`` message to check the endpoint, its format and its signature."""
    out = await service.ping(
        session,
        tenant_id=principal.tenant_id,
        subscription_id=subscription_id,
        now=state.clock.now(),
    )
    await audit.record(
        "subscriptions.test",
        target=f"subscription:{subscription_id}",
        after={"delivery_id": out.id},
    )
    return out
