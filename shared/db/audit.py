"""The audit log of admin actions: who, when, what, before and after.

Call :func:`record` in the same transaction as the change it describes, from every
admin mutation (keys, org, settings, KPIs, targets, mappings, subscriptions...). Values
under keys that look secret are redacted before they are stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import AuditEntry

_SECRET_WORDS = ("secret", "password", "token", "api_key", "apikey", "signing_key", "credential")
REDACTED = "[redacted]"


def _jsonable(value: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(orjson.dumps(dict(value), default=str))
    return data


def redact(value: Any) -> Any:
    """A JSON value with every secret-looking entry replaced by ``[redacted]``."""
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if any(w in str(k).lower() for w in _SECRET_WORDS) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


async def record(
    session: AsyncSession,
    *,
    tenant_id: str,
    actor: str,
    action: str,
    target: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    at: datetime,
    request_id: str | None = None,
) -> AuditEntry:
    """Add an entry to the audit log (in the caller's transaction)."""
    entry = AuditEntry(
        tenant_id=tenant_id,
        at=at,
        actor=actor,
        action=action,
        target=target,
        before=redact(_jsonable(before)) if before is not None else None,
        after=redact(_jsonable(after)) if after is not None else None,
        request_id=request_id,
    )
    session.add(entry)
    await session.flush()
    return entry
