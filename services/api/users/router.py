"""User routes (admin): create, list, read, replace. A user is never deleted (the audit
log and target versions keep naming them): ``active: false`` ends their keys and
sign-ins within the key cache's lifetime (5 s)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from paceline.api.users import service
from paceline.api.users.schemas import UserIn, UserOut, UserPage
from paceline.shared.web.deps import (
    AdminPrincipal,
    AuditDep,
    ReadSessionDep,
    StateDep,
    WriteSessionDep,
)
from paceline.shared.web.pagination import page_limit, set_next_page

router = APIRouter(prefix="/v1", tags=["users"])

UserId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


@router.post(
    "/users",
    response_model=UserOut,
    status_code=201,
    summary="Create a user",
    responses={409: {"description": "A user with that e-mail exists in the tenant"}},
)
async def create_user(
    body: UserIn,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    audit: AuditDep,
    state: StateDep,
) -> UserOut:
    """A person with a role; they sign in through the tenant's OpenID Connect provider
    (matched by verified e-mail the first time), and keys may act for them."""
    return await service.create_user(
        session, tenant_id=principal.tenant_id, body=body, audit=audit, now=state.clock.now()
    )


@router.get("/users", response_model=UserPage, summary="List users")
async def list_users(
    request: Request,
    principal: AdminPrincipal,
    session: ReadSessionDep,
    response: Response,
    cursor: Annotated[
        str | None, Query(max_length=32, description="next_cursor of the previous page")
    ] = None,
    limit: Annotated[int, page_limit(1000)] = 100,
) -> UserPage:
    """The tenant's users by id, a page at a time (X-Next-Cursor and Link name the next)."""
    page = await service.list_users(
        session, tenant_id=principal.tenant_id, cursor=cursor, limit=limit
    )
    set_next_page(request, response, page.next_cursor)
    return page


@router.get("/users/{user_id}", response_model=UserOut, summary="A user")
async def get_user(user_id: UserId, principal: AdminPrincipal, session: ReadSessionDep) -> UserOut:
    """One user."""
    row = await service.get_user(session, tenant_id=principal.tenant_id, user_id=user_id)
    return service.user_out(row)


@router.put(
    "/users/{user_id}",
    response_model=UserOut,
    summary="Replace a user",
    responses={409: {"description": "Another user has that e-mail"}},
)
async def put_user(
    user_id: UserId,
    body: UserIn,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    audit: AuditDep,
    state: StateDep,
) -> UserOut:
    """E-mail, name, role, team or rep, active. Their keys and sign-ins follow."""
    out = await service.update_user(
        session,
        tenant_id=principal.tenant_id,
        user_id=user_id,
        body=body,
        audit=audit,
        now=state.clock.now(),
    )
    state.keys.forget()  # cached principals of the user's keys carry the old role
    return out
