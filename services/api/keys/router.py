"""API key routes: create (shown once), list, read, rotate, revoke.

Revocation and a rotation without grace take effect at once in the process that serves
them, and within the key cache's lifetime (5 s) in the others.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from paceline.api.keys import service
from paceline.api.keys.schemas import KeyCreated, KeyIn, KeyOut, KeyPage, KeyRotated, KeyRotation
from paceline.api.tenants.schemas import TENANT_ID_PATTERN
from paceline.shared.web.deps import (
    AuditDep,
    KeyManagerPrincipal,
    ReadSessionDep,
    StateDep,
    WriteSessionDep,
)
from paceline.shared.web.pagination import CursorQuery, page_limit, set_next_page

router = APIRouter(prefix="/v1", tags=["keys"])

KeyId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


@router.post(
    "/keys",
    response_model=KeyCreated,
    status_code=201,
    summary="Create an API key (shown once)",
    responses={201: {"description": "The key, in `key`: store it now, it is never shown again"}},
)
async def create_key(
    body: KeyIn,
    principal: KeyManagerPrincipal,
    session: WriteSessionDep,
    audit: AuditDep,
    state: StateDep,
) -> KeyCreated:
    """A key with the given scopes and optional expiry. Only its hash is stored."""
    tenant_id = service.target_tenant(principal, body.tenant_id)
    return await service.create_key(
        session, tenant_id=tenant_id, body=body, audit=audit, now=state.clock.now()
    )


@router.get("/keys", response_model=KeyPage, summary="List API keys")
async def list_keys(
    request: Request,
    response: Response,
    principal: KeyManagerPrincipal,
    session: ReadSessionDep,
    state: StateDep,
    tenant_id: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=TENANT_ID_PATTERN,
            description="Another tenant's keys (platform keys only).",
        ),
    ] = None,
    include_inactive: Annotated[
        bool, Query(description="Also list revoked and expired keys.")
    ] = True,
    cursor: CursorQuery = None,
    limit: Annotated[int, page_limit(1000)] = 100,
) -> KeyPage:
    """Prefix, name, scopes, status, creation, expiry, last use and revocation of each key;
    never the key or its hash."""
    page = await service.list_keys(
        session,
        tenant_id=service.target_tenant(principal, tenant_id),
        cursor=cursor,
        limit=limit,
        include_inactive=include_inactive,
        now=state.clock.now(),
    )
    set_next_page(request, response, page.next_cursor)
    return page


@router.get("/keys/{key_id}", response_model=KeyOut, summary="An API key")
async def get_key(
    key_id: KeyId, principal: KeyManagerPrincipal, session: ReadSessionDep, state: StateDep
) -> KeyOut:
    """One key as listed."""
    row = await service.key_for(session, principal=principal, key_id=key_id)
    return service.key_out(row, now=state.clock.now())


@router.post(
    "/keys/{key_id}/rotate",
    response_model=KeyRotated,
    status_code=201,
    summary="Rotate an API key",
    responses={409: {"description": "The key is revoked or expired"}},
)
async def rotate_key(
    key_id: KeyId,
    principal: KeyManagerPrincipal,
    session: WriteSessionDep,
    audit: AuditDep,
    state: StateDep,
    body: KeyRotation | None = None,
) -> KeyRotated:
    """A new key (shown once) with the same name and scopes; the old key keeps working for
    the grace period, then expires."""
    row = await service.key_for(session, principal=principal, key_id=key_id, for_update=True)
    rotation = body or KeyRotation()
    out = await service.rotate_key(
        session, row=row, body=rotation, audit=audit, now=state.clock.now()
    )
    if rotation.grace_period_s == 0:
        state.keys.revoked(row.id)
    else:
        state.keys.changed(row.id)
    return out


@router.delete("/keys/{key_id}", response_model=KeyOut, summary="Revoke an API key")
async def revoke_key(
    key_id: KeyId,
    principal: KeyManagerPrincipal,
    session: WriteSessionDep,
    audit: AuditDep,
    state: StateDep,
) -> KeyOut:
    """The key stops working at once (in other replicas within 5 s); it stays listed as
    revoked."""
    row = await service.key_for(session, principal=principal, key_id=key_id, for_update=True)
    out = await service.revoke_key(session, row=row, audit=audit, now=state.clock.now())
    state.keys.revoked(row.id)
    return out
