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


MAX_VALUE_BYTES = 64 * 1024


def _jsonable(value: Mapping[str, Any]) -> dict[str, Any]:
    try:
        encoded = orjson.dumps(dict(value), default=str)
    except orjson.JSONEncodeError as exc:  # nested past orjson's limit: never fail the change
        return {"truncated": True, "reason": str(exc), "keys": sorted(map(str, value))[:100]}
    data: dict[str, Any] = orjson.loads(encoded)
    if len(encoded) > MAX_VALUE_BYTES:
        # A bulk change (a whole org chart): keep its outline, not megabytes per entry.
        return {
            "truncated": True,
            "bytes": len(encoded),
            "outline": {
                k: (f"{len(v)} items" if isinstance(v, list | dict) else v)
                for k, v in data.items()
                if not isinstance(v, str) or len(v) <= 200
            },
        }
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
