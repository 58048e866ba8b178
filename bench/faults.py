"""Fault injection (issues 9, 5): steady load, every event sent twice, things killed; no loss.

``python -m bench.faults`` runs the long form (10 minutes by default) and writes
docs/RELIABILITY.md; ``tests/faults/test_faults.py`` runs the short form in CI on the
test session's PostgreSQL and Kafka.

The scenario, on real PostgreSQL and Kafka with ``paceline ingest`` and ``paceline
scoring`` as processes:

* a sender posts batches of events at a steady rate, **every event twice** (the second
  copy a few seconds later, as a CRM retrying would), and retries a batch until it is
  answered 202 (503s and refused connections are expected during the faults);
* an **alert subscriber** (bench/subscriber.py: real HTTP on 127.0.0.1 in this process,
  checking every Standard Webhooks signature) is subscribed, through ``paceline api``,
  to every alert change of the tenant before the load starts. The events name reps the
  org chart does not know and back-dated days, so scoring raises data-quality alerts
  (``unknown_rep``, ``backdated``, ``duplicate_visit``...) and its delivery dispatcher
  (a loop in the scoring process) sends them, with a short backoff;
* on a schedule: the scoring process is **SIGKILLed** (and restarted), the **Kafka
  broker** is restarted, **PostgreSQL** is restarted, the **ingest** process is
  SIGKILLed and restarted, and the **subscriber is down** (503, slowly) for a window
  that contains a scoring kill: the dispatcher dies mid-retry, with attempts in flight;
* afterwards, once scoring has caught up with the log:
  - **facts audit**: every row of ``kpi_facts`` and ``kpi_fact_members`` equals a
    from-scratch recount of the accepted events (zero rows may differ);
  - **sequence audit**: every event answered 202 is in the log (read back from offset 0
    of every partition); copies beyond the first are counted;
  - **delivery audit** (once the alert engine has read every stored event and no
    delivery is pending): every alert event in ``alert_events`` has a delivery row and
    reached the subscriber at least once, answered 2xx, with a valid signature and the
    delivery's ``webhook-id``; copies beyond the first are counted (at least once).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]
from sqlalchemy import func, select

from bench import procs
from bench.servers import free_ports
from bench.subscriber import Subscriber
from paceline.scoring.alerts.follower import checked_up_to, stored_up_to
from paceline.shared.db.models_alerts import AlertEvent, Delivery
from paceline.shared.db.session import Database
from paceline.shared.events import Envelope
from paceline.shared.kpi.records import TenantContext

KEY = "pl_faults_" + uuid.uuid4().hex
DAY0 = date(2026, 11, 2)
# The subscription takes every lifecycle change, so every alert event must be delivered.
ALL_ACTIONS = ["opened", "reopened", "escalated", "deescalated", "acknowledged", "resolved"]
# How long after the load the sender keeps retrying a refused batch before it gives up
# (and the run fails: ingest did not recover).
REFUSE_LIMIT_S = 180.0

# Outbound timeout of the dispatcher. A delivery claimed by a dispatcher that is killed is
# retried when its lease ends: 4 x this + 60 s (services/scoring/delivery/dispatcher.py).
OUTBOUND_TIMEOUT_S = 2


class Servers(Protocol):
    """The real servers the scenario runs on, and how to restart them."""

    database_url: str
    kafka_bootstrap: str

    def restart_postgres(self) -> None:
        """Stop and start PostgreSQL (same data, same port)."""

    def restart_kafka(self) -> None:
        """Stop and start the broker (same data, same port)."""


@dataclass
class Plan:
    """How long, how fast, and which faults when (seconds from the start)."""

    duration_s: float
    rate_per_s: float
    batch: int = 20
    scoring_kills: list[float] = field(default_factory=list)
    kafka_restarts: list[float] = field(default_factory=list)
    postgres_restarts: list[float] = field(default_factory=list)
    ingest_restarts: list[float] = field(default_factory=list)
    # (from, until): the alert subscriber answers 503; each window holds a scoring kill.
    subscriber_outages: list[tuple[float, float]] = field(default_factory=list)

    @classmethod
    def short(cls) -> Plan:
        """The CI form: about a minute, every fault at least once."""
        return cls(
            duration_s=50,
            rate_per_s=150,
            scoring_kills=[6, 20, 36],
            kafka_restarts=[14],
            postgres_restarts=[27],
            ingest_restarts=[42],
            subscriber_outages=[(0, 13)],
        )

    @classmethod
    def long(cls, minutes: float = 10) -> Plan:
        """The on-demand form: every fault again and again."""
        d = minutes * 60
        return cls(
            duration_s=d,
            rate_per_s=300,
            scoring_kills=[t for t in range(15, int(d) - 10, 45)],
            kafka_restarts=[t for t in range(60, int(d) - 20, 150)],
            postgres_restarts=[t for t in range(100, int(d) - 20, 150)],
            ingest_restarts=[t for t in range(130, int(d) - 20, 150)],
            subscriber_outages=[(t - 8.0, t + 12.0) for t in range(15, int(d) - 10, 45)][::3],
        )


@dataclass
class Report:
    """What happened and what the audits found."""

    plan: Plan
    sent_posts: int = 0
    answered_202: int = 0
    refused: int = 0  # 503 or no connection: retried
    # Batches still refused when the sender gave up on them (REFUSE_LIMIT_S after the
    # load): not lost (never acknowledged), but ingest did not recover from a fault.
    batches_given_up: int = 0
    last_refusal: str = ""
    events: int = 0
    accepted_events: int = 0
    log_records: int = 0
    log_missing: list[str] = field(default_factory=list)
    log_copies_beyond_first: int = 0
    log_unacknowledged: list[str] = field(default_factory=list)
    fact_rows: int = 0
    member_rows: int = 0
    rows_differing: int = 0
    differences: list[str] = field(default_factory=list)
    faults: list[tuple[float, str]] = field(default_factory=list)
    catch_up_s: float = 0.0
    # Delivery audit.
    alert_events: int = 0
    alert_types: dict[str, int] = field(default_factory=dict)
    deliveries: int = 0
    alert_events_without_delivery: list[int] = field(default_factory=list)
    deliveries_missing: list[int] = field(default_factory=list)  # never accepted, signed
    deliveries_undelivered: int = 0  # delivery rows not "delivered" at the end
    delivery_duplicates: int = 0  # accepted copies beyond the first (at least once)
    delivery_requests: int = 0  # requests the subscriber saw
    delivery_refused: int = 0  # answered 503 during outages
    delivery_bad_signatures: int = 0  # complete requests whose signature did not verify
    delivery_cut_off: int = 0  # requests whose sender died before the body was sent
    delivery_problems: list[str] = field(default_factory=list)  # the first bad signatures
    delivery_id_mismatches: int = 0  # webhook-id other than the delivery's
    delivery_attempts_logged: int = 0  # attempts in the delivery log
    # Per scoring kill during an outage: (when, deliveries awaiting a retry, of them
    # claimed by the dispatcher: leased, being sent or about to be).
    kills_during_outage: list[tuple[float, int | None, int | None]] = field(default_factory=list)
    deliveries_settled: bool = False
    delivery_settle_s: float = 0.0
    # Times ingest replaced a Kafka producer that could no longer send (from its log).
    producer_replacements: int = 0

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing counted twice, every alert delivered."""
        return (
            not self.log_missing
            and self.batches_given_up == 0
            and self.rows_differing == 0
            and self.deliveries_settled
            and not self.alert_events_without_delivery
            and not self.deliveries_missing
            and self.delivery_bad_signatures == 0
            and self.delivery_id_mismatches == 0
        )


def _event(i: int, rng: random.Random) -> dict[str, Any]:
    rep = f"rep-{rng.randrange(0, 40):02d}"
    day = DAY0 + timedelta(days=rng.randrange(0, 25))
    at = datetime(day.year, day.month, day.day, 2, tzinfo=UTC) + timedelta(
        minutes=rng.randrange(0, 720)
    )
    kind = rng.random()
    ev: dict[str, Any] = {
        "event_id": f"f-{i}",
        "occurred_at": at.isoformat(),
        "rep_id": rep,
        "customer_id": f"c-{rng.randrange(1, 300)}",
    }
    if kind < 0.55:
        ev |= {"type": "visit", "channel": rng.choice(["onsite", "phone", "video"])}
    elif kind < 0.9:
        ev |= {
            "type": "deal",
            "entity_id": f"d-{rng.randrange(1, 400)}",
            "version": rng.randrange(1, 8),
            "stage": rng.choice(["open", "won", "won", "lost"]),
            "amount": f"{rng.randrange(1, 500) * 100}.00",
        }
        if rng.random() < 0.05:
            ev["deleted"] = True
    else:
        ev |= {
            "type": "quote",
            "entity_id": f"q-{rng.randrange(1, 200)}",
            "version": rng.randrange(1, 4),
            "status": "sent",
        }
    return ev


def _env(servers: Servers, topic: str, group: str, data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PACELINE_ENVIRONMENT": "test",
        "PACELINE_DATABASE_URL": servers.database_url,
        "PACELINE_KAFKA_BOOTSTRAP": servers.kafka_bootstrap,
        "PACELINE_KAFKA_PARTITIONS": "3",
        "PACELINE_TOPIC": topic,
        "PACELINE_CONSUMER_GROUP": group,
        "PACELINE_BOOTSTRAP_API_KEY": KEY,
        "PACELINE_LOG_LEVEL": "WARNING",
        "PACELINE_DATA_DIR": str(data),
        "PACELINE_APPEND_TIMEOUT_S": "5",
        # One key for every process (the api encrypts the subscriber's secret, scoring
        # decrypts it to sign).
        "PACELINE_SECRET_KEY": secrets.token_urlsafe(32),
        "PACELINE_ALERTS_TOPIC": f"{topic}.alerts",
        # Short backoff (0.5 s doubling, capped at 3 s) so retries happen within the run.
        "PACELINE_DELIVERY_POLL_S": "0.2",
        "PACELINE_DELIVERY_BACKOFF_BASE_S": "0.5",
        "PACELINE_DELIVERY_BACKOFF_CAP_S": "3",
        "PACELINE_OUTBOUND_TIMEOUT_S": str(OUTBOUND_TIMEOUT_S),
    }


async def _wait_ready(url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=3) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not become ready")
            await asyncio.sleep(0.2)


async def run(
    plan: Plan, servers: Servers, workdir: Path, log: Callable[[str], None] = print
) -> Report:
    """Run the scenario; the report says whether anything was lost or doubled."""
    report = Report(plan=plan)
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"faults.{suffix}", f"faults-{suffix}"
    env = _env(servers, topic, group, workdir / "data")
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(
        subprocess.run,
        [procs.PACELINE, "migrate"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    ingest_port, scoring_port, api_port = free_ports(3)
    hooks = contextlib.ExitStack()
    hook = hooks.enter_context(Subscriber())
    ingest = procs.paceline("ingest", "ingest", ingest_port, env, logs)
    scoring = procs.paceline("scoring", "scoring", scoring_port, env, logs)
    api = procs.paceline("api", "api", api_port, env, logs)
    running = [ingest, scoring, api]
    rng = random.Random(20261126)
    rng_retry = random.Random(1)
    sent_events: dict[str, dict[str, Any]] = {}
    accepted: set[str] = set()
    order: list[str] = []  # first acceptance order, for the recount
    try:
        # The subscription comes first: only alerts changed after it are sent.
        await _wait_ready(f"http://127.0.0.1:{api_port}/readyz")
        subscription_id = await _subscribe(f"http://127.0.0.1:{api_port}", hook)
        api.stop()
        await _wait_ready(f"http://127.0.0.1:{ingest_port}/readyz")
        url = f"http://127.0.0.1:{ingest_port}/v1/events"
        stop_at = time.monotonic() + plan.duration_s
        started = time.monotonic()

        async def post_until_accepted(
            client: httpx.AsyncClient, batch: list[dict[str, Any]]
        ) -> None:
            body = orjson.dumps(batch)
            backoff = 0.5
            while True:
                if time.monotonic() > stop_at + REFUSE_LIMIT_S:
                    report.batches_given_up += 1
                    return
                report.sent_posts += 1
                wait = backoff
                try:
                    resp = await client.post(
                        url,
                        content=body,
                        headers={
                            "Authorization": f"Bearer {KEY}",
                            "Content-Type": "application/json",
                        },
                    )
                    if resp.status_code == 202:
                        report.answered_202 += 1
                        for ev in batch:
                            if ev["event_id"] not in accepted:
                                accepted.add(ev["event_id"])
                                order.append(ev["event_id"])
                        return
                    if resp.status_code not in (503,):
                        raise RuntimeError(f"unexpected {resp.status_code}: {resp.text}")
                    report.last_refusal = f"503 {resp.text[:200]}"
                    # As a well-behaved sender does: wait as long as Retry-After says.
                    wait = float(resp.headers.get("retry-after", backoff))
                except httpx.TransportError as exc:
                    report.last_refusal = f"{type(exc).__name__}: {exc}"
                report.refused += 1
                # Jitter, so that the senders do not all come back at once; the backoff
                # doubles up to 5 s while the service does not answer.
                await asyncio.sleep(wait * rng_retry.uniform(0.5, 1.0))
                backoff = min(backoff * 2, 5.0)

        async def sender() -> None:
            i = 0
            pending: set[asyncio.Task[None]] = set()
            async with httpx.AsyncClient(timeout=30) as client:
                interval = plan.batch / plan.rate_per_s
                next_at = time.monotonic()
                while time.monotonic() < stop_at:
                    batch = [_event(i + k, rng) for k in range(plan.batch)]
                    i += plan.batch
                    for ev in batch:
                        sent_events[ev["event_id"]] = ev
                    pending.add(asyncio.create_task(post_until_accepted(client, batch)))

                    async def again(b: list[dict[str, Any]] = batch) -> None:
                        await asyncio.sleep(3)  # every event a second time, as a retry
                        await post_until_accepted(client, b)

                    pending.add(asyncio.create_task(again()))
                    pending = {t for t in pending if not t.done()}
                    next_at += interval
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                await asyncio.gather(*pending)

        async def at(t: float, name: str, action: Callable[[], Awaitable[None]]) -> None:
            await asyncio.sleep(max(0.0, started + t - time.monotonic()))
            report.faults.append((round(time.monotonic() - started, 1), name))
            log(f"  t={time.monotonic() - started:5.1f}s {name}")
            await action()

        async def kill_scoring() -> None:
            if hook.down:  # mid-retry: what the dispatcher holds as it dies
                when = round(time.monotonic() - started, 1)
                retrying, claimed = await _pending(servers.database_url, subscription_id)
                report.kills_during_outage.append((when, retrying, claimed))
            scoring.kill()
            await asyncio.sleep(1)
            scoring.start()

        async def restart_kafka() -> None:
            await asyncio.to_thread(servers.restart_kafka)

        async def restart_postgres() -> None:
            await asyncio.to_thread(servers.restart_postgres)

        async def restart_ingest() -> None:
            ingest.kill()
            await asyncio.sleep(1)
            ingest.start()

        faults = [at(t, "SIGKILL scoring", kill_scoring) for t in plan.scoring_kills]
        faults += [at(t, "restart Kafka broker", restart_kafka) for t in plan.kafka_restarts]
        faults += [at(t, "restart PostgreSQL", restart_postgres) for t in plan.postgres_restarts]
        faults += [at(t, "SIGKILL ingest", restart_ingest) for t in plan.ingest_restarts]

        async def subscriber_down() -> None:
            hook.go_down()

        async def subscriber_back() -> None:
            hook.come_back()

        async def progress() -> None:
            while True:
                await asyncio.sleep(30)
                log(
                    f"  t={time.monotonic() - started:5.1f}s progress: {len(accepted)} events "
                    f"accepted, {report.answered_202} posts answered 202, {report.refused} "
                    f"refused (last: {report.last_refusal or '-'})"
                )

        ticker = asyncio.create_task(progress())
        for down, back in plan.subscriber_outages:
            faults += [
                at(down, "subscriber down (503)", subscriber_down),
                at(back, "subscriber back", subscriber_back),
            ]
        try:
            await asyncio.gather(sender(), *faults)
        finally:
            ticker.cancel()
        report.events = len(sent_events)
        report.accepted_events = len(accepted)
        log(f"load done: {report.accepted_events} events accepted; waiting for scoring")
        caught = time.monotonic()
        records = await _read_log(servers.kafka_bootstrap, topic)
        await _wait_applied(
            servers.database_url, group, topic, records, timeout_s=max(300.0, plan.duration_s)
        )
        report.catch_up_s = round(time.monotonic() - caught, 1)
        # Sequence audit: every acknowledged event is in the log.
        in_log: dict[str, int] = {}
        envelopes: list[tuple[int, int, Envelope]] = []
        for partition, offset, value in records:
            env_ = Envelope.model_validate_json(value)
            in_log[env_.event.event_id] = in_log.get(env_.event.event_id, 0) + 1
            envelopes.append((partition, offset, env_))
        report.log_records = len(records)
        report.log_missing = sorted(e for e in accepted if e not in in_log)
        report.log_unacknowledged = sorted(e for e in in_log if e not in accepted)
        report.log_copies_beyond_first = sum(n - 1 for n in in_log.values())
        # Facts audit: the stored facts equal a recount of the accepted events.
        audit = await audit_facts(servers.database_url, envelopes)
        report.fact_rows, report.member_rows = audit.fact_rows, audit.member_rows
        report.differences = audit.differences
        report.rows_differing = audit.rows_differing
        # Delivery audit, once every alert has been raised and every delivery settled.
        log("waiting for alert deliveries to settle")
        state, report.deliveries_settled = await _wait_delivered(
            servers.database_url, subscription_id
        )
        report.delivery_settle_s = round(time.monotonic() - caught, 1)
        await _audit_deliveries(report, servers.database_url, state, hook)
        ingest_log = (logs / "ingest.log").read_text(encoding="utf-8", errors="replace")
        report.producer_replacements = ingest_log.count("cannot send any more")
        return report
    finally:
        for p in running:
            p.stop()
        hooks.close()


@dataclass(frozen=True)
class FactsAudit:
    """Stored facts against a from-scratch recount."""

    fact_rows: int
    member_rows: int
    rows_differing: int
    differences: list[str]  # the first 20 of each table


async def audit_facts(
    db_url: str, envelopes: list[tuple[int, int, Envelope]], tenant: str = "default"
) -> FactsAudit:
    """Compare every ``kpi_facts`` and ``kpi_fact_members`` row of ``tenant`` with a
    recount of the (partition, offset, envelope) records, taken in log order (per
    record the log order is the processing order)."""
    from tests.support import diff_rows, reference_facts, stored_facts

    ordered = sorted(envelopes, key=lambda x: (x[0], x[1]))
    expected = reference_facts(
        [e for _p, _o, e in ordered],
        {tenant: TenantContext(tenant, ZoneInfo("Asia/Shanghai"), "CNY")},
    )
    db = Database(db_url)
    try:
        stored = await stored_facts(db, tenant_ids=[tenant])
    finally:
        await db.dispose()
    keys = set(expected[0]) | set(stored[0])
    mkeys = set(expected[1]) | set(stored[1])
    differing = sum(1 for k in keys if expected[0].get(k) != stored[0].get(k))
    differing += sum(1 for k in mkeys if expected[1].get(k) != stored[1].get(k))
    return FactsAudit(
        fact_rows=len(stored[0]),
        member_rows=len(stored[1]),
        rows_differing=differing,
        differences=diff_rows(expected[0], stored[0], limit=20)
        + diff_rows(expected[1], stored[1], limit=20),
    )


async def _subscribe(api: str, hook: Subscriber) -> int:
    """Subscribe the hook to every alert change (POST /v1/subscriptions); the id."""
    async with httpx.AsyncClient(timeout=30) as client:
        resp = await client.post(
            f"{api}/v1/subscriptions",
            json={"name": "faults", "url": hook.url, "actions": ALL_ACTIONS},
            headers={"Authorization": f"Bearer {KEY}"},
        )
    if resp.status_code != 201:
        raise RuntimeError(f"subscription refused: {resp.status_code} {resp.text}")
    body: dict[str, Any] = resp.json()
    hook.secret = str(body["secret"])
    return int(body["id"])


async def _pending(db_url: str, subscription_id: int) -> tuple[int | None, int | None]:
    """(pending deliveries that failed at least once, pending deliveries leased now)."""
    db = Database(db_url)
    try:
        async with asyncio.timeout(5), db.transaction(write=False) as session:
            pending = (
                Delivery.subscription_id == subscription_id,
                Delivery.status == "pending",
            )
            count = select(func.count()).select_from(Delivery)
            retrying = await session.scalar(count.where(*pending, Delivery.attempts > 0))
            leased = await session.scalar(
                count.where(*pending, Delivery.lease_until > datetime.now(UTC))
            )
            return int(retrying or 0), int(leased or 0)
    except Exception:  # the database is restarting: unknown
        return None, None
    finally:
        await db.dispose()


@dataclass
class _Deliveries:
    """Alert events and the subscription's deliveries, as the database has them."""

    fanned_out: dict[int, bool]  # alert event id -> made into deliveries yet
    deliveries: dict[int, tuple[str, str, int]]  # alert event id -> (webhook-id, status, attempts)
    engine_behind: bool  # stored events the alert engine has not checked yet

    @property
    def settled(self) -> bool:
        """Every alert raised, fanned out and delivered (or dead): nothing will change."""
        return (
            not self.engine_behind
            and all(self.fanned_out.values())
            and all(status != "pending" for _m, status, _a in self.deliveries.values())
        )


async def _deliveries(db: Database, subscription_id: int) -> _Deliveries:
    async with db.transaction(write=False) as session:
        cursor = await checked_up_to(session)
        stored = await stored_up_to(session)
        behind = any(cursor.get(p, 0) < end for p, end in stored.items())
        events = (await session.execute(select(AlertEvent.id, AlertEvent.fanned_out_at))).all()
        rows = (
            await session.execute(
                select(
                    Delivery.alert_event_id, Delivery.message_id, Delivery.status, Delivery.attempts
                ).where(
                    Delivery.subscription_id == subscription_id,
                    Delivery.alert_event_id.is_not(None),
                )
            )
        ).all()
    return _Deliveries(
        fanned_out={int(i): at is not None for i, at in events},
        deliveries={int(e): (str(m), str(s), int(a)) for e, m, s, a in rows if e is not None},
        engine_behind=behind,
    )


async def _wait_delivered(
    db_url: str, subscription_id: int, timeout_s: float = 300
) -> tuple[_Deliveries, bool]:
    """Wait until deliveries settle; the state, and whether it settled before the deadline."""
    db = Database(db_url)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            state = await _deliveries(db, subscription_id)
            if state.settled:
                return state, True
            if time.monotonic() > deadline:
                return state, False
            await asyncio.sleep(0.5)
    finally:
        await db.dispose()


async def _audit_deliveries(
    report: Report, db_url: str, state: _Deliveries, hook: Subscriber
) -> None:
    """Every alert event reached the subscriber, signed, at least once."""
    db = Database(db_url)
    try:
        async with db.transaction(write=False) as session:
            snapshots = (await session.execute(select(AlertEvent.id, AlertEvent.snapshot))).all()
    finally:
        await db.dispose()
    types = Counter(str(snap.get("type")) for i, snap in snapshots if int(i) in state.fanned_out)
    report.alert_events = len(state.fanned_out)
    report.alert_types = dict(sorted(types.items()))
    report.deliveries = len(state.deliveries)
    report.alert_events_without_delivery = sorted(
        i for i in state.fanned_out if i not in state.deliveries
    )
    report.deliveries_undelivered = sum(
        1 for _m, status, _a in state.deliveries.values() if status != "delivered"
    )
    report.delivery_attempts_logged = sum(a for _m, _s, a in state.deliveries.values())
    receipts = hook.receipts()
    delivered = Counter(r.event_id for r in receipts if r.accepted)
    report.deliveries_missing = sorted(i for i in state.fanned_out if delivered[i] == 0)
    report.delivery_duplicates = sum(n - 1 for i, n in delivered.items() if i is not None)
    report.delivery_requests = len(receipts)
    report.delivery_refused = sum(1 for r in receipts if r.status == 503)
    report.delivery_bad_signatures = sum(1 for r in receipts if r.complete and not r.verified)
    report.delivery_cut_off = sum(1 for r in receipts if not r.complete)
    report.delivery_problems = [
        r.problem for r in receipts if r.complete and r.problem is not None
    ][:20]
    report.delivery_id_mismatches = sum(
        1
        for r in receipts
        if r.event_id is not None
        and r.event_id in state.deliveries
        and r.message_id != state.deliveries[r.event_id][0]
    )


async def _read_log(
    bootstrap: str, topic: str, partitions: int = 3
) -> list[tuple[int, int, bytes]]:
    """Every record of the topic, from offset 0 of every partition."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        for tp in parts:
            consumer.seek(tp, 0)
        out: list[tuple[int, int, bytes]] = []

        async def behind() -> bool:
            for tp in parts:
                if await consumer.position(tp) < ends[tp]:
                    return True
            return False

        while await behind():
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for tp, msgs in batches.items():
                out.extend((tp.partition, m.offset, m.value) for m in msgs)
        return out
    finally:
        await consumer.stop()


async def _wait_applied(
    db_url: str,
    group: str,
    topic: str,
    records: list[tuple[int, int, bytes]],
    timeout_s: float = 300,
) -> None:
    ends: dict[int, int] = {}
    for partition, offset, _ in records:
        ends[partition] = max(ends.get(partition, 0), offset + 1)
    await procs.wait_applied(
        db_url, group, topic, ends, deadline=time.monotonic() + timeout_s, poll_s=0.5
    )


# -- the long form: python -m bench.faults --------------------------------------------------


REPO = Path(__file__).resolve().parent.parent


class ScriptServers:
    """PostgreSQL and Kafka through deploy/ scripts, restartable in place."""

    def __init__(self, work: Path) -> None:
        self.pg_dir = work / "pg"
        self.kafka_dir = work / "kafka"
        self.pg_port, self.kafka_port, self.controller_port = free_ports(3)
        self.database_url = ""
        self.kafka_bootstrap = f"127.0.0.1:{self.kafka_port}"

    def _pg(self, *args: str) -> str:
        return subprocess.run(
            [
                "bash",
                str(REPO / "deploy/postgres/pg.sh"),
                *args,
                "--dir",
                str(self.pg_dir),
                "--port",
                str(self.pg_port),
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout

    def _kafka(self, *args: str) -> None:
        extra = ["--port", str(self.kafka_port), "--controller-port", str(self.controller_port)]
        subprocess.run(
            [
                "bash",
                str(REPO / "deploy/kafka/kafka.sh"),
                *args,
                "--dir",
                str(self.kafka_dir),
                *(extra if args[0] == "start" else []),
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=180,
        )

    def start(self) -> None:
        """Start both."""
        self._pg("start")
        self.database_url = self._pg("url").strip().splitlines()[0]
        self._kafka("start")

    def stop(self) -> None:
        """Stop both."""
        with contextlib.suppress(subprocess.SubprocessError):
            self._kafka("stop")
        with contextlib.suppress(subprocess.SubprocessError):
            subprocess.run(
                ["bash", str(REPO / "deploy/postgres/pg.sh"), "stop", "--dir", str(self.pg_dir)],
                check=False,
                timeout=120,
            )

    def restart_postgres(self) -> None:
        """Stop and start PostgreSQL."""
        subprocess.run(
            ["bash", str(REPO / "deploy/postgres/pg.sh"), "stop", "--dir", str(self.pg_dir)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self._pg("start")

    def restart_kafka(self) -> None:
        """Stop and start the broker."""
        self._kafka("stop")
        self._kafka("start")


FOUND_AND_FIXED = """\
## What this scenario found, and what was fixed

Each of these made a run fail before it was fixed; each fix has a test of its own.

- **Ingest answered 503 for good after a Kafka restart** (10-minute form, 2026-11-27).
  aiokafka's idempotent producer failed with `OutOfOrderSequenceNumber` after the broker
  came back, and its sender stopped for good; every later append timed out until ingest
  was restarted. The Kafka event log now replaces a producer after such an error, or when
  its sender task is gone (new producer id, fresh sequences); the unacknowledged requests
  were answered 503 and are retried by their senders
  (`tests/shared/eventlog/test_contract.py::test_kafka_producer_that_cannot_send_is_replaced`).
- **Scoring could not catch up after the load** (10-minute form, 2026-11-27). The burst
  and duplicate-visit checks read every stored event of each touched rep over the batch's
  time span; with batches spanning weeks of backlog the cost grew with the table, and the
  catch-up crawled at ~100 events/s. They now read only the stored events near the batch's
  events, in one statement per batch on PostgreSQL
  (`tests/scoring/alerts/test_quality_windows.py`).
- **PostgreSQL restarting gave 500 on ingest** (2026-11-26): asyncpg raises a plain error
  with SQLSTATE 57P01/57P03 while the server shuts down or starts; these now answer 503
  with Retry-After (`tests/shared/test_db_errors.py`).
- **An unknown-rep flag lost for ten minutes** (2026-11-26): remembered before its batch
  committed, so a batch rolled back by a kill was not flagged again; now remembered only
  after the commit.
- **The scenario's own sender caused a retry storm** (2026-11-27): it retried refused
  batches every 0.5 s, ignoring Retry-After, and with thousands of batches waiting during
  an outage it exhausted its connection pool. It now waits as Retry-After says, with
  jitter and backoff, as a well-behaved CRM does; a batch still refused 3 minutes after
  the load fails the run instead of hanging it.
"""


def render(report: Report, *, form: str, machine: str) -> str:
    """docs/RELIABILITY.md."""
    p = report.plan
    faults = "\n".join(f"| {t:.1f} s | {name} |" for t, name in sorted(report.faults))
    verdict = (
        "**Nothing lost, nothing counted twice, every alert delivered.**"
        if report.ok
        else "**FAILED.**"
    )
    diffs = "\n".join(f"    {d}" for d in report.differences) or "    (none)"
    missing = ", ".join(str(i) for i in report.deliveries_missing[:20]) or "(none)"
    problems = "; ".join(report.delivery_problems) or "(none)"
    outages = ", ".join(f"{a:.0f}-{b:.0f} s" for a, b in p.subscriber_outages) or "none"
    kills = "; ".join(
        f"at {t:.1f} s: {'?' if r is None else r} / {'?' if f is None else f}"
        for t, r, f in report.kills_during_outage
    )
    types = ", ".join(f"{t} {n}" for t, n in report.alert_types.items())
    rows = [
        (
            "duration, offered load",
            f"{p.duration_s:.0f} s, {p.rate_per_s:.0f} events/s in batches of {p.batch}, "
            "each event posted twice",
        ),
        (
            "posts sent / answered 202 / refused and retried",
            f"{report.sent_posts} / {report.answered_202} / {report.refused}",
        ),
        ("distinct events accepted", f"{report.accepted_events} of {report.events}"),
        (
            f"batches still refused {REFUSE_LIMIT_S:.0f} s after the load (given up)",
            str(report.batches_given_up),
        ),
        (
            "records in the log",
            f"{report.log_records} ({report.log_copies_beyond_first} copies beyond the first, "
            "all ignored by scoring)",
        ),
        ("accepted events missing from the log", str(len(report.log_missing))),
        (
            "Kafka producers ingest replaced after they could no longer send",
            str(report.producer_replacements),
        ),
        ("events in the log never acknowledged", str(len(report.log_unacknowledged))),
        ("fact rows / member rows compared", f"{report.fact_rows} / {report.member_rows}"),
        ("rows that differ from the recount", str(report.rows_differing)),
        ("time for scoring to catch up after the load", f"{report.catch_up_s} s"),
        (
            "alert subscriber down (answering 503 after 0.25 s)",
            f"{outages}; the dispatcher retries after 0.5 s doubling to 3 s, with jitter",
        ),
        ("alert events recorded", f"{report.alert_events} ({types})"),
        ("alert events without a delivery", str(len(report.alert_events_without_delivery))),
        (
            "alert events never received (2xx, valid signature)",
            f"{len(report.deliveries_missing)} of {report.alert_events}",
        ),
        (
            "requests to the subscriber / answered 503 / cut off by a kill / bad signatures / "
            "wrong webhook-id",
            f"{report.delivery_requests} / {report.delivery_refused} / "
            f"{report.delivery_cut_off} / {report.delivery_bad_signatures} / "
            f"{report.delivery_id_mismatches}",
        ),
        (
            "alert events received more than once (at least once is the contract)",
            f"{report.delivery_duplicates} copies beyond the first",
        ),
        (
            "attempts in the delivery log",
            f"{report.delivery_attempts_logged} (requests whose outcome a kill or a database "
            "restart lost are not logged, and are sent again)",
        ),
        (
            "scoring SIGKILLed during an outage: deliveries awaiting a retry / claimed by it",
            kills or "none",
        ),
        (
            "time for every delivery to settle after the load",
            f"{report.delivery_settle_s} s{'' if report.deliveries_settled else ' (NOT settled)'}"
            f" (a delivery claimed by the killed dispatcher is retried when its lease ends, "
            f"{4 * OUTBOUND_TIMEOUT_S + 60} s after the claim)",
        ),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    intro = (
        f"Generated by `python -m bench.faults` ({form} form) on {machine}. The short form of "
        "the same scenario runs in CI (`tests/faults/test_faults.py`). The scenario is "
        "described in bench/faults.py: steady load with every event sent twice, and on a "
        "schedule the scoring process SIGKILLed, the Kafka broker restarted, PostgreSQL "
        "restarted, the ingest process SIGKILLed, and an alert subscriber down while "
        "scoring (which runs the delivery dispatcher) is SIGKILLed mid-retry; then a facts "
        "audit (stored facts vs a from-scratch recount of the accepted events), a sequence "
        "audit (every event answered 202 is in the log) and a delivery audit (every alert "
        "event in the database reached the subscriber, with a valid Standard Webhooks "
        "signature, at least once)."
    )
    return (
        f"# Reliability\n\n{intro}\n\n{verdict}\n\n| | |\n|---|---|\n{table}\n\n"
        f"Faults injected (time from the start of the load):\n\n| when | fault |\n|---|---|\n"
        f"{faults}\n\nDifferences (first 20):\n\n{diffs}\n\n"
        f"Alert events not delivered (first 20): {missing}\n\n"
        f"Signatures that did not verify (first 20): {problems}\n\n"
        f"{FOUND_AND_FIXED}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the long form and write docs/RELIABILITY.md."""
    parser = argparse.ArgumentParser(prog="python -m bench.faults")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--short", action="store_true", help="the CI form instead")
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "RELIABILITY.md")
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (services' logs)"
    )
    args = parser.parse_args(argv)
    import tempfile

    from bench.harness import _machine_line, machine_description

    with contextlib.ExitStack() as stack:
        if args.keep:
            work = Path(tempfile.mkdtemp(prefix="paceline-faults-"))
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="paceline-faults-")))
        print(f"work directory: {work}", file=sys.stderr)
        # As root, pg.sh runs the server as the postgres user, which must be able to enter
        # the directory (searchable, not listable; pg.sh keeps the cluster itself 0700).
        work.chmod(0o711)
        servers = ScriptServers(work)
        servers.start()
        try:
            plan = Plan.short() if args.short else Plan.long(args.minutes)
            report = asyncio.run(run(plan, servers, work, log=lambda m: print(m, file=sys.stderr)))
        finally:
            servers.stop()
    args.doc.write_text(
        render(
            report,
            form="short" if args.short else f"{args.minutes:g}-minute",
            machine=_machine_line(machine_description()),
        ),
        encoding="utf-8",
    )
    print(f"wrote {args.doc}: {'ok' if report.ok else 'FAILED'}", file=sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
