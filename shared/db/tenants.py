"""Repository for tenants and API keys (read by every service for authentication)."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.auth import NewKey, display_prefix, hash_key
from paceline.shared.db.models import ApiKey, Tenant


async def get_tenant(session: AsyncSession, *, tenant_id: str) -> Tenant | None:
    """A tenant by id."""
    return await session.get(Tenant, tenant_id)


async def ensure_tenant(
    session: AsyncSession, *, tenant_id: str, name: str, now: datetime
) -> Tenant:
    """The tenant, created with default settings if it does not exist."""
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        tenant = Tenant(
            id=tenant_id,
            name=name,
            timezone="Asia/Shanghai",
            currency="CNY",
            fiscal_year_start_month=1,
            locale="zh-CN",
            options={},
            created_at=now,
            updated_at=now,
        )
        session.add(tenant)
        await session.flush()
    return tenant


async def list_tenants(session: AsyncSession) -> list[Tenant]:
    """All tenants."""
    return list((await session.scalars(select(Tenant).order_by(Tenant.id))).all())


async def find_key(session: AsyncSession, *, key_hash: str) -> ApiKey | None:
    """An API key by the hash of its plaintext."""
    return await session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))


async def add_key(
    session: AsyncSession,
    *,
    tenant_id: str,
    key: NewKey,
    name: str,
    scopes: list[str],
    now: datetime,
    expires_at: datetime | None = None,
    user_id: str | None = None,
) -> ApiKey:
    """Store a new key (its hash only); ``user_id``: the person it acts for."""
    row = ApiKey(
        user_id=user_id,
        id=key.id,
        tenant_id=tenant_id,
        name=name,
        prefix=key.prefix,
        key_hash=key.key_hash,
        scopes=sorted(set(scopes)),
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    return row


async def ensure_bootstrap_key(
    session: AsyncSession, *, tenant_id: str, plaintext: str, now: datetime
) -> bool:
    """Create the operator-given admin key if it is not stored yet; True if created."""
    digest = hash_key(plaintext)
    if await find_key(session, key_hash=digest) is not None:
        return False
    # A random id: one derived from the hash would publish part of it (key ids are shown
    # in answers and name the actor in the audit log).
    key = NewKey(
        id=secrets.token_hex(8),
        plaintext=plaintext,
        prefix=display_prefix(plaintext),
        key_hash=digest,
    )
    await add_key(
        session, tenant_id=tenant_id, key=key, name="bootstrap", scopes=["admin"], now=now
    )
    return True


async def touch_key(session: AsyncSession, *, key_id: str, now: datetime) -> None:
    """Record that a key was used."""
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))
