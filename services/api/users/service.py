"""Users: create, list, change, deactivate; every change audited."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.users.schemas import UserIn, UserOut, UserPage
from paceline.shared.db import users as repo
from paceline.shared.db.models import Rep, Team
from paceline.shared.db.models_users import User
from paceline.shared.errors import Conflict, FieldError, InvalidInput, NotFound
from paceline.shared.i18n import msg
from paceline.shared.web.deps import Auditor


def user_out(row: User) -> UserOut:
    """The shown form of a user."""
    return UserOut(
        id=row.id,
        email=row.email,
        name=row.name,
        role=row.role,
        team_id=row.team_id,
        rep_id=row.rep_id,
        active=row.active,
        signs_in_with_oidc=row.oidc_subject is not None,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_sign_in_at=row.last_sign_in_at,
    )


async def _check(session: AsyncSession, tenant_id: str, body: UserIn) -> None:
    """The role's anchor exists: a manager's team, a rep's org-chart id (422 naming it)."""
    if body.role == "manager":
        if not body.team_id:
            raise InvalidInput(
                msg("users.manager_needs_team"),
                fields=[FieldError("team_id", msg("users.required_for_manager"))],
            )
        if await session.get(Team, (tenant_id, body.team_id)) is None:
            raise InvalidInput(
                msg("users.no_team", team=repr(body.team_id)),
                fields=[FieldError("team_id", msg("users.no_such_team"))],
            )
    if body.role == "rep":
        if not body.rep_id:
            raise InvalidInput(
                msg("users.rep_needs_rep"),
                fields=[FieldError("rep_id", msg("users.required_for_rep"))],
            )
        if await session.get(Rep, (tenant_id, body.rep_id)) is None:
            raise InvalidInput(
                msg("users.no_rep", rep=repr(body.rep_id)),
                fields=[FieldError("rep_id", msg("users.no_such_rep"))],
            )


def _audited(row: User) -> dict[str, object]:
    return user_out(row).model_dump(mode="json", exclude={"created_at", "updated_at"})


async def create_user(
    session: AsyncSession, *, tenant_id: str, body: UserIn, audit: Auditor, now: datetime
) -> UserOut:
    """A new user; 409 if the e-mail is taken in the tenant."""
    await _check(session, tenant_id, body)
    email = body.email.lower()
    if await repo.user_by_email(session, tenant_id=tenant_id, email=email) is not None:
        raise Conflict(
            msg("users.email_taken", email=email),
            fields=[FieldError("email", msg("users.already_used"))],
        )
    row = User(
        tenant_id=tenant_id,
        id=secrets.token_hex(8),
        email=email,
        name=body.name,
        role=body.role,
        team_id=body.team_id if body.role == "manager" else None,
        rep_id=body.rep_id if body.role == "rep" else None,
        active=body.active,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    await audit.record("user.create", target=f"user:{row.id}", after=_audited(row))
    return user_out(row)


async def get_user(session: AsyncSession, *, tenant_id: str, user_id: str) -> User:
    """A user of the tenant, or 404."""
    row = await repo.get_user(session, tenant_id=tenant_id, user_id=user_id)
    if row is None:
        raise NotFound(msg("users.not_found", user=repr(user_id)))
    return row


async def update_user(
    session: AsyncSession,
    *,
    tenant_id: str,
    user_id: str,
    body: UserIn,
    audit: Auditor,
    now: datetime,
) -> UserOut:
    """Replace a user's e-mail, name, role, anchor and status (keys and sign-ins of the
    user follow within the key cache's lifetime)."""
    row = await get_user(session, tenant_id=tenant_id, user_id=user_id)
    await _check(session, tenant_id, body)
    email = body.email.lower()
    other = await repo.user_by_email(session, tenant_id=tenant_id, email=email)
    if other is not None and other.id != row.id:
        raise Conflict(
            msg("users.email_taken", email=email),
            fields=[FieldError("email", msg("users.already_used"))],
        )
    before = _audited(row)
    row.email = email
    row.name = body.name
    row.role = body.role
    row.team_id = body.team_id if body.role == "manager" else None
    row.rep_id = body.rep_id if body.role == "rep" else None
    row.active = body.active
    row.updated_at = now
    await session.flush()
    await audit.record("user.update", target=f"user:{row.id}", before=before, after=_audited(row))
    return user_out(row)


async def list_users(
    session: AsyncSession, *, tenant_id: str, cursor: str | None, limit: int
) -> UserPage:
    """A page of users by id (``cursor``: the last id of the previous page)."""
    rows = await repo.list_users(session, tenant_id=tenant_id, after=cursor, limit=limit + 1)
    more = len(rows) > limit
    items = [user_out(r) for r in rows[:limit]]
    return UserPage(items=items, next_cursor=items[-1].id if more and items else None)
