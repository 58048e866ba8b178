"""FastAPI dependencies shared by the services, declared once as ``Annotated`` aliases."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.auth import Principal, Scope, hash_key
from paceline.shared.clock import Clock
from paceline.shared.crypto import SecretBox
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.session import Database
from paceline.shared.errors import Forbidden, Unauthorized
from paceline.shared.eventlog import EventLog
from paceline.shared.settings import Settings

log = logging.getLogger(__name__)

_KEY_CACHE_TTL_S = 5.0
_TOUCH_EVERY_S = 60.0


class KeyStore:
    """Resolves API keys to principals, with a short cache (revocation applies within 5 s)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._cache: dict[str, tuple[Principal | None, float]] = {}
        self._touched: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def principal(self, plaintext: str) -> Principal:
        """The principal behind a key; Unauthorized if unknown, expired or revoked."""
        digest = hash_key(plaintext)
        now_mono = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > now_mono:
            found = cached[0]
        else:
            found = await self._load(digest)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (found, now_mono + _KEY_CACHE_TTL_S)
        if found is None:
            raise Unauthorized("the API key is not valid (unknown, expired or revoked)")
        if now_mono - self._touched.get(found.key_id, 0.0) > _TOUCH_EVERY_S:
            self._touched[found.key_id] = now_mono
            task = asyncio.create_task(self._touch(found.key_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return found

    async def _load(self, digest: str) -> Principal | None:
        async with self.db.transaction(write=False) as session:
            row = await tenant_repo.find_key(session, key_hash=digest)
        if row is None or row.revoked_at is not None:
            return None
        if row.expires_at is not None and row.expires_at <= self.clock.now():
            return None
        return Principal(tenant_id=row.tenant_id, key_id=row.id, scopes=frozenset(row.scopes))

    async def _touch(self, key_id: str) -> None:
        try:
            async with self.db.transaction() as session:
                await tenant_repo.touch_key(session, key_id=key_id, now=self.clock.now())
        except Exception:  # last-used time is best effort; never fail a request for it
            log.debug("could not record key use", exc_info=True)

    def forget(self) -> None:
        """Drop cached lookups (after a key is revoked in this process)."""
        self._cache.clear()


@dataclass
class AppState:
    """What a Paceline web process holds for its whole life."""

    settings: Settings
    db: Database
    clock: Clock
    keys: KeyStore
    eventlog: EventLog | None = None
    box: SecretBox | None = None  # encrypts webhook and subscriber secrets
    extras: dict[str, Any] = field(default_factory=dict)


def get_state(request: Request) -> AppState:
    """The process state."""
    state: AppState = request.app.state.paceline
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def _read_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    async with state.db.transaction(write=False) as session:
        yield session


async def _write_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    async with state.db.transaction(write=True) as session:
        yield session


# The request owns the transaction: it commits after the endpoint returns and before the
# response is sent (scope="function"), so a failed commit is never answered with 2xx.
ReadSessionDep = Annotated[AsyncSession, Depends(_read_session, scope="function")]
WriteSessionDep = Annotated[AsyncSession, Depends(_write_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="The API key, as an alternative header."
)


async def authenticate(
    state: StateDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header_key: Annotated[str | None, Security(_api_key_header)],
) -> Principal:
    """The caller, from ``Authorization: Bearer <key>`` or ``X-API-Key``."""
    raw = bearer.credentials if bearer is not None else header_key
    if not raw:
        raise Unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
    if len(raw) > 512:
        raise Unauthorized("the API key is not valid")
    return await state.keys.principal(raw)


def require(scope: Scope) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits only keys whose scopes grant ``scope``."""

    async def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.allows(scope):
            raise Forbidden(f"this API key lacks the '{scope}' scope")
        return principal

    dependency.__name__ = f"require_{scope}"
    return dependency


IngestPrincipal = Annotated[Principal, Depends(require("ingest"))]
ReadPrincipal = Annotated[Principal, Depends(require("read"))]
AdminPrincipal = Annotated[Principal, Depends(require("admin"))]
