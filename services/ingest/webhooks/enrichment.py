"""Enrichment: reading a CRM record through the vendor's API when a webhook lacks fields.

Many CRMs send ids and only what changed (a HubSpot property change, a Zoho notification,
a Salesforce CDC update). When a record of a mapped object lacks a field its mapping reads
(owner, amount, stage...), the adapter asks the vendor's API for the whole record, with
the connector's credential, and folds the answer into the record (:func:`enrich`).

One shared path for every vendor (:class:`VendorApi` says only how to ask and how to read
the answer):

- **Credentials**: the connector's secret (``access_token``, ``api_token``...), or an
  OAuth grant (:class:`TokenGrant`: Zoho's refresh token, Salesforce's client
  credentials) whose access tokens are kept in memory and renewed once on a 401. Without
  any, nothing is fetched and a :class:`Hint` ``credential_missing`` names the secret that
  would fix the item; a refused credential (401, or 403 other than a limit) gives
  ``credential_rejected``. Secrets are never logged nor put in a reason.
- **The guarded client**: every call goes through ``ctx.http``, the one outbound client
  (shared/outbound.py): the API base URL is the tenant's choice.
- **A per-record cache** (:class:`RecordCache`, one per app state in ``ctx.cache``,
  bounded, entries kept 10 min by the injected clock): a record fetched in a state at
  least as new as the event being read is not fetched again, so a batch of 5 property
  changes of one deal costs one call and a replay of an old event costs none.
- **Rate limits**: 429 (and the vendors' own limit answers: Zoho ``TOO_MANY_REQUESTS``,
  Salesforce ``REQUEST_LIMIT_EXCEEDED``) with ``Retry-After`` (seconds or an HTTP date;
  else the vendor's reset header; else 1 s) are waited out when the wait is at most
  ``MAX_WAIT_S`` and the request's total wait stays within ``WAIT_BUDGET_S``; longer
  waits give up at once (the item waits in the quarantine and is replayed later) and the
  connector is left alone until the vendor's reset time.
- **Errors**: unreachable, refused by the outbound guard, another status or an unreadable
  body: a note from the catalog (``webhooks.note.*``) — the item ends in the quarantine as
  ``enrichment_failed`` with that reason, or maps anyway when the webhook had enough.

Other adapters (the generic connector's presets) can use it: implement
:class:`VendorApi` and call :func:`enrich` from ``Adapter.records``.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

import httpx

from paceline.ingest.webhooks.base import AdapterContext, Connector, Hint
from paceline.ingest.webhooks.mapping import FieldSpec, ObjectMapping
from paceline.ingest.webhooks.vendor_records import VendorRecord, parse_time, us_of
from paceline.shared.i18n import Msg, msg

log = logging.getLogger(__name__)

API_TIMEOUT: Final = httpx.Timeout(10.0, connect=3.0)
MAX_WAIT_S: Final = 10.0  # the longest single Retry-After waited out
WAIT_BUDGET_S: Final = 20.0  # the most one request waits for rate limits in all
MAX_ATTEMPTS: Final = 3
CACHE_SIZE: Final = 5000
CACHE_TTL_S: Final = 600.0
DEFAULT_TOKEN_TTL_S: Final = 900.0  # a granted token without expires_in (Salesforce)


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One GET to a vendor API."""

    url: str
    headers: Mapping[str, str]
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Fetched:
    """A record as the vendor's API returned it."""

    fields: Mapping[str, Any]
    updated_us: int | None
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """How to get an access token (OAuth refresh-token or client-credentials grant):
    a form POSTed to ``url``; ``credential`` is the secret named when it is refused."""

    url: str
    form: Mapping[str, str]
    credential: str

    def fingerprint(self) -> str:
        """A digest of the grant (the cache key: a changed secret asks anew)."""
        digest = hashlib.sha256(self.url.encode())
        for name, value in sorted(self.form.items()):
            digest.update(f"\0{name}\0{value}".encode())
        return digest.hexdigest()


class VendorApi(Protocol):
    """What enrichment needs to know of one vendor's records API."""

    title: str  # "Zoho CRM"
    credential: str  # the connector secret that enables it

    def request(
        self, record: VendorRecord, conn: Connector, objmap: ObjectMapping, token: str
    ) -> ApiRequest | None:
        """The GET that reads ``record`` (None: this object cannot be fetched)."""
        ...

    def parse(self, body: Any, record: VendorRecord) -> Fetched | None:
        """The record in a 200 answer (None: the answer holds no record)."""
        ...

    def reset_after(self, headers: httpx.Headers) -> float | None:
        """Seconds until the limit resets, from the vendor's own headers (no Retry-After)."""
        ...

    def rate_limited(self, status: int, body: Any) -> bool:
        """Whether a non-429 answer is a rate limit (Zoho, Salesforce say so in the body)."""
        ...

    def token_grant(self, conn: Connector) -> TokenGrant | None:
        """How to get access tokens when the connector has OAuth client credentials
        (None: the static ``credential`` secret is used)."""
        ...


# -- which fields a mapping reads ------------------------------------------------------------


def _paths(spec: Any) -> list[str]:
    if isinstance(spec, FieldSpec):
        # A constant (``const``) has no path.
        return [spec.path] if isinstance(spec.path, str) else list(spec.path or [])
    return [spec] if isinstance(spec, str) else list(spec)


def fields_read(objmap: ObjectMapping) -> list[str]:
    """Every vendor field (first path segment) a mapping reads: what to ask the API for."""
    paths: list[str] = []
    for spec in objmap.fields.values():
        paths += _paths(spec)
        if isinstance(spec, FieldSpec):
            paths += list((spec.when or {}).keys())
    paths += list(objmap.skip_when) + list(objmap.deleted_when) + list(objmap.attributes.values())
    return sorted({p.split(".")[0] for p in paths if not p.startswith("$")})


def lacks_fields(record: VendorRecord, objmap: ObjectMapping) -> bool:
    """Whether the record lacks a field the mapping maps (any alternative counts)."""
    for spec in objmap.fields.values():
        names = [p.split(".")[0] for p in _paths(spec) if not p.startswith("$")]
        if names and not any(name in record.fields for name in names):
            return True
    return False


def wants_enrichment(record: VendorRecord, conn: Connector) -> ObjectMapping | None:
    """The record's object mapping when the record should be read through the API."""
    objmap = conn.mapping.objects.get(record.object_type)
    if (
        objmap is None
        or objmap.type == "ignore"
        or record.object_type in conn.mapping.ignore_objects
    ):
        return None
    if record.deleted is True or record.canonical is not None:
        return None
    return objmap if lacks_fields(record, objmap) else None


# -- cache and limits, per process -----------------------------------------------------------


class RecordCache:
    """Records read through vendor APIs, per connector and record (bounded, LRU), and
    until when each connector is rate limited."""

    def __init__(self, size: int = CACHE_SIZE, ttl_s: float = CACHE_TTL_S) -> None:
        self.size = size
        self.ttl_s = ttl_s
        self._records: OrderedDict[tuple[str, ...], tuple[Fetched, datetime]] = OrderedDict()
        self.blocked_until: dict[tuple[str, str], datetime] = {}
        self.tokens: dict[tuple[str, str, str], tuple[str, datetime]] = {}
        self.fetches = 0  # calls made (for metrics and tests)

    def get(self, key: tuple[str, ...], *, at_us: int, now: datetime) -> Fetched | None:
        """A cached read of the record as new as ``at_us`` or newer, fresh enough."""
        hit = self._records.get(key)
        if hit is None:
            return None
        fetched, stored_at = hit
        if (now - stored_at).total_seconds() > self.ttl_s:
            del self._records[key]
            return None
        if fetched.updated_us is None or fetched.updated_us < at_us:
            return None
        self._records.move_to_end(key)
        return fetched

    def put(self, key: tuple[str, ...], fetched: Fetched, *, now: datetime) -> None:
        """Keep a read (the oldest go first past the size)."""
        self._records[key] = (fetched, now)
        self._records.move_to_end(key)
        while len(self._records) > self.size:
            self._records.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (tests)."""
        self._records.clear()
        self.blocked_until.clear()
        self.tokens.clear()


def _retry_after(headers: httpx.Headers, api: VendorApi, now: datetime) -> float:
    """Seconds to wait: Retry-After (seconds or HTTP date), else the vendor's reset, else 1."""
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max((when - now).total_seconds(), 0.0)
    reset = api.reset_after(headers)
    return reset if reset is not None else 1.0


@dataclass(slots=True)
class _Budget:
    waited_s: float = 0.0


Sleep = Callable[[float], Awaitable[None]]


async def enrich(
    record: VendorRecord,
    conn: Connector,
    ctx: AdapterContext,
    api: VendorApi,
    *,
    sleep: Sleep | None = None,
) -> VendorRecord:
    """``record`` with the vendor's current fields folded in, when it lacks mapped fields.

    Never raises for API trouble: the record comes back as it was, with a note (and a
    hint when a credential would fix it) on ``ctx``.
    """
    objmap = wants_enrichment(record, conn)
    if objmap is None:
        return record
    cache = ctx.cache if isinstance(ctx.cache, RecordCache) else RecordCache()
    grant = api.token_grant(conn)
    if grant is None and conn.secret(api.credential) is None:
        ctx.hints.append(
            Hint("credential_missing", {"vendor": api.title, "credential": api.credential})
        )
        return record
    if ctx.http is None or api.request(record, conn, objmap, "-") is None:
        return record
    key = (conn.tenant_id, conn.source, record.object_type, record.record_id)
    cached = cache.get(key, at_us=record.at_us, now=ctx.now)
    if cached is not None:
        return merge(record, cached)
    session = _Session(conn, ctx, api, grant, cache)
    fetched = await session.fetch(record, objmap, sleep or asyncio.sleep)
    if fetched is None:
        return record
    cache.put(key, fetched, now=ctx.now)
    return merge(record, fetched)


def merge(record: VendorRecord, fetched: Fetched) -> VendorRecord:
    """The record with the API's fields: the newer of the two wins field by field."""
    fields = {**fetched.fields, **record.fields}
    at_us = record.at_us
    if fetched.updated_us is not None and fetched.updated_us >= record.at_us:
        fields = {**record.fields, **fetched.fields}
        at_us = fetched.updated_us
    return VendorRecord(
        record.object_type,
        record.record_id,
        record.event_id,
        at_us,
        fields=fields,
        deleted=True if fetched.deleted else record.deleted,
        partial=False,
        after_ties=record.after_ties,
    )


def _note(ctx: AdapterContext, code: str, **params: str | Msg) -> None:
    ctx.notes.append(Msg(f"webhooks.note.{code}", params))


@dataclass(slots=True)
class _Session:
    """One record read: the credential (static, or an access token from a grant), the
    rate-limit waits and the error notes."""

    conn: Connector
    ctx: AdapterContext
    api: VendorApi
    grant: TokenGrant | None
    cache: RecordCache

    async def fetch(
        self, record: VendorRecord, objmap: ObjectMapping, sleep: Sleep
    ) -> Fetched | None:
        ctx, api = self.ctx, self.api
        assert ctx.http is not None
        budget = ctx.extras.setdefault("enrichment_budget", _Budget())
        assert isinstance(budget, _Budget)
        who = (self.conn.tenant_id, self.conn.source)
        rid = record.record_id
        token = await self._token(refresh=False)
        refreshed = False
        for _attempt in range(MAX_ATTEMPTS):
            if token is None:
                return None
            request = api.request(record, self.conn, objmap, token)
            if request is None:
                return None
            blocked = self.cache.blocked_until.get(who)
            if blocked is not None and blocked > ctx.now:
                wait = (blocked - ctx.now).total_seconds()
                if wait > MAX_WAIT_S or budget.waited_s + wait > WAIT_BUDGET_S:
                    _note(
                        ctx, "api_rate_limited", vendor=api.title, record=rid, seconds=f"{wait:g}"
                    )
                    return None
            resp = await self._get(request, rid)
            if resp is None:
                return None
            body = _json(resp)
            if resp.status_code == 429 or (
                resp.status_code != 200 and api.rate_limited(resp.status_code, body)
            ):
                wait = _retry_after(resp.headers, api, ctx.now)
                if wait > MAX_WAIT_S or budget.waited_s + wait > WAIT_BUDGET_S:
                    self.cache.blocked_until[who] = ctx.now + timedelta(seconds=wait)
                    _note(
                        ctx, "api_rate_limited", vendor=api.title, record=rid, seconds=f"{wait:g}"
                    )
                    return None
                budget.waited_s += wait
                await sleep(wait)
                continue
            if resp.status_code == 401 and self.grant is not None and not refreshed:
                # An access token from a grant expired or was revoked: ask for a new one once.
                refreshed = True
                token = await self._token(refresh=True)
                continue
            if resp.status_code in (401, 403):
                self._rejected(str(resp.status_code), rid)
                return None
            if resp.status_code != 200:
                _note(ctx, "api_status", vendor=api.title, status=str(resp.status_code), record=rid)
                return None
            try:
                fetched = api.parse(body, record)
            except (ValueError, AttributeError, TypeError, KeyError):
                fetched = None
            if fetched is None:
                _note(ctx, "api_unreadable", vendor=api.title, record=rid)
            return fetched
        _note(ctx, "api_rate_limited", vendor=api.title, record=rid, seconds="?")
        return None

    def _rejected(self, status: str, rid: str) -> None:
        credential = self.grant.credential if self.grant is not None else self.api.credential
        self.ctx.hints.append(
            Hint(
                "credential_rejected",
                {"vendor": self.api.title, "credential": credential, "status": status},
            )
        )
        _note(
            self.ctx,
            "api_refused",
            vendor=self.api.title,
            record=rid,
            status=status,
            credential=credential,
        )

    async def _get(self, request: ApiRequest, rid: str) -> httpx.Response | None:
        assert self.ctx.http is not None
        try:
            self.cache.fetches += 1
            return await self.ctx.http.get(
                request.url,
                params=dict(request.params),
                headers=dict(request.headers),
                timeout=API_TIMEOUT,
            )
        except httpx.HTTPError as exc:
            self._unreachable(exc, rid)
            return None

    def _unreachable(self, exc: httpx.HTTPError, rid: str) -> None:
        refused = "not a public address" in str(exc)  # the outbound guard (SSRF)
        why: str | Msg = msg("webhooks.note.not_public") if refused else type(exc).__name__
        _note(self.ctx, "api_unreachable", vendor=self.api.title, record=rid, why=why)
        log.warning("%s enrichment failed: %s", self.api.title, type(exc).__name__)

    async def _token(self, *, refresh: bool) -> str | None:
        """The static credential, or a cached (or new) access token from the grant."""
        if self.grant is None:
            return self.conn.secret(self.api.credential)
        key = (self.conn.tenant_id, self.conn.source, self.grant.fingerprint())
        known = self.cache.tokens.get(key)
        if known is not None and not refresh and known[1] > self.ctx.now:
            return known[0]
        assert self.ctx.http is not None
        try:
            self.cache.fetches += 1
            resp = await self.ctx.http.post(
                self.grant.url, data=dict(self.grant.form), timeout=API_TIMEOUT
            )
        except httpx.HTTPError as exc:
            self._unreachable(exc, "token")
            return None
        body = _json(resp)
        token = body.get("access_token") if isinstance(body, dict) else None
        if resp.status_code != 200 or not isinstance(token, str) or not token:
            # Zoho answers a bad refresh token with 200 and {"error": "invalid_code"}.
            self._rejected(str(resp.status_code), "token")
            self.cache.tokens.pop(key, None)
            return None
        expires = body.get("expires_in") if isinstance(body, dict) else None
        seconds = float(expires) if isinstance(expires, int | float) else DEFAULT_TOKEN_TTL_S
        # Renewed a minute early; never trusted for longer than an hour.
        ttl = min(max(seconds - 60, 0.0), 3600.0)
        self.cache.tokens[key] = (token, self.ctx.now + timedelta(seconds=ttl))
        return token


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json() if resp.content else None
    except ValueError:
        return None


def updated_us_of(value: Any) -> int | None:
    """Microseconds of a vendor time, or None."""
    try:
        at = parse_time(value)
    except ValueError:
        return None
    return us_of(at) if at is not None else None
