"""The delivery dispatcher: a loop in the scoring process that sends what was committed.

Each step, in this order (each database step its own transaction; nothing is sent
before the transaction that made it committed):

1. **fan out**: alert events (the outbox written with every alert change) become one
   persisted delivery per matching subscription (unique per subscription and event);
2. **publish**: alert events go to the alerts topic (Kafka ``paceline.alerts``, or the
   embedded log's topic of that name), then are marked published (at least once:
   consumers de-duplicate by ``event_id``);
2b. **group**: for grouped subscriptions (the chat-bot formats; optional for standard)
   an alert change is persisted ``held``; a step turns the due groups into one message
   each (:mod:`.grouping`: Alertmanager-style timers, quiet hours, inhibition, the
   vendor's rate limit), marks the changes it carries ``folded`` into it, and leaves
   the rest held for a later message: nothing is dropped, a change left out is
   ``suppressed`` with its reason (a repeat, or covered by a team's alert);
3. **send**: due deliveries are leased (``lease_until``, so a crashed dispatcher's
   claims expire and another picks them up), no more per subscription than its
   destination's published limits allow (counted from the attempts logged and those in
   flight), sent with a timeout, and the attempt is recorded with its outcome.

Retries: exponential backoff with jitter (``base * 2^(n-1)``, capped, times a random
factor in [0.5, 1]); a ``Retry-After`` header (seconds or HTTP date) replaces the computed
delay; a delivery is dead-lettered only after an attempt fails at least
``retry_window`` (24 hours or more) after it was created. ``410 Gone`` dead-letters at
once and disables the subscription, and so does a URL that can never be sent (one
stored before URLs were checked strictly); an attempt that fails in an unexpected way is
recorded as a failed attempt, never failing the step for the other deliveries. A
subscription with no success for the whole retry window when one of its deliveries dies
is disabled too; each raises a ``system`` alert.
Deliveries live in the database: a restart (or SIGKILL) loses none; a delivery in flight
during a crash is sent again after its lease ends, with the same ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import math
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.scoring.delivery import repository as repo
from paceline.scoring.delivery.formats import accepted, render, throttled_for
from paceline.scoring.delivery.grouping import (
    Change,
    Source,
    WorkingHours,
    group_payload,
    mention_for,
    plan,
    source_of,
)
from paceline.shared import metrics
from paceline.shared.alert_options import alert_options
from paceline.shared.clock import Clock, SystemClock
from paceline.shared.crypto import SecretBox
from paceline.shared.db import lifecycle
from paceline.shared.db.context import tenant_calendar
from paceline.shared.db.models_alerts import Delivery, Subscription
from paceline.shared.db.session import Database
from paceline.shared.delivery_options import BOT_FORMATS, VENDOR_LIMITS, delivery_options
from paceline.shared.eventlog import EventLog, LogRecord
from paceline.shared.i18n import Code, Msg, msg
from paceline.shared.i18n import render as render_text
from paceline.shared.outbound import outbound_client, url_problem
from paceline.shared.readmodel.org import team_parents

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff and the dead-letter window."""

    base_s: float = 5.0
    cap_s: float = 3600.0
    window_s: float = 26 * 3600.0

    def delay(self, attempts: int, retry_after_s: float | None, rng: random.Random) -> float:
        """Seconds until the next attempt after ``attempts`` failures."""
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.window_s)
        raw = min(self.cap_s, self.base_s * float(2 ** max(0, attempts - 1)))
        return raw * rng.uniform(0.5, 1.0)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²".isdigit() holds too
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True, slots=True)
class Outcome:
    """What came back from one attempt."""

    status_code: int | None
    error: str | None
    response: str | None
    retry_after_s: float | None
    delivered: bool
    duration_ms: int
    # The request can never be sent (a URL that is not valid): dead-letter at once and
    # disable the subscription, rather than retry for the whole window.
    permanent: bool = False


class Dispatcher:
    """Fans out, publishes and sends alert deliveries (see the module docstring)."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        box: SecretBox,
        publisher: EventLog | None = None,
        policy: RetryPolicy | None = None,
        timeout_s: float = 10.0,
        concurrency: int = 8,
        poll_s: float = 1.0,
        wall_clock: Clock | None = None,
        seed: int | None = None,
        allow_private: bool = True,
    ) -> None:
        self.db = db
        self.clock = clock
        # webhook-timestamp is checked by the receiver against its own clock (±5 min
        # in the standardwebhooks library): it is always the real time of the attempt.
        self.wall = wall_clock or SystemClock()
        self.box = box
        self.publisher = publisher
        self.policy = policy or RetryPolicy()
        self.timeout_s = timeout_s
        self.allow_private = allow_private
        self.concurrency = concurrency
        self.poll_s = poll_s
        self.rng = random.Random(seed)  # noqa: S311  # jitter, not a secret
        self._client: httpx.AsyncClient | None = None
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> Dispatcher:
        self._client = outbound_client(
            timeout=httpx.Timeout(self.timeout_s), allow_private=self.allow_private
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def wake(self) -> None:
        """Run a step soon (new alerts were committed)."""
        self._wake.set()

    def stop(self) -> None:
        """Finish after the current step."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Step until stopped; errors are logged and retried on the next step."""
        if self._client is None:
            await self.__aenter__()
        try:
            while not self._stopping.is_set():
                # Cleared before the step: a wake() or stop() during the step is kept, and
                # the wait below returns at once (cleared after it, they waited poll_s).
                self._wake.clear()
                try:
                    await self.step()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("delivery: step failed; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_s)
        finally:
            await self.close()

    async def step(self) -> int:
        """Fan out, publish, send what is due; how many attempts were made."""
        async with self._lock:
            while True:
                async with self.db.transaction() as session:
                    fanned = await repo.fan_out(session, now=self.clock.now())
                if fanned == 0:
                    break
            await self._group()
            if self.publisher is not None:
                await self._publish()
            sent = 0
            while True:
                n = await self._send_due()
                sent += n
                if n == 0:
                    return sent

    async def _group(self) -> None:
        """Turn held alert changes of grouped subscriptions into group messages."""
        now = self.clock.now()
        async with self.db.transaction(write=False) as session:
            sub_ids = await repo.grouping_due(session, now=now)
        for sub_id in sub_ids:
            async with self.db.transaction() as session:
                await self._group_one(session, sub_id, now)

    async def _group_one(self, session: AsyncSession, sub_id: int, now: datetime) -> None:
        sub = await repo.get_subscription(session, subscription_id=sub_id, lock=True)
        if sub is None or not sub.enabled:
            return
        opts = delivery_options(sub.format, sub.delivery_options)
        rows = await repo.held(session, subscription_id=sub.id)
        if not rows:
            return
        tenant = await repo.get_tenant(session, tenant_id=sub.tenant_id)
        assert tenant is not None
        hours: WorkingHours | None = None
        if opts.quiet_hours:
            ao = alert_options(tenant)
            hours = WorkingHours(
                tz=ZoneInfo(tenant.timezone),
                calendar=await tenant_calendar(session, tenant=tenant),
                start_hour=ao.work_start_hour,
                end_hour=ao.work_end_hour,
            )
        changes = [
            Change(
                id=d.id,
                alert_key=d.alert_key or d.source_key,
                group_key=d.group_key or "*",
                action=d.event_type.removeprefix("alert."),
                created_at=d.created_at,
                alert=d.payload.get("data", {}).get("alert", {}),
            )
            for d in rows
        ]
        sources: list[Source] = []
        sole_root: str | None = None
        parents = await team_parents(session, tenant_id=tenant.id)
        if opts.inhibit:
            for a in await repo.open_lag_alerts(session, tenant_id=tenant.id):
                src = source_of(
                    {
                        "kind": a.kind,
                        "scope": a.scope,
                        "status": a.status,
                        "severity": a.severity,
                        "dedup_key": a.dedup_key,
                        "detail": a.detail,
                    }
                )
                if src is not None:
                    sources.append(src)
            roots = [t for t, p in parents.items() if p is None]
            sole_root = roots[0] if len(roots) == 1 else None
        since = now - timedelta(seconds=max(opts.group_interval_s, opts.repeat_interval_s))
        vendor = VENDOR_LIMITS.get(sub.format)
        room = await repo.send_budget(session, sub=sub, now=now) - await repo.pending_count(
            session, subscription_id=sub.id
        )
        if vendor is None:
            room = 1_000_000
        p = plan(
            changes,
            options=opts,
            now=now,
            last_message_at=await repo.last_group_messages(
                session, subscription_id=sub.id, since=since
            ),
            last_shown=await repo.last_shown(
                session,
                subscription_id=sub.id,
                alert_keys=sorted({c.alert_key for c in changes}),
                since=now - timedelta(seconds=opts.repeat_interval_s),
            ),
            sources=sources,
            sole_root=sole_root,
            hours=hours,
            room=room,
        )
        payloads = {d.id: d.payload for d in rows}
        by_id = {c.id: c for c in changes}
        bot = sub.format in BOT_FORMATS
        names = await repo.scope_names(session, tenant_id=tenant.id, changes=changes) if bot else {}
        folded: dict[int, int] = {}
        for index, members in enumerate(p.messages):
            covered: dict[str, list[Change]] = {}
            extra: list[int] = []
            for change_id, (message_index, key) in p.attached.items():
                if message_index == index:
                    covered.setdefault(key, []).append(by_id[change_id])
                    extra.append(change_id)
            keys = {c.group_key for c in members}
            key = next(iter(keys)) if len(keys) == 1 else "*"
            payload = group_payload(
                tenant_id=tenant.id,
                locale=tenant.locale,
                key=key,
                members=members,
                covered=covered,
                payloads=payloads,
                now=now,
            )
            if bot:
                group = payload["data"]["group"]
                group["names"] = names
                who = mention_for(
                    [*members, *(c for cs in covered.values() for c in cs)], opts, parents
                )
                if who:
                    group["mention"] = who
            message_id = await repo.enqueue(
                session,
                subscription=sub,
                source_key=f"group:{members[0].id}",
                event_type="alert.group",
                payload=payload,
                now=now,
            )
            assert message_id is not None
            for c in members:
                folded[c.id] = message_id
            for change_id in extra:
                folded[change_id] = message_id
        rest = [c.id for c in changes if c.id not in folded and c.id not in p.suppressed]
        await repo.settle(
            session,
            folded=folded,
            suppressed=p.suppressed,
            look_again=rest,
            next_look=p.next_due or now + timedelta(minutes=1),
        )
        metrics.ALERT_GROUP_MESSAGES.inc(len(p.messages))

    async def _publish(self) -> None:
        assert self.publisher is not None
        while True:
            async with self.db.transaction(write=False) as session:
                events = await repo.unpublished(session)
            if not events:
                return
            records = [
                LogRecord(
                    key=f"{e.tenant_id}|{e.snapshot.get('dedup_key', e.alert_id)}".encode(),
                    value=orjson.dumps(
                        {
                            "event_id": e.id,
                            "tenant": e.tenant_id,
                            "action": e.action,
                            "at": e.at.isoformat(),
                            "actor": e.actor,
                            "alert": e.snapshot,
                        }
                    ),
                )
                for e in events
            ]
            try:
                await self.publisher.append(records)
            except Exception:  # the log is down: publish later, deliveries go on
                log.warning("delivery: could not publish alerts to the log; will retry")
                return
            async with self.db.transaction() as session:
                await repo.mark_published(session, ids=[e.id for e in events], now=self.clock.now())

    async def _send_due(self) -> int:
        now = self.clock.now()
        limit = self.concurrency * 4
        # The lease outlasts the whole claim: its last delivery may wait for the others
        # (``concurrency`` at a time, each up to ``timeout_s``) before its own attempt.
        lease_s = self.timeout_s * math.ceil(limit / self.concurrency) + 60
        async with self.db.transaction() as session:
            claimed = await repo.claim_due(
                session,
                now=now,
                lease_until=now + timedelta(seconds=lease_s),
                limit=limit,
            )
        if not claimed:
            return 0
        sem = asyncio.Semaphore(self.concurrency)

        async def one(delivery: Delivery, sub: Subscription) -> None:
            async with sem:
                try:
                    outcome = await self._attempt(delivery, sub)
                except Exception as exc:  # one delivery must never fail the whole step
                    log.exception("delivery %s: the attempt failed unexpectedly", delivery.id)
                    error = f"the attempt failed: {type(exc).__name__}: {exc}"[:1000]
                    outcome = Outcome(None, error, None, None, False, 0)
                await self._record(delivery.id, outcome)

        await asyncio.gather(*(one(d, s) for d, s in claimed))
        return len(claimed)

    async def _attempt(self, delivery: Delivery, sub: Subscription) -> Outcome:
        assert self._client is not None
        try:
            url = self.box.decrypt(sub.url_enc)
            secret = self.box.decrypt(sub.secret_enc) if sub.secret_enc else None
            at = self.wall.now()
            previous = None
            # The overlap is judged on the injected clock, the one the rotation was made on.
            until = sub.previous_secret_until
            if sub.previous_secret_enc and until is not None and self.clock.now() < until:
                previous = self.box.decrypt(sub.previous_secret_enc)
            req = render(
                fmt=sub.format,
                url=url,
                secret=secret,
                message_id=delivery.message_id,
                payload=delivery.payload,
                at=at,
                previous_secret=previous,
                options=delivery_options(sub.format, sub.delivery_options),
            )
        except Exception as exc:  # a key rotated away, a bad URL: a failed attempt
            return Outcome(None, f"cannot prepare the request: {exc}", None, None, False, 0)
        problem = url_problem(req.url)
        if problem is not None:  # stored before URLs were checked strictly on save
            invalid = f"the subscription's URL is not valid ({problem})"
            return Outcome(None, invalid, None, None, False, 0, permanent=True)
        started = time.perf_counter()
        try:
            # A deadline for the whole attempt: httpx's timeouts are per phase and per
            # chunk read, so an endpoint dripping its answer would hold the step forever.
            async with asyncio.timeout(self.timeout_s):
                resp = await self._client.post(req.url, content=req.body, headers=req.headers)
        except TimeoutError:
            ms = int((time.perf_counter() - started) * 1000)
            late = f"no complete answer within {self.timeout_s:g} s"
            return Outcome(None, late, None, None, False, ms)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            ms = int((time.perf_counter() - started) * 1000)
            permanent = isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol)
            failure = f"{type(exc).__name__}: {exc}"[:1000]
            return Outcome(None, failure, None, None, False, ms, permanent=permanent)
        ms = int((time.perf_counter() - started) * 1000)
        text = resp.text[:1000]
        ok, error = accepted(sub.format, resp.status_code, text)
        retry_after = parse_retry_after(resp.headers.get("retry-after"), self.wall.now())
        if retry_after is None and not ok:
            retry_after = throttled_for(sub.format, resp.status_code, text)
        return Outcome(resp.status_code, error, text, retry_after, ok, ms)

    async def _record(self, delivery_id: int, outcome: Outcome) -> None:
        now = self.clock.now()
        async with self.db.transaction() as session:
            delivery = await repo.get_delivery(session, delivery_id=delivery_id, lock=True)
            if delivery is None or delivery.status != "pending":
                return
            sub = await repo.get_subscription(
                session, subscription_id=delivery.subscription_id, lock=True
            )
            assert sub is not None
            delivery.attempts += 1
            delivery.lease_until = None
            delivery.last_status_code = outcome.status_code
            delivery.last_error = outcome.error
            next_at: datetime | None = None
            if outcome.delivered:
                result = "delivered"
                delivery.status = "delivered"
                delivery.delivered_at = now
                delivery.next_attempt_at = None
                sub.failing_since = None
                sub.consecutive_dead = 0
            elif outcome.status_code == 410:
                result = "gone"
                delivery.status = "dead"
                delivery.dead_at = now
                delivery.next_attempt_at = None
                await self._disable(session, sub, msg("delivery.disabled.gone"), now)
            elif outcome.permanent:
                result = "dead"
                delivery.status = "dead"
                delivery.dead_at = now
                delivery.next_attempt_at = None
                sub.consecutive_dead += 1
                await self._disable(
                    session,
                    sub,
                    msg("delivery.disabled.refused", error=Code(outcome.error or "")),
                    now,
                )
            else:
                if sub.failing_since is None:
                    sub.failing_since = now
                window = timedelta(seconds=self.policy.window_s)
                if now >= delivery.created_at + window:
                    result = "dead"
                    delivery.status = "dead"
                    delivery.dead_at = now
                    delivery.next_attempt_at = None
                    sub.consecutive_dead += 1
                    if sub.failing_since <= now - window:
                        await self._disable(
                            session,
                            sub,
                            msg(
                                "delivery.disabled.failing",
                                hours=round(self.policy.window_s / 3600),
                                error=Code(outcome.error or ""),
                            ),
                            now,
                        )
                else:
                    result = "retry"
                    delay = self.policy.delay(delivery.attempts, outcome.retry_after_s, self.rng)
                    next_at = now + timedelta(seconds=delay)
                    delivery.next_attempt_at = next_at
            await repo.add_attempt(
                session,
                tenant_id=delivery.tenant_id,
                delivery_id=delivery.id,
                attempt=delivery.attempts,
                at=now,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
                response=outcome.response,
                outcome=result,
                next_attempt_at=next_at,
            )
        metrics.ALERT_DELIVERIES.labels(outcome=result).inc()
        metrics.ALERT_DELIVERY_SECONDS.observe(outcome.duration_ms / 1000)
        if result != "delivered":
            log.info(
                "delivery %s to subscription %s: %s (%s)",
                delivery_id,
                sub.id,
                result,
                outcome.error,
            )

    async def _disable(
        self, session: object, sub: Subscription, reason: Msg, now: datetime
    ) -> None:
        from sqlalchemy.ext.asyncio import AsyncSession

        assert isinstance(session, AsyncSession)
        if not sub.enabled:
            return
        sub.enabled = False
        # Stored as the tenant's people read it; the alert keeps the message itself.
        sub.disabled_reason = render_text(
            reason, await lifecycle.tenant_locale(session, tenant_id=sub.tenant_id)
        )
        sub.disabled_at = now
        await session.flush()
        await lifecycle.raise_alert(
            session,
            tenant_id=sub.tenant_id,
            kind="system",
            type="subscription_disabled",
            dedup_key=f"subscription_disabled:{sub.id}",
            scope="company",
            severity="critical",
            title=msg("alerts.system.subscription_disabled", name=sub.name, reason=reason),
            detail={"subscription_id": sub.id, "name": sub.name, "reason": reason.code},
            now=now,
            count=False,
        )
