"""Fault injection (issue 9): steady load, every event sent twice, things killed; no loss.

``python -m bench.faults`` runs the long form (10 minutes by default) and writes
docs/RELIABILITY.md; ``tests/faults/test_faults.py`` runs the short form in CI on the
test session's PostgreSQL and Kafka.

The scenario, on real PostgreSQL and Kafka with ``paceline ingest`` and ``paceline
scoring`` as processes:

* a sender posts batches of events at a steady rate, **every event twice** (the second
  copy a few seconds later, as a CRM retrying would), and retries a batch until it is
  answered 202 (503s and refused connections are expected during the faults);
* on a schedule: the scoring process is **SIGKILLed** (and restarted), the **Kafka
  broker** is restarted, **PostgreSQL** is restarted, the **ingest** process is
  SIGKILLed and restarted;
* afterwards, once scoring has caught up with the log:
  - **facts audit**: every row of ``kpi_facts`` and ``kpi_fact_members`` equals a
    from-scratch recount of the accepted events (zero rows may differ);
  - **sequence audit**: every event answered 202 is in the log (read back from offset 0
    of every partition); copies beyond the first are counted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]
from sqlalchemy import select

from bench import procs
from bench.servers import free_ports
from paceline.shared.db.models import ConsumerOffset
from paceline.shared.db.session import Database
from paceline.shared.events import Envelope
from paceline.shared.kpi.records import TenantContext

KEY = "pl_faults_" + uuid.uuid4().hex
DAY0 = date(2026, 11, 2)


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
        )


@dataclass
class Report:
    """What happened and what the audits found."""

    plan: Plan
    sent_posts: int = 0
    answered_202: int = 0
    refused: int = 0  # 503 or no connection: retried
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

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing counted twice."""
        return not self.log_missing and self.rows_differing == 0


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
    ingest_port, scoring_port = free_ports(2)
    ingest = procs.paceline("ingest", "ingest", ingest_port, env, logs)
    scoring = procs.paceline("scoring", "scoring", scoring_port, env, logs)
    running = [ingest, scoring]
    rng = random.Random(20261126)
    sent_events: dict[str, dict[str, Any]] = {}
    accepted: set[str] = set()
    order: list[str] = []  # first acceptance order, for the recount
    try:
        await _wait_ready(f"http://127.0.0.1:{ingest_port}/readyz")
        url = f"http://127.0.0.1:{ingest_port}/v1/events"
        stop_at = time.monotonic() + plan.duration_s
        started = time.monotonic()

        async def post_until_accepted(
            client: httpx.AsyncClient, batch: list[dict[str, Any]]
        ) -> None:
            body = orjson.dumps(batch)
            while True:
                report.sent_posts += 1
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
                except httpx.TransportError:
                    pass
                report.refused += 1
                await asyncio.sleep(0.5)

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
        await asyncio.gather(sender(), *faults)
        report.events = len(sent_events)
        report.accepted_events = len(accepted)
        log(f"load done: {report.accepted_events} events accepted; waiting for scoring")
        caught = time.monotonic()
        records = await _read_log(servers.kafka_bootstrap, topic)
        await _wait_applied(servers.database_url, group, topic, records)
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
        # Facts audit: the stored facts equal a recount of the accepted events, in log
        # order (per record the log order is the processing order).
        from tests.support import diff_rows, reference_facts, stored_facts

        envelopes.sort(key=lambda x: (x[0], x[1]))
        expected = reference_facts(
            [e for _p, _o, e in envelopes],
            {"default": TenantContext("default", ZoneInfo("Asia/Shanghai"), "CNY")},
        )
        db = Database(servers.database_url)
        try:
            stored = await stored_facts(db, tenant_ids=["default"])
        finally:
            await db.dispose()
        report.fact_rows, report.member_rows = len(stored[0]), len(stored[1])
        report.differences = diff_rows(expected[0], stored[0], limit=20) + diff_rows(
            expected[1], stored[1], limit=20
        )
        keys = set(expected[0]) | set(stored[0])
        mkeys = set(expected[1]) | set(stored[1])
        report.rows_differing = sum(1 for k in keys if expected[0].get(k) != stored[0].get(k))
        report.rows_differing += sum(1 for k in mkeys if expected[1].get(k) != stored[1].get(k))
        return report
    finally:
        for p in running:
            p.stop()


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
    db = Database(db_url)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            async with db.transaction(write=False) as session:
                rows = (
                    await session.execute(
                        select(ConsumerOffset.partition, ConsumerOffset.next_offset).where(
                            ConsumerOffset.group_id == group, ConsumerOffset.topic == topic
                        )
                    )
                ).all()
            done = {int(p): int(o) for p, o in rows}
            if all(done.get(p, 0) >= e for p, e in ends.items()):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"scoring did not catch up: log {ends}, applied {done}")
            await asyncio.sleep(0.5)
    finally:
        await db.dispose()


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


def render(report: Report, *, form: str, machine: str) -> str:
    """docs/RELIABILITY.md."""
    p = report.plan
    faults = "\n".join(f"| {t:.1f} s | {name} |" for t, name in sorted(report.faults))
    verdict = "**Nothing lost, nothing counted twice.**" if report.ok else "**FAILED.**"
    diffs = "\n".join(f"    {d}" for d in report.differences) or "    (none)"
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
            "records in the log",
            f"{report.log_records} ({report.log_copies_beyond_first} copies beyond the first, "
            "all ignored by scoring)",
        ),
        ("accepted events missing from the log", str(len(report.log_missing))),
        ("events in the log never acknowledged", str(len(report.log_unacknowledged))),
        ("fact rows / member rows compared", f"{report.fact_rows} / {report.member_rows}"),
        ("rows that differ from the recount", str(report.rows_differing)),
        ("time for scoring to catch up after the load", f"{report.catch_up_s} s"),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    intro = (
        f"Generated by `python -m bench.faults` ({form} form) on {machine}. The short form of "
        "the same scenario runs in CI (`tests/faults/test_faults.py`). The scenario is "
        "described in bench/faults.py: steady load with every event sent twice, and on a "
        "schedule the scoring process SIGKILLed, the Kafka broker restarted, PostgreSQL "
        "restarted and the ingest process SIGKILLed; then a facts audit (stored facts vs a "
        "from-scratch recount of the accepted events) and a sequence audit (every event "
        "answered 202 is in the log)."
    )
    return (
        f"# Reliability\n\n{intro}\n\n{verdict}\n\n| | |\n|---|---|\n{table}\n\n"
        f"Faults injected (time from the start of the load):\n\n| when | fault |\n|---|---|\n"
        f"{faults}\n\nDifferences (first 20):\n\n{diffs}\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the long form and write docs/RELIABILITY.md."""
    parser = argparse.ArgumentParser(prog="python -m bench.faults")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--short", action="store_true", help="the CI form instead")
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "RELIABILITY.md")
    args = parser.parse_args(argv)
    import tempfile

    from bench.harness import _machine_line, machine_description

    with tempfile.TemporaryDirectory(prefix="paceline-faults-") as d:
        work = Path(d)
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
