"""Scoring scale-out (issue 19, item 3): 1, 2 and 3 ``paceline scoring`` processes, the
alert checks' coverage, and the stall when one of them is killed.

Everything runs on real PostgreSQL and Kafka, with ``paceline scoring`` as deployed
(alerts on). Every case has a fresh database, consumer group and 6-partition topic; the
processes start on the empty topic and, once their group is stable, the same N unique
events (the pipeline benchmark's mix) are written to it, so each case applies all N from
a settled group (the join is not timed).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from sqlalchemy import select

from bench import faults, harness, procs
from bench.pipeline import (
    TENANT,
    _create_database,
    _create_topic,
    _env,
    _envelope_bytes,
    _events,
    _prefill,
    _register_reps,
)
from bench.servers import free_ports
from paceline.scoring.alerts.follower import checked_up_to
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.migrate import upgrade
from paceline.shared.db.models import ConsumerOffset
from paceline.shared.db.session import Database
from paceline.shared.eventlog.base import partition_for
from paceline.shared.events import Envelope

TITLE = "Scoring scale-out: 1, 2 and 3 processes, alert coverage, kills"

ABOUT = """\
N unique events (the pipeline benchmark's mix; N = 60,000, 12,000 in a quick run) on 6
partitions. For k = 1, 2, 3: a fresh database, consumer group and topic; k `paceline
scoring` processes as deployed (alerts on, batches of `PACELINE_SCORING_BATCH_MAX`) are
started, and once Kafka reports the group stable with k members (DescribeGroups) the
topic is filled with the N events in a second or two. The stored positions are sampled
every 0.1 s.

- **Throughput** — N / (fill start → every event applied): the processes' start-up and
  join are left out (they are noted). Baseline: one process.
- **Alert coverage** — the share of the stored events the alert checks have covered
  (each partition's follower cursor, `checked_up_to`) at the moment the facts are
  complete; then the seconds until it reaches 100%. Baseline: 1.0 (all of them).
- **Facts audit** — after every case, every `kpi_facts` / `kpi_fact_members` row is
  compared with a from-scratch recount of the log (bench/faults.py); a case with a
  differing row is named in the notes.
- **Kill** — 2 processes; at 20% applied one is SIGKILLed, restarted 1 s later, and a
  third process starts with it (a member joining while the dead one is still in the
  group). Stall = the longest time a partition with events left went without progress
  after the kill; baseline: the longest such gap before the kill (the batch cadence).
  Measured with the deployed consumer settings (`PACELINE_KAFKA_SESSION_TIMEOUT_MS` /
  `PACELINE_KAFKA_HEARTBEAT_INTERVAL_MS` = 6,000 / 1,000 ms) and with the earlier
  10,000 / 2,000 ms. Then **SIGTERM**: a clean stop (LeaveGroup), no restart.
"""

PARTITIONS = 6
SAMPLE_S = 0.1
OLD_CONSUMER = {
    "PACELINE_KAFKA_SESSION_TIMEOUT_MS": "10000",
    "PACELINE_KAFKA_HEARTBEAT_INTERVAL_MS": "2000",
}


@dataclass
class Drain:
    """What one case saw."""

    procs: int
    started: float = 0.0  # monotonic: the processes were started
    stable: float = 0.0  # the group was stable with all members (the topic still empty)
    filled: float = 0.0  # every record was in the topic
    done: float = 0.0
    ends: dict[int, int] = field(default_factory=dict)
    checked_at_done: dict[int, int] = field(default_factory=dict)
    # (monotonic, partition -> next offset applied)
    samples: list[tuple[float, dict[int, int]]] = field(default_factory=list)
    coverage_at_done: float = 0.0
    coverage_full_s: float | None = None  # seconds after done
    fault_at: float | None = None
    fault_applied: int = 0
    audit: faults.FactsAudit | None = None

    def eps(self) -> float:
        """Events per second from the start of the fill to the last event applied."""
        return sum(self.ends.values()) / max(self.done - self.stable, 1e-6)

    def unchecked_at_done(self) -> dict[int, int]:
        """Per partition, the stored events the alert checks had not covered yet."""
        return {
            p: e - min(self.checked_at_done.get(p, 0), e)
            for p, e in sorted(self.ends.items())
            if self.checked_at_done.get(p, 0) < e
        }

    def stalls(self) -> tuple[float, float, float]:
        """(longest gap of a partition with events left before the fault, the same after
        it, the longest time no partition with events left moved after it)."""
        assert self.fault_at is not None
        ends = self.ends
        before = after = nobody = 0.0
        last_move = {p: self.samples[0][0] for p in ends}
        last_any = self.fault_at
        prev = self.samples[0][1]
        for t, pos in self.samples[1:]:
            moved = False
            for p, end in ends.items():
                if pos.get(p, 0) != prev.get(p, 0):
                    gap = t - max(last_move[p], self.filled)
                    if t <= self.fault_at:
                        before = max(before, gap)
                    else:
                        after = max(after, t - max(last_move[p], self.fault_at))
                    last_move[p] = t
                    moved = True
                elif prev.get(p, 0) >= end:
                    last_move[p] = t  # finished: not stalled
            left = any(prev.get(p, 0) < e for p, e in ends.items())
            if t > self.fault_at and left and moved:
                nobody = max(nobody, t - last_any)
                last_any = t
            prev = pos
        return before, after, nobody


async def _positions(db: Database, group: str, topic: str) -> dict[int, int]:
    async with db.transaction(write=False) as session:
        rows = (
            await session.execute(
                select(ConsumerOffset.partition, ConsumerOffset.next_offset).where(
                    ConsumerOffset.group_id == group, ConsumerOffset.topic == topic
                )
            )
        ).all()
    return {int(p): int(o) for p, o in rows}


async def _coverage(db: Database, ends: dict[int, int]) -> float:
    """Share of the stored events the alert checks covered (every log record here is a
    stored event: the events are unique and all readable)."""
    async with db.transaction(write=False) as session:
        cursor = await checked_up_to(session)
    checked = sum(min(cursor.get(p, 0), e) for p, e in ends.items())
    return checked / sum(ends.values())


async def _group_stable(admin: AIOKafkaAdminClient, group: str, members: int) -> bool:
    try:
        described = await admin.describe_consumer_groups([group])
    except Exception:  # the coordinator is not there yet
        return False
    for response in described:
        for g in response.groups:
            # (error_code, group, state, protocol_type, protocol, members, ...)
            if g[1] == group and g[2] == "Stable" and len(g[5]) == members:
                return True
    return False


async def _drain(
    *,
    server: str,
    bootstrap: str,
    records: list[tuple[bytes, bytes]],
    k: int,
    name: str,
    logs: Path,
    log: Any,
    fault: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Drain:
    """Start ``k`` scoring processes on a fresh database, group and (empty) topic; once
    the group is stable, fill the topic with ``records``; wait until every event is
    applied and checked (with ``fault``: "kill" or "term" one at 20%)."""
    total = len(records)
    suffix = uuid.uuid4().hex[:6]
    topic = f"bench.scale.{name}.{suffix}"
    await _create_topic(bootstrap, topic, PARTITIONS)
    db_url = await _create_database(server, f"bench_scale_{name}_{suffix}")
    await asyncio.to_thread(upgrade, db_url)
    db = Database(db_url)
    async with db.transaction() as session:  # the tenant first: reps refer to it
        await tenant_repo.ensure_tenant(
            session, tenant_id=TENANT, name="Default", now=datetime.now(UTC)
        )
    await _register_reps(db_url)
    group = f"scale-{name}-{suffix}"
    env = _env(
        PACELINE_DATABASE_URL=db_url,
        PACELINE_KAFKA_BOOTSTRAP=bootstrap,
        PACELINE_KAFKA_PARTITIONS=str(PARTITIONS),
        PACELINE_TOPIC=topic,
        PACELINE_CONSUMER_GROUP=group,
        PACELINE_DATA_DIR=str(logs / name),
        **(extra_env or {}),
    )
    (logs / name).mkdir(parents=True, exist_ok=True)
    ports = free_ports(k + 1)
    running = [procs.paceline(f"{name}-{i}", "scoring", ports[i], env, logs) for i in range(k)]
    drain = Drain(procs=k, started=time.monotonic())
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    deadline = drain.started + 900
    actions: list[asyncio.Task[None]] = []

    async def act(what: str) -> None:
        # In the background: the sampling goes on meanwhile.
        victim = running[0]
        if what == "kill":
            victim.kill()
            await asyncio.sleep(1)
            victim.start()
            running.append(procs.paceline(f"{name}-{k}", "scoring", ports[k], env, logs))
        else:
            await asyncio.to_thread(victim.stop)

    try:
        while not await _group_stable(admin, group, k):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: the group never became stable with {k} members")
            await asyncio.sleep(SAMPLE_S)
        drain.stable = time.monotonic()
        await _prefill(bootstrap, topic, records)
        drain.filled = time.monotonic()
        # The producer partitions by key as the shared partitioner does (tested against
        # the Java client): the log-end offsets without reading the log back.
        ends = dict(Counter(partition_for(key, PARTITIONS) for key, _v in records))
        drain.ends = ends
        while True:
            now = time.monotonic()
            pos = await _positions(db, group, topic)
            drain.samples.append((now, pos))
            applied = sum(pos.values())
            if fault and drain.fault_at is None and applied >= total * 0.2:
                drain.fault_at, drain.fault_applied = now, applied
                log(f"  {name}: {fault} one process at {applied} of {total} applied")
                actions.append(asyncio.create_task(act(fault)))
            if all(pos.get(p, 0) >= e for p, e in ends.items()):
                drain.done = now
                drain.coverage_at_done = await _coverage(db, ends)
                async with db.transaction(write=False) as session:
                    drain.checked_at_done = await checked_up_to(session)
                break
            if now > deadline:
                raise RuntimeError(f"{name}: scoring did not catch up: {pos} of {ends}")
            await asyncio.sleep(max(0.0, SAMPLE_S - (time.monotonic() - now)))
        while drain.coverage_full_s is None:
            if await _coverage(db, ends) >= 1.0:
                drain.coverage_full_s = time.monotonic() - drain.done
            elif time.monotonic() > deadline:
                break
            else:
                await asyncio.sleep(SAMPLE_S)
    finally:
        for task in actions:
            await task
        await admin.close()
        await db.dispose()
        for p in running:
            await asyncio.to_thread(p.stop)
    log_records = await faults._read_log(bootstrap, topic, PARTITIONS)
    if len(log_records) != total:
        raise RuntimeError(f"{name}: {len(log_records)} records in the log, {total} sent")
    envelopes = [(p, o, Envelope.model_validate_json(v)) for p, o, v in log_records]
    drain.audit = await faults.audit_facts(db_url, envelopes)
    return drain


def _result(
    value: float | None, baseline: float | None, *, unit: str, better: str, label: str, **x: Any
) -> harness.Result:
    ratio = round(value / baseline, 3) if value is not None and baseline else None
    return {
        "value": None if value is None else round(value, 3),
        "baseline": None if baseline is None else round(baseline, 3),
        "ratio": ratio,
        "unit": unit,
        "better": better,
        "label": label,
        **x,
    }


def run(ctx: harness.Context) -> dict[str, harness.Result]:
    """Scale-out, coverage and the kill stall; results keyed as docs/PERFORMANCE.md shows."""
    total = 12_000 if ctx.quick else 60_000
    server = ctx.postgres()
    bootstrap = ctx.kafka()
    logs = ctx.tmp / "scaleout"
    logs.mkdir(parents=True, exist_ok=True)
    records = _envelope_bytes(_events(total, prefix="x"))

    def drain(k: int, name: str, **kw: Any) -> Drain:
        d = ctx.run_async(
            _drain(
                server=server,
                bootstrap=bootstrap,
                records=records,
                k=k,
                name=name,
                logs=logs,
                log=ctx.log,
                **kw,
            )
        )
        assert d.audit is not None
        ctx.log(
            f"  {d.eps():.0f} events/s; alert checks {d.coverage_at_done:.1%} at facts done "
            f"(unchecked per partition {d.unchecked_at_done()}), 100% after "
            f"{_s(d.coverage_full_s)} s; {d.audit.rows_differing} fact rows differ"
        )
        if d.audit.rows_differing:
            ctx.note(
                f"**{name}: {d.audit.rows_differing} fact rows differ from the recount** "
                f"(first: {'; '.join(d.audit.differences[:3])})"
            )
        return d

    results: dict[str, harness.Result] = {}
    runs: dict[int, Drain] = {}
    table = "Scale-out (events applied per second, fill to done)"
    for k in (1, 2, 3):
        ctx.log(f"{k} scoring process(es)")
        runs[k] = drain(k, f"k{k}")
    base = runs[1].eps()
    for k, d in runs.items():
        assert d.audit is not None
        results["scale_out_1_proc" if k == 1 else f"scale_out_{k}_vs_1"] = _result(
            d.eps(),
            base,
            unit="events/s",
            better="higher",
            table=table,
            label=f"{k} process{'es' if k > 1 else ''} vs 1",
            n=total,
            startup_s=round(d.stable - d.started, 1),
            fact_rows=d.audit.fact_rows,
            rows_differing=d.audit.rows_differing,
        )
    for k, d in runs.items():
        results[f"alert_coverage_{k}_procs"] = _result(
            d.coverage_at_done,
            1.0,
            unit="share",
            better="higher",
            table="Alert checks when the facts are complete",
            label=f"share of stored events checked, {k} process{'es' if k > 1 else ''}",
            full_after_s=_s(d.coverage_full_s),
            unchecked_at_done={str(p): n for p, n in d.unchecked_at_done().items()},
        )
        results[f"alert_coverage_full_{k}_procs_s"] = _result(
            d.coverage_full_s,
            None,
            unit="s",
            better="lower",
            table="Alert checks when the facts are complete",
            label=f"seconds from facts complete to 100% checked, {k} process"
            f"{'es' if k > 1 else ''}",
        )

    stall_table = "Stall after a fault (2 processes; seconds)"
    for name, fault, extra, label in (
        ("kill", "kill", None, "SIGKILL + restart + a third joining, deployed settings"),
        (
            "kill_old",
            "kill",
            OLD_CONSUMER,
            "SIGKILL + restart + a third joining, earlier 10,000 / 2,000 ms",
        ),
        ("term", "term", None, "SIGTERM (LeaveGroup), deployed settings"),
    ):
        ctx.log(f"fault case {name}")
        d = drain(2, name, fault=fault, extra_env=extra)
        assert d.audit is not None
        if d.fault_at is None:
            ctx.note(f"{name}: the drain ended before the fault point")
            continue
        before, after, nobody = d.stalls()
        ctx.log(f"  stall {after:.1f}s (normal gap {before:.1f}s), all stalled {nobody:.1f}s")
        results[f"stall_{name}_s"] = _result(
            after,
            before,
            unit="s",
            better="lower",
            table=stall_table,
            label=label,
            all_partitions_stalled_s=round(nobody, 2),
            rows_differing=d.audit.rows_differing,
            fault_at_applied=d.fault_applied,
            coverage_full_after_s=_s(d.coverage_full_s),
        )
    ctx.note(
        "Start-up (processes started to group stable, not counted): "
        + "; ".join(
            f"{k} process{'es' if k > 1 else ''} {d.stable - d.started:.1f} s"
            for k, d in runs.items()
        )
        + "."
    )
    return results


def _s(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
