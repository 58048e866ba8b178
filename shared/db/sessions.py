"""SQL of dashboard sign-ins (``user_sessions``): only the SHA-256 of a cookie's token is
stored, so a copy of the database signs no one in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models_users import UserSession


async def add_session(
    session: AsyncSession,
    *,
    token_hash: str,
    tenant_id: str,
    user_id: str,
    now: datetime,
    expires_at: datetime,
) -> UserSession:
    """Record a new sign-in."""
    row = UserSession(
        token_hash=token_hash,
        tenant_id=tenant_id,
        user_id=user_id,
        created_at=now,
        expires_at=expires_at,
        revoked_at=None,
    )
    session.add(row)
    await session.flush()
    return row


async def session_by_hash(session: AsyncSession, *, token_hash: str) -> UserSession | None:
    """A sign-in by the hash of its token."""
    return await session.get(UserSession, token_hash)


async def revoke_session(session: AsyncSession, *, token_hash: str, now: datetime) -> bool:
    """End a sign-in (sign-out); whether one was open."""
    result = await session.execute(
        update(UserSession)
        .where(UserSession.token_hash == token_hash, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(getattr(result, "rowcount", 0))
