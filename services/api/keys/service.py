"""API keys: created (shown once), listed, rotated and revoked; every change audited.

Who manages which keys:

- an ``admin`` key manages the keys of its own tenant; another tenant's key ids and
  tenant ids are unknown to it (404, as for every other resource);
- a ``platform`` key (the operator) manages every tenant's keys, and the platform keys,
  which live in the reserved tenant ``_platform`` and carry that one scope only.

The CLI calls the same functions (actor ``cli``).
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.keys import repository
from paceline.api.keys.schemas import (
    KeyCreated,
    KeyIn,
    KeyOut,
    KeyPage,
    KeyRotated,
    KeyRotation,
    KeyStatus,
)
from paceline.shared.auth import (
    PLATFORM_TENANT,
    ROLE_SCOPES,
    TENANT_SCOPES,
    Principal,
    generate_key,
)
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db import users as users_repo
from paceline.shared.db.models import ApiKey
from paceline.shared.errors import Conflict, FieldError, InvalidInput, NotFound
from paceline.shared.i18n import msg
from paceline.shared.web.deps import Auditor, role_name


def status_of(row: ApiKey, now: datetime) -> KeyStatus:
    """active, expired or revoked."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"


def key_out(row: ApiKey, *, now: datetime) -> KeyOut:
    """A key as listed (no plaintext, no hash)."""
    return KeyOut(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        prefix=row.prefix,
        scopes=list(row.scopes),
        user_id=row.user_id,
        status=status_of(row, now),
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def _audited(out: KeyOut) -> dict[str, object]:
    return out.model_dump(mode="json", exclude={"last_used_at", "status"})


def target_tenant(principal: Principal, requested: str | None) -> str:
    """The tenant whose keys a caller addresses: its own, or any for the operator."""
    if principal.allows("platform"):
        return requested or principal.tenant_id
    if requested is not None and requested != principal.tenant_id:
        raise NotFound(msg("keys.no_tenant", tenant=repr(requested)))
    return principal.tenant_id


def _check_scopes(tenant_id: str, scopes: list[str]) -> list[str]:
    wanted = sorted(set(scopes))
    if tenant_id == PLATFORM_TENANT and wanted != ["platform"]:
        raise InvalidInput(
            msg("keys.operator_scope"),
            fields=[FieldError("scopes", msg("keys.operator_scope_reason"))],
        )
    if tenant_id != PLATFORM_TENANT and not set(wanted) <= set(TENANT_SCOPES):
        raise InvalidInput(
            msg("keys.platform_scope"),
            fields=[FieldError("scopes", msg("keys.platform_scope_reason"))],
        )
    return wanted


async def _check_user(
    session: AsyncSession, tenant_id: str, user_id: str, scopes: list[str]
) -> None:
    """A key for a user: the user exists and is active, and the scopes are the role's."""
    user = await users_repo.get_user(session, tenant_id=tenant_id, user_id=user_id)
    if user is None or not user.active:
        raise InvalidInput(
            msg("keys.no_active_user", user=repr(user_id)),
            fields=[FieldError("user_id", msg("keys.no_such_active_user"))],
        )
    beyond = sorted(set(scopes) - ROLE_SCOPES.get(user.role, frozenset()))
    if beyond:
        role, listed = role_name(user.role), ", ".join(beyond)
        raise InvalidInput(
            msg("keys.beyond_role", role=role, scopes=listed),
            fields=[FieldError("scopes", msg("keys.beyond_role_reason", role=role, scopes=listed))],
        )


def _future(expires_at: datetime | None, now: datetime, field: str) -> datetime | None:
    if expires_at is not None and expires_at <= now:
        raise InvalidInput(
            msg("keys.not_in_future", field=field),
            fields=[FieldError(field, msg("keys.must_be_future"))],
        )
    return expires_at


async def create_key(
    session: AsyncSession,
    *,
    tenant_id: str,
    body: KeyIn,
    audit: Auditor,
    now: datetime,
) -> KeyCreated:
    """A new key for ``tenant_id`` (already checked as the caller's to address)."""
    scopes = _check_scopes(tenant_id, list(body.scopes))
    expires_at = _future(body.expires_at, now, "expires_at")
    if tenant_id == PLATFORM_TENANT:
        await tenant_repo.ensure_tenant(session, tenant_id=tenant_id, name="Platform", now=now)
    elif await tenant_repo.get_tenant(session, tenant_id=tenant_id) is None:
        raise NotFound(msg("keys.no_tenant", tenant=repr(tenant_id)))
    if body.user_id is not None:
        await _check_user(session, tenant_id, body.user_id, scopes)
    key = generate_key()
    row = await tenant_repo.add_key(
        session,
        tenant_id=tenant_id,
        key=key,
        name=body.name,
        scopes=scopes,
        now=now,
        expires_at=expires_at,
        user_id=body.user_id,
    )
    out = key_out(row, now=now)
    await audit.record(
        "keys.create", target=f"key:{row.id}", after=_audited(out), tenant_id=tenant_id
    )
    return KeyCreated(**out.model_dump(), key=key.plaintext)


async def key_for(
    session: AsyncSession, *, principal: Principal | None, key_id: str, for_update: bool = False
) -> ApiKey:
    """A key the caller may manage; 404 for any other (the operator and the CLI: all)."""
    row = await repository.get_key(session, key_id=key_id, for_update=for_update)
    if row is None or (
        principal is not None
        and not principal.allows("platform")
        and row.tenant_id != principal.tenant_id
    ):
        raise NotFound(msg("keys.not_found", key=repr(key_id)))
    return row


async def list_keys(
    session: AsyncSession,
    *,
    tenant_id: str,
    cursor: str | None,
    limit: int,
    include_inactive: bool,
    now: datetime,
) -> KeyPage:
    """A page of a tenant's keys, oldest first; 404 for an unknown tenant."""
    if await tenant_repo.get_tenant(session, tenant_id=tenant_id) is None:
        raise NotFound(msg("keys.no_tenant", tenant=repr(tenant_id)))
    after = _decode_cursor(cursor) if cursor is not None else None
    rows = await repository.page(
        session,
        tenant_id=tenant_id,
        after=after,
        limit=limit + 1,
        active_at=None if include_inactive else now,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return KeyPage(
        items=[key_out(r, now=now) for r in rows],
        next_cursor=_encode_cursor(rows[-1]) if more and rows else None,
    )


async def revoke_key(
    session: AsyncSession, *, row: ApiKey, audit: Auditor, now: datetime
) -> KeyOut:
    """Revoke a key (idempotent: a revoked key keeps its first revocation time)."""
    before = key_out(row, now=now)
    if row.revoked_at is None:
        row.revoked_at = now
        await session.flush()
    out = key_out(row, now=now)
    if before.revoked_at is None:
        await audit.record(
            "keys.revoke",
            target=f"key:{row.id}",
            before=_audited(before),
            after=_audited(out),
            tenant_id=row.tenant_id,
        )
    return out


async def rotate_key(
    session: AsyncSession, *, row: ApiKey, body: KeyRotation, audit: Auditor, now: datetime
) -> KeyRotated:
    """A new key with the old one's tenant, name and scopes; the old one expires after the
    grace period. A revoked or expired key cannot be rotated (409): create a new one."""
    state = status_of(row, now)
    if state != "active":
        raise Conflict(msg("keys.cannot_rotate", state=msg(f"keys.state.{state}")))
    new_expiry = _future(body.expires_at, now, "expires_at")
    if new_expiry is None and row.expires_at is not None:
        try:
            new_expiry = now + (row.expires_at - row.created_at)
        except OverflowError:  # a far-future expiry (year 9999): keep the old key's
            new_expiry = row.expires_at
    before = key_out(row, now=now)
    grace_end = now + timedelta(seconds=body.grace_period_s)
    row.expires_at = grace_end if row.expires_at is None else min(row.expires_at, grace_end)
    key = generate_key()
    new_row = await tenant_repo.add_key(
        session,
        tenant_id=row.tenant_id,
        key=key,
        name=row.name,
        scopes=list(row.scopes),
        now=now,
        expires_at=new_expiry,
        user_id=row.user_id,
    )
    old_out = key_out(row, now=now)
    new_out = key_out(new_row, now=now)
    await audit.record(
        "keys.rotate",
        target=f"key:{row.id}",
        before=_audited(before),
        after={"old": _audited(old_out), "new": _audited(new_out)},
        tenant_id=row.tenant_id,
    )
    return KeyRotated(**new_out.model_dump(), key=key.plaintext, replaced=old_out)


def _encode_cursor(row: ApiKey) -> str:
    raw = orjson.dumps([row.created_at.isoformat(), row.id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(text: str) -> tuple[datetime, str]:
    try:
        at, key_id = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None or not isinstance(key_id, str):
            raise ValueError("bad cursor")
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise InvalidInput(
            msg("web.cursor.invalid"), fields=[FieldError("cursor", msg("web.cursor.use_next"))]
        ) from None
    return parsed, key_id
