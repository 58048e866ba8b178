"""FastAPI dependencies shared by the services, declared once as ``Annotated`` aliases."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Annotated, Any, Final, Literal, TypeVar

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import Headers

from paceline.shared import metrics
from paceline.shared.auth import ROLES, Principal, Scope, hash_key
from paceline.shared.clock import Clock
from paceline.shared.crypto import SecretBox
from paceline.shared.db import audit
from paceline.shared.db import sessions as session_repo
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db import users as users_repo
from paceline.shared.db.session import Database
from paceline.shared.errors import Forbidden, RateLimited, Unauthorized
from paceline.shared.eventlog import EventLog
from paceline.shared.i18n import L10n, Msg, locale_of, msg
from paceline.shared.settings import Settings
from paceline.shared.web import sessions as signin
from paceline.shared.web.ratelimit import RateLimiter

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

# What the audit log stores in place of a secret; services show secrets the same way.
REDACTED: Final = audit.REDACTED

KEY_CACHE_TTL_S = 5.0
_TOUCH_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class _Cached:
    principal: Principal | None
    expires_at: datetime | None  # the key's own expiry, checked on every use
    until: float  # monotonic time the entry is good for


async def _with_locale(session: AsyncSession, principal: Principal | None) -> Principal | None:
    """The principal with its tenant's locale (what people of the tenant read)."""
    if principal is None:
        return None
    tenant = await tenant_repo.get_tenant(session, tenant_id=principal.tenant_id)
    return principal if tenant is None else replace(principal, locale=tenant.locale)


class KeyStore:
    """Resolves API keys to principals, with a short cache.

    A key revoked or rotated in another process stops working within
    ``KEY_CACHE_TTL_S`` (5 s); in this process at once (:meth:`revoked`). Expiry is
    checked against the clock on every use, cached or not. Each use also takes a token
    from the key's rate-limit bucket.
    """

    def __init__(self, db: Database, clock: Clock, *, limiter: RateLimiter | None = None) -> None:
        self.db = db
        self.clock = clock
        self.limiter = limiter
        self._cache: dict[str, _Cached] = {}
        self._denied: dict[str, float] = {}  # key id -> monotonic time until denied here
        self._touched: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def principal(self, plaintext: str) -> Principal:
        """The principal behind a key; Unauthorized if unknown, expired or revoked."""
        digest = hash_key(plaintext)
        found = await self._lookup(digest, self._load)
        if found is None:
            metrics.AUTH_FAILURES.labels(reason="invalid_key").inc()
            raise Unauthorized(msg("web.auth.key_invalid"))
        now_mono = time.monotonic()
        if now_mono - self._touched.get(found.key_id, 0.0) > _TOUCH_EVERY_S:
            self._touched[found.key_id] = now_mono
            task = asyncio.create_task(self._touch(found.key_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return found

    async def session_principal(self, token: str) -> Principal:
        """The principal of a dashboard sign-in (the session cookie's token); Unauthorized
        if unknown, expired, signed out, or its user is deactivated (within the cache's
        ``KEY_CACHE_TTL_S`` in another process)."""
        digest = signin.token_hash(token)
        found = await self._lookup("s:" + digest, lambda _key: self._load_session(digest))
        if found is None:
            metrics.AUTH_FAILURES.labels(reason="invalid_session").inc()
            raise Unauthorized(msg("web.auth.session_invalid"))
        return found

    async def _lookup(
        self,
        cache_key: str,
        load: Callable[[str], Awaitable[tuple[Principal | None, datetime | None]]],
    ) -> Principal | None:
        """The cached principal of a key or sign-in (loaded when absent or stale), or None
        when it is unknown, expired at the clock's now, or denied in this process."""
        now_mono = time.monotonic()
        cached = self._cache.get(cache_key)
        if cached is None or cached.until <= now_mono:
            principal, expires_at = await load(cache_key)
            if len(self._cache) > 10_000:
                self._cache.clear()
            cached = _Cached(principal, expires_at, now_mono + KEY_CACHE_TTL_S)
            self._cache[cache_key] = cached
        found = cached.principal
        if (
            found is None
            or (cached.expires_at is not None and cached.expires_at <= self.clock.now())
            or self._denied.get(found.key_id, 0.0) > now_mono
        ):
            return None
        return found

    async def _load_session(self, digest: str) -> tuple[Principal | None, datetime | None]:
        async with self.db.transaction(write=False) as session:
            row = await session_repo.session_by_hash(session, token_hash=digest)
            if row is None or row.revoked_at is not None:
                return None, None
            user = await users_repo.get_user(session, tenant_id=row.tenant_id, user_id=row.user_id)
            principal = (
                None
                if user is None
                else await users_repo.principal_for_user(
                    session,
                    user=user,
                    key_id=signin.session_key_id(digest),
                    key_scopes=None,
                    today=users_repo.today_of(self.clock.now()),
                )
            )
            principal = await _with_locale(session, principal)
        return principal, row.expires_at

    def check_rate(self, principal: Principal) -> None:
        """Take a rate-limit token for the key; RateLimited (429) when none is left."""
        if self.limiter is None:
            return
        wait_s = self.limiter.acquire(principal.key_id)
        if wait_s is not None:
            metrics.RATE_LIMITED.inc()
            raise RateLimited(msg("web.auth.rate_limited", seconds=wait_s), retry_after_s=wait_s)

    async def _load(self, digest: str) -> tuple[Principal | None, datetime | None]:
        async with self.db.transaction(write=False) as session:
            row = await tenant_repo.find_key(session, key_hash=digest)
            if row is None or row.revoked_at is not None:
                return None, None
            if row.user_id is None:
                principal: Principal | None = Principal(
                    tenant_id=row.tenant_id, key_id=row.id, scopes=frozenset(row.scopes)
                )
            else:
                # A key that acts for a person: at most the person's rights, and none
                # once the user is deactivated or removed.
                user = await users_repo.get_user(
                    session, tenant_id=row.tenant_id, user_id=row.user_id
                )
                principal = (
                    None
                    if user is None
                    else await users_repo.principal_for_user(
                        session,
                        user=user,
                        key_id=row.id,
                        key_scopes=frozenset(row.scopes),
                        today=users_repo.today_of(self.clock.now()),
                    )
                )
            principal = await _with_locale(session, principal)
        return principal, row.expires_at

    async def _touch(self, key_id: str) -> None:
        try:
            async with self.db.transaction() as session:
                await tenant_repo.touch_key(session, key_id=key_id, now=self.clock.now())
        except Exception:  # last-used time is best effort; never fail a request for it
            log.debug("could not record key use", exc_info=True)

    def revoked(self, key_id: str) -> None:
        """Refuse a key in this process from now on (its revocation is being committed).

        Other processes see the revocation when their cache entry ends. The refusal here
        outlasts the cache, so a lookup that raced the commit cannot bring the key back.
        """
        now_mono = time.monotonic()
        if len(self._denied) > 10_000:
            self._denied = {k: t for k, t in self._denied.items() if t > now_mono}
        self._denied[key_id] = now_mono + 3 * KEY_CACHE_TTL_S
        self.changed(key_id)

    def changed(self, key_id: str) -> None:
        """Forget cached lookups of a key whose expiry or scopes changed."""
        for digest in [
            d for d, c in self._cache.items() if c.principal and c.principal.key_id == key_id
        ]:
            self._cache.pop(digest, None)

    def tenant_changed(self, tenant_id: str) -> None:
        """Forget cached lookups of a tenant's keys (its locale, read with the key, changed);
        other processes see it when their entries end (``KEY_CACHE_TTL_S``)."""
        for digest in [
            d for d, c in self._cache.items() if c.principal and c.principal.tenant_id == tenant_id
        ]:
            self._cache.pop(digest, None)

    def forget(self) -> None:
        """Drop every cached lookup."""
        self._cache.clear()

    async def close(self) -> None:
        """Let last-used writes in flight finish (at shutdown, before the database closes)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5.0)
        for task in self._tasks:
            task.cancel()


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


async def get_state(request: Request) -> AppState:  # async: no thread-pool hop
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


# -- the one way in ----------------------------------------------------------------------
#
# Every request that presents an API key passes the same three steps, in this order:
# :func:`principal_of_key` (a key is required, at most 512 characters, known, not expired
# or revoked: else 401), the key's rate-limit token (else 429 with Retry-After), then
# :func:`check_scope` (else 403 naming the scope). Routes declare it as a dependency
# (:func:`require`, :func:`require_any`); the two routes that read the key themselves
# (``POST /v1/events``, which skips dependency solving, and ``POST /v1/webhooks/{source}``,
# where a key is one of two ways to name the connector) call :func:`principal_of_request`,
# which is the same steps on the request's headers.


async def authenticate(
    request: Request,
    state: StateDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header_key: Annotated[str | None, Security(_api_key_header)],
) -> Principal:
    """The caller, from ``Authorization: Bearer <key>`` or ``X-API-Key``, else from the
    dashboard's sign-in cookie (:func:`principal_of_session`); a caller with a bounded
    reach (a manager, a rep) only on routes marked :func:`within_reach`."""
    raw = bearer.credentials if bearer is not None else header_key
    token = request.cookies.get(signin.SESSION_COOKIE)
    if not raw and token:
        principal = await principal_of_session(state, request, token)
    else:
        principal = await principal_of_key(state, raw)
    check_reach(principal, request)
    request.state.locale = locale_of(request.headers.get("accept-language"), principal.locale)
    return principal


async def principal_of_session(state: AppState, request: Request, token: str) -> Principal:
    """The signed-in user behind a session cookie: 401 if the sign-in is not valid, 429
    past the rate limit (a bucket per sign-in), 403 for an unsafe method (POST, PUT,
    PATCH, DELETE) without the matching ``X-CSRF-Token`` header and cookie."""
    if len(token) > 512:
        metrics.AUTH_FAILURES.labels(reason="invalid_session").inc()
        raise Unauthorized(msg("web.auth.session_invalid"))
    principal = await state.keys.session_principal(token)
    state.keys.check_rate(principal)
    if request.method not in signin.SAFE_METHODS and not signin.csrf_matches(
        token,
        request.headers.get(signin.CSRF_HEADER),
        request.cookies.get(signin.CSRF_COOKIE),
    ):
        metrics.AUTH_FAILURES.labels(reason="csrf").inc()
        raise Forbidden(
            msg(
                "web.auth.csrf_missing",
                method=request.method,
                header=signin.CSRF_HEADER,
                cookie=signin.CSRF_COOKIE,
            )
        )
    return principal


# Routes a caller with a bounded reach may use carry this attribute on their endpoint
# (:func:`within_reach`); every other route answers them 403 — default deny, so a route
# added without thought about teams never shows a manager another team's figures.
REACH_MARK = "paceline_reach"
ReachHow = Literal["scope", "filtered", "own", "catalog"]


def within_reach(how: ReachHow) -> Callable[[F], F]:
    """Mark a route as safe for callers with a bounded reach, saying why: ``scope`` (it
    reads one scope, checked where the scope is parsed), ``filtered`` (its service keeps
    only what :meth:`Principal.sees`), ``own`` (it is about the caller), ``catalog``
    (it holds no figures of anyone: KPI definitions, calendars)."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, REACH_MARK, how)
        return endpoint

    return mark


def role_name(role: str | None) -> Msg | str:
    """A role as people read it (经理, manager); an unknown one as its code."""
    return msg(f"users.role.{role}") if role in ROLES else str(role)


def either(scopes: tuple[str, ...] | list[str]) -> L10n:
    """Scope codes as alternatives: 'read' 或 'ingest' / 'read' or 'ingest'."""
    quoted = [repr(s) for s in scopes]
    return L10n(zh=" 或 ".join(quoted), en=" or ".join(quoted))


def check_reach(principal: Principal, request: Request) -> None:
    """403 for a caller with a bounded reach on a route not marked for it."""
    if principal.reach is None:
        return
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    if getattr(endpoint, REACH_MARK, None) is None:
        metrics.AUTH_FAILURES.labels(reason="out_of_reach").inc()
        raise Forbidden(msg("web.auth.out_of_reach", role=role_name(principal.role)))


async def principal_of_key(state: AppState, raw: str | None) -> Principal:
    """The principal behind a presented key, rate limit taken; 401 or 429 otherwise."""
    if not raw:
        raise Unauthorized(msg("web.auth.key_required"))
    if len(raw) > 512:
        metrics.AUTH_FAILURES.labels(reason="invalid_key").inc()
        raise Unauthorized(msg("web.auth.key_invalid"))
    principal = await state.keys.principal(raw)
    state.keys.check_rate(principal)
    return principal


def key_of_headers(headers: Headers) -> str | None:
    """The key a request presents, read exactly as the two security schemes read it."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "bearer" and credentials:
            return credentials
    return headers.get("x-api-key") or None


def check_scope(principal: Principal, scope: Scope, *alternatives: Scope) -> Principal:
    """The principal if its key grants ``scope`` or an alternative; 403 naming them otherwise."""
    scopes = (scope, *alternatives)
    if not any(principal.allows(s) for s in scopes):
        metrics.AUTH_FAILURES.labels(reason="missing_scope").inc()
        raise Forbidden(msg("web.auth.missing_scope", scopes=either(scopes)))
    return principal


async def principal_of_request(
    state: AppState, headers: Headers, scope: Scope, *alternatives: Scope
) -> Principal:
    """The caller of a route that reads its key itself: the checks :func:`require` makes."""
    principal = await principal_of_key(state, key_of_headers(headers))
    return check_scope(principal, scope, *alternatives)


# The attribute that marks a dependency as a scope check: the OpenAPI document shows it
# as ``x-required-scope`` and the route-rules test requires one on every non-public route.
SCOPE_MARK = "paceline_scope"
# Marks the acting dependency (:func:`require_acting`): the document says ``x-acts``.
ACTS_MARK = "paceline_acts"


def require(scope: Scope) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits only keys whose scopes grant ``scope``."""
    return require_any(scope)


def require_any(scope: Scope, *alternatives: Scope) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits keys whose scopes grant ``scope`` or an alternative."""
    scopes = (scope, *alternatives)

    async def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        return check_scope(principal, scope, *alternatives)

    dependency.__name__ = "require_" + "_or_".join(scopes)
    setattr(dependency, SCOPE_MARK, " or ".join(scopes))
    return dependency


def require_acting() -> Callable[..., Awaitable[Principal]]:
    """A dependency for acts (acknowledging, resolving): a person whose role acts (admin,
    manager, rep: :attr:`Principal.acts`), or a service key with the admin scope — so a
    read-only key (a BI tool, a viewer) reads but never acknowledges. Declared as the
    ``admin`` scope, which is what a service key needs."""

    async def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.acts:
            return principal
        metrics.AUTH_FAILURES.labels(reason="missing_scope").inc()
        raise Forbidden(msg("web.auth.not_acting"))

    dependency.__name__ = "require_acting"
    setattr(dependency, SCOPE_MARK, "admin")
    setattr(dependency, ACTS_MARK, True)
    return dependency


# -- the feed's ways to present the same key ---------------------------------------------
#
# BI tools that read an OData feed cannot always set a header of our choosing: Excel and
# Power BI offer Basic credentials (user name anything, password the key) and a "Web API"
# key sent as a query parameter they name (``OData.Feed(..., [ApiKeyName="api_key"])``).
# :func:`require_feed` accepts those besides the two headers and then takes the same steps
# (:func:`principal_of_key`, :func:`check_reach`, :func:`check_scope`). The access log
# redacts ``api_key`` (shared/web/middleware.py, ``SECRET_PARAMS``); feed links never
# repeat it.

FEED_KEY_PARAM: Final = "api_key"


class FeedUnauthorized(Unauthorized):
    """401 from a feed route: also asks for Basic credentials (BI tools then prompt)."""

    def headers(self) -> dict[str, str]:
        """``WWW-Authenticate`` for Basic (the key as the password)."""
        return {"WWW-Authenticate": 'Basic realm="Paceline", charset="UTF-8"'}


def key_of_feed_request(request: Request) -> str | None:
    """The key of a feed request: a header as on every route, else the password of Basic
    credentials, else the ``api_key`` query parameter."""
    key = key_of_headers(request.headers)
    if key:
        return key
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and credentials.strip():
        try:
            user, _, password = (
                base64.b64decode(credentials.strip(), validate=True).decode("utf-8").partition(":")
            )
        except (ValueError, UnicodeDecodeError):
            return None
        return password or user or None
    return request.query_params.get(FEED_KEY_PARAM) or None


def require_feed(scope: Scope) -> Callable[..., Awaitable[Principal]]:
    """A dependency for feed routes: the key from :func:`key_of_feed_request`, then the
    same checks as :func:`require` (401 asks for Basic credentials)."""

    async def dependency(request: Request, state: StateDep) -> Principal:
        try:
            principal = await principal_of_key(state, key_of_feed_request(request))
        except FeedUnauthorized:
            raise
        except Unauthorized as exc:
            raise FeedUnauthorized(exc.text or exc.message) from None
        check_reach(principal, request)  # feed routes are whole-tenant: bounded reach 403
        return check_scope(principal, scope)

    dependency.__name__ = f"require_feed_{scope}"
    setattr(dependency, SCOPE_MARK, scope)
    return dependency


IngestPrincipal = Annotated[Principal, Depends(require("ingest"))]
ActingPrincipal = Annotated[Principal, Depends(require_acting())]
ReadPrincipal = Annotated[Principal, Depends(require("read"))]
AdminPrincipal = Annotated[Principal, Depends(require("admin"))]
PlatformPrincipal = Annotated[Principal, Depends(require("platform"))]
# Key management: a tenant's admins for their keys, the operator for any tenant's.
KeyManagerPrincipal = Annotated[Principal, Depends(require_any("admin", "platform"))]


@dataclass(frozen=True, slots=True)
class Auditor:
    """Records admin actions in the audit log, in the caller's transaction.

        The one way entries are written (routes take it as :data:`AuditDep`; the command line
        builds one). ``actor`` is ``user:<id>`` for a person (a key acting for a user, or a
    sign-in), ``key:<id>`` for a service key and ``cli`` for the command line;
        entries go to ``tenant_id`` (the caller's tenant) unless an action names another one.
        ``session`` is the transaction entries join: the request's, or ``None`` for a caller
        outside a request whose service opens its own transactions and records through
        :meth:`bound` (imports, quarantine replays).
    """

    session: AsyncSession | None
    actor: str
    tenant_id: str
    request_id: str | None
    clock: Clock

    def bound(self, session: AsyncSession) -> Auditor:
        """The same auditor (actor, tenant, request id, clock) recording in ``session``."""
        return replace(self, session=session)

    async def record(
        self,
        action: str,
        *,
        target: str,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
    ) -> None:
        """Add an entry for ``action`` on ``target``."""
        if self.session is None:
            raise RuntimeError("the auditor has no transaction: record through bound(session)")
        await audit.record(
            self.session,
            tenant_id=tenant_id or self.tenant_id,
            actor=self.actor,
            action=action,
            target=target,
            before=before,
            after=after,
            at=self.clock.now(),
            request_id=self.request_id,
        )


async def _auditor(
    request: Request,
    state: StateDep,
    session: WriteSessionDep,
    principal: Annotated[Principal, Depends(authenticate)],
) -> Auditor:
    return Auditor(
        session=session,
        actor=principal.actor,
        tenant_id=principal.tenant_id,
        request_id=getattr(request.state, "request_id", None),
        clock=state.clock,
    )


AuditDep = Annotated[Auditor, Depends(_auditor)]
