"""SQL of users and what their role lets them reach (shared by the auth path and the API).

:func:`principal_for_user` is the one place a person's rights are computed — for a key
that acts for a user and for a dashboard sign-in alike: scopes cut to the role's, and the
reach by the org chart *today*: a manager's team and every team below it, and the reps
who are members of those teams today; a rep's own figures, and their team's aggregates
unless the tenant's ``options.rep_sees_team`` is false.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.auth import Principal, Reach, role_scopes
from paceline.shared.db.models import RepMembership, Tenant
from paceline.shared.db.models_users import User
from paceline.shared.readmodel.org import team_parents
from paceline.shared.readmodel.scopes import subtree


async def get_user(session: AsyncSession, *, tenant_id: str, user_id: str) -> User | None:
    """A user by id."""
    return await session.get(User, (tenant_id, user_id))


async def user_by_email(session: AsyncSession, *, tenant_id: str, email: str) -> User | None:
    """A user by e-mail (stored lower-case)."""
    return await session.scalar(
        select(User).where(User.tenant_id == tenant_id, User.email == email.lower())
    )


async def user_by_subject(session: AsyncSession, *, issuer: str, subject: str) -> User | None:
    """The user an OpenID Connect subject signed in as before."""
    return await session.scalar(
        select(User).where(User.oidc_issuer == issuer, User.oidc_subject == subject)
    )


async def list_users(
    session: AsyncSession, *, tenant_id: str, after: str | None, limit: int
) -> Sequence[User]:
    """A page of the tenant's users by id."""
    query = select(User).where(User.tenant_id == tenant_id)
    if after is not None:
        query = query.where(User.id > after)
    return (await session.scalars(query.order_by(User.id).limit(limit))).all()


async def members_on(
    session: AsyncSession, *, tenant_id: str, teams: frozenset[str], day: date
) -> frozenset[str]:
    """Reps who are members of any of ``teams`` on ``day``."""
    if not teams:
        return frozenset()
    rows = await session.scalars(
        select(RepMembership.rep_id).where(
            RepMembership.tenant_id == tenant_id,
            RepMembership.team_id.in_(sorted(teams)),
            RepMembership.valid_from <= day,
            or_(RepMembership.valid_to.is_(None), RepMembership.valid_to > day),
        )
    )
    return frozenset(rows.all())


async def team_of(session: AsyncSession, *, tenant_id: str, rep_id: str, day: date) -> str | None:
    """The rep's team on ``day``."""
    return await session.scalar(
        select(RepMembership.team_id)
        .where(
            RepMembership.tenant_id == tenant_id,
            RepMembership.rep_id == rep_id,
            RepMembership.valid_from <= day,
            or_(RepMembership.valid_to.is_(None), RepMembership.valid_to > day),
        )
        .order_by(RepMembership.valid_from.desc())
        .limit(1)
    )


async def reach_of(session: AsyncSession, *, user: User, today: date) -> Reach | None:
    """What the user may read; None for the whole tenant (admin, viewer, bi)."""
    if user.role == "manager":
        teams = (
            frozenset(subtree(await team_parents(session, tenant_id=user.tenant_id), user.team_id))
            if user.team_id
            else frozenset()
        )
        reps = await members_on(session, tenant_id=user.tenant_id, teams=teams, day=today)
        return Reach(teams=teams, reps=reps)
    if user.role == "rep":
        if not user.rep_id:
            return Reach()
        tenant = await session.get(Tenant, user.tenant_id)
        shows_team = tenant is None or (tenant.options or {}).get("rep_sees_team", True)
        team = await team_of(session, tenant_id=user.tenant_id, rep_id=user.rep_id, day=today)
        teams = frozenset({team}) if shows_team and team else frozenset()
        return Reach(teams=teams, reps=frozenset({user.rep_id}))
    if user.role in ("admin", "viewer", "bi"):
        return None
    return Reach()  # an unknown role reads nothing


async def principal_for_user(
    session: AsyncSession,
    *,
    user: User,
    key_id: str,
    key_scopes: frozenset[str] | None,
    today: date,
) -> Principal | None:
    """The principal of a key acting for ``user`` (``key_scopes``) or of the user's
    sign-in (None: the role's scopes); None when the user is inactive."""
    if not user.active:
        return None
    return Principal(
        tenant_id=user.tenant_id,
        key_id=key_id,
        scopes=role_scopes(user.role, key_scopes),
        user_id=user.id,
        role=user.role,
        reach=await reach_of(session, user=user, today=today),
    )


def label(user: User | None, actor: str) -> str:
    """How a person is named where an actor is shown: ``Name <email>``, else the actor."""
    if user is None:
        return actor
    return f"{user.name} <{user.email}>"


def today_of(now: datetime) -> date:
    """The day reach is computed for (UTC: an org change counts from its day everywhere)."""
    return now.date()
