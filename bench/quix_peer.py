"""A quixstreams peer for scoring (issue 19, item 4): what a user might build instead.

The peer (bench/quix_app.py) is a quixstreams Application with the exactly-once
processing guarantee and a RocksDB state store: it drops events whose id it has seen,
re-keys by rep and day (``group_by``, a repartition topic) and keeps per-rep-day counts and
sums, producing the updated totals to an output topic. quixstreams cannot share our venv
(it pins another pydantic), so the peer runs as a subprocess with build/quix-venv's python
(``make build/quix-venv/.installed``).

:func:`run_quix_peer` times it over a pre-filled topic and checks its answer. Two figures:

- **processed**: events per second from the first input record processed to the last
  event aggregated (start-up, group join and state recovery excluded, as
  bench.pipeline._score_product times Paceline from its first batch started). The
  checkpoints committed within that span are included; the last one is not.
- **durable**: to the moment the consumer group's committed offsets cover that last
  aggregate, i.e. the Kafka transaction holding its output, state changelog and offsets
  has committed and the totals are readable (``read_committed``) downstream. This adds the
  wait for the last checkpoint (up to ``commit_interval``), which is latency, not work.

The answer is checked from scratch: the input topic is read again, deduplicated by event
id, and counted per rep and day; the output topic's last totals per rep-day must equal
that, and the repartition topic must hold exactly one record per unique event (so a
duplicate was dropped before it could be counted, not cancelled later).

``python -m bench.quix_peer [--quick]`` runs it standalone on its own broker, once on
unique events and once with 10% of them sent twice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]

from bench import servers
from bench.harness import REPO_ROOT, scratch_dir
from bench.pipeline import _create_topic, _envelope_bytes, _events, _prefill

QUIX_VENV = REPO_ROOT / "build" / "quix-venv"
QUIX_PYTHON = QUIX_VENV / "bin" / "python"
QUIX_APP = Path(__file__).resolve().parent / "quix_app.py"
PARTITIONS = 6
TZ = "Asia/Shanghai"  # Paceline's default tenant zone: the day an event counts on
# quixstreams' default; each checkpoint is one Kafka transaction (see docs in quix_app).
COMMIT_INTERVAL_S = 5.0
TIMEOUT_S = 600.0

Totals = dict[str, tuple[int, Decimal]]  # "rep|day" -> (count, sum)


class PeerError(RuntimeError):
    """The peer failed, timed out or gave a wrong answer."""


@dataclass
class _Progress:
    first: float | None = None
    done: dict[str, Any] | None = None
    lines: list[str] = field(default_factory=list)


def _rep_day(event: dict[str, Any], zone: ZoneInfo) -> tuple[str, Decimal]:
    day = datetime.fromisoformat(event["occurred_at"]).astimezone(zone).date()
    amount = event.get("amount") or event.get("amount_paid") or "0"
    return f"{event['rep_id']}|{day.isoformat()}", Decimal(amount)


@contextlib.asynccontextmanager
async def _consumer(bootstrap: str, **kwargs: Any) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, **kwargs
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def _read_all(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes]]:
    """Every committed record of a topic (of :data:`PARTITIONS`), from the start to its
    current end."""
    out: list[tuple[bytes | None, bytes]] = []
    async with _consumer(bootstrap, isolation_level="read_committed") as consumer:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            out += [(m.key, m.value) for msgs in batches.values() for m in msgs]
    return out


async def expected_totals(bootstrap: str, topic: str, *, tz: str = TZ) -> tuple[Totals, int]:
    """Per rep-day (count, sum) of the topic's events counted from scratch; and how many
    records the topic holds (duplicates included)."""
    zone = ZoneInfo(tz)
    seen: set[str] = set()
    totals: dict[str, tuple[int, Decimal]] = {}
    records = await _read_all(bootstrap, topic)
    for _key, value in records:
        event = orjson.loads(value)["event"]
        if event["event_id"] in seen:
            continue
        seen.add(event["event_id"])
        key, amount = _rep_day(event, zone)
        n, s = totals.get(key, (0, Decimal(0)))
        totals[key] = (n + 1, s + amount)
    return totals, len(records)


async def _committed(admin: AIOKafkaAdminClient, group: str) -> dict[tuple[str, int], int]:
    offsets = await admin.list_consumer_group_offsets(group)
    return {(tp.topic, tp.partition): om.offset for tp, om in offsets.items()}


async def _end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    async with _consumer(bootstrap) as consumer:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        ends = await consumer.end_offsets(parts)
    return {tp.partition: off for tp, off in ends.items()}


async def _wait_committed(
    admin: AIOKafkaAdminClient,
    group: str,
    topic: str,
    want: dict[int, int],
    deadline: float,
    poll_s: float = 0.02,
) -> float:
    """Wait until the group's committed offsets reach ``want``; the monotonic time seen."""
    while True:
        got = await _committed(admin, group)
        now = time.monotonic()
        if all(got.get((topic, p), -1) >= off for p, off in want.items()):
            return now
        if now > deadline:
            raise PeerError(f"committed offsets of {topic} stay at {got}, want {want}")
        await asyncio.sleep(poll_s)


async def _read_progress(stream: asyncio.StreamReader, progress: _Progress) -> None:
    while line := await stream.readline():
        text = line.decode().strip()
        progress.lines.append(text)
        try:
            obj = json.loads(text)
        except ValueError:
            continue
        if "first" in obj:
            progress.first = obj["first"]
        elif "done" in obj:
            progress.done = obj


async def run_quix_peer(
    bootstrap: str,
    topic: str,
    total: int,
    workdir: Path,
    *,
    commit_interval: float = COMMIT_INTERVAL_S,
    timeout_s: float = TIMEOUT_S,
) -> dict[str, Any]:
    """Run the quixstreams peer over ``topic`` (pre-filled, ``total`` unique events, maybe
    duplicates too) until it has aggregated them all; its rates, checked against a
    from-scratch count (raises :class:`PeerError` when its totals differ)."""
    if not QUIX_PYTHON.exists():
        raise PeerError(f"{QUIX_PYTHON} is missing: run `make build/quix-venv/.installed`")
    suffix = uuid.uuid4().hex[:8]
    group = f"quix-peer-{suffix}"
    output = f"{topic}.quix-totals.{suffix}"
    await _create_topic(bootstrap, output, PARTITIONS)
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    log_path = workdir / f"quix-{suffix}.log"
    settings = {
        "processing_guarantee": "exactly-once",
        "commit_interval": commit_interval,
        "commit_every": 0,
        "state": "RocksDB (default options), changelog topics on",
        "auto_offset_reset": "earliest",
        "consumer_poll_timeout": 1.0,
        "quixstreams": "3.28.1",
    }
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            str(QUIX_PYTHON),
            str(QUIX_APP),
            "--bootstrap",
            bootstrap,
            "--input",
            topic,
            "--output",
            output,
            "--group",
            group,
            "--state-dir",
            str(workdir / f"state-{suffix}"),
            "--expect",
            str(total),
            "--commit-interval",
            str(commit_interval),
            "--tz",
            TZ,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
    assert proc.stdout is not None
    progress = _Progress()
    reader = asyncio.create_task(_read_progress(proc.stdout, progress))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    deadline = time.monotonic() + timeout_s
    try:
        while progress.done is None:
            if proc.returncode is not None or reader.done():
                raise PeerError(f"the peer exited early ({proc.returncode}); see {log_path}")
            if time.monotonic() > deadline:
                raise PeerError(f"the peer did not aggregate {total} events; see {log_path}")
            await asyncio.sleep(0.02)
        done = progress.done
        assert progress.first is not None
        # The checkpoint holding the last aggregate: its offsets commit with its output.
        repartition = str(done["topic"])
        want = {int(p): int(off) + 1 for p, off in done["offsets"].items()}
        durable_at = await _wait_committed(admin, group, repartition, want, deadline)
        # Every input record (duplicates too) consumed and committed before the answer
        # is read: a duplicate that slipped through would be in the totals by then.
        ends = await _end_offsets(bootstrap, topic)
        await _wait_committed(admin, group, topic, ends, deadline)
    finally:
        await admin.close()
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)  # graceful: quixstreams commits and closes
            try:
                await asyncio.wait_for(proc.wait(), 60)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader

    processed_s = float(done["t"]) - progress.first
    durable_s = durable_at - progress.first
    want_totals, records = await expected_totals(bootstrap, topic)
    got: dict[str, tuple[int, Decimal]] = {}
    out_records = await _read_all(bootstrap, output)
    for key, value in out_records:
        t = orjson.loads(value)
        assert key is not None
        got[key.decode()] = (int(t["count"]), Decimal(t["sum"]))
    repartitioned = len(await _read_all(bootstrap, repartition))
    unique = sum(n for n, _ in want_totals.values())
    if unique != total:
        raise PeerError(f"the topic holds {unique} unique events, not {total}")
    if got != want_totals:
        wrong = sorted(
            k for k in want_totals.keys() | got.keys() if got.get(k) != want_totals.get(k)
        )
        raise PeerError(
            f"quixstreams totals differ from a from-scratch count in {len(wrong)} rep-days, "
            f"e.g. {wrong[:3]}: got {[got.get(k) for k in wrong[:3]]}, "
            f"want {[want_totals.get(k) for k in wrong[:3]]}"
        )
    if repartitioned != total:
        raise PeerError(f"{repartitioned} records passed the dedupe, want {total}")
    return {
        "events": total,
        "records": records,
        "duplicates_dropped": records - total,
        "processed_s": round(processed_s, 3),
        "events_per_s": round(total / processed_s, 1),
        "durable_s": round(durable_s, 3),
        "durable_events_per_s": round(total / durable_s, 1),
        "rep_days": len(want_totals),
        "output_records": len(out_records),
        "verified": True,
        "settings": settings,
    }


def with_duplicates(
    events: list[dict[str, Any]], *, every: int = 10, later: int = 1000
) -> list[tuple[bytes, bytes]]:
    """The events' records, plus every ``every``-th event sent again ``later`` records
    after the first copy (a fresh envelope, as a CRM's retry through ingest would be)."""
    first = _envelope_bytes(events)
    again = _envelope_bytes(events[::every])
    ordered = [(float(i), r) for i, r in enumerate(first)]
    ordered += [(i * every + later + 0.5, r) for i, r in enumerate(again)]
    ordered.sort(key=lambda x: x[0])
    return [r for _, r in ordered]


async def trial(
    bootstrap: str, n: int, workdir: Path, *, duplicates: bool, commit_interval: float
) -> dict[str, Any]:
    """Pre-fill a fresh 6-partition topic with ``n`` unique events (and 10% of them again
    when ``duplicates``) and run the peer over it."""
    topic = f"bench.quix.{uuid.uuid4().hex[:8]}"
    await _create_topic(bootstrap, topic, PARTITIONS)
    events = _events(n, prefix=f"q{uuid.uuid4().hex[:6]}")
    records = with_duplicates(events) if duplicates else _envelope_bytes(events)
    await _prefill(bootstrap, topic, records)
    return await run_quix_peer(bootstrap, topic, n, workdir, commit_interval=commit_interval)


def main(argv: list[str] | None = None) -> int:
    """Standalone smoke check: the peer on unique events, then with 10% duplicates."""
    parser = argparse.ArgumentParser(prog="python -m bench.quix_peer", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5,000 events instead of 20,000")
    parser.add_argument("--events", type=int, help="unique events per trial")
    parser.add_argument("--commit-interval", type=float, default=COMMIT_INTERVAL_S)
    parser.add_argument("--bootstrap", help="an existing broker (default: start one)")
    args = parser.parse_args(argv)
    n = args.events or (5_000 if args.quick else 20_000)

    async def both(bootstrap: str, workdir: Path) -> None:
        for duplicates in (False, True):
            result = await trial(
                bootstrap,
                n,
                workdir,
                duplicates=duplicates,
                commit_interval=args.commit_interval,
            )
            print(json.dumps({"duplicates": duplicates, **result}), flush=True)

    with scratch_dir() as workdir, contextlib.ExitStack() as stack:
        bootstrap = args.bootstrap or stack.enter_context(servers.kafka())
        asyncio.run(both(bootstrap, workdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
