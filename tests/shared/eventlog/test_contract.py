"""The event-log contract, run against both implementations with the same tests.

Every test that takes the ``log`` fixture runs twice: on the embedded log (a SQLite file)
and on the Kafka log (a topic of its own on the real broker that tests/infra.py starts).
Tests named ``test_embedded_*`` cover what only the embedded log promises; the broker
outage test stops and restarts the session broker, so it comes last.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]  # untyped upstream
from aiokafka.partitioner import DefaultPartitioner  # type: ignore[import-untyped]  # untyped
from hypothesis import given, settings
from hypothesis import strategies as st

from paceline.shared.errors import EventLogUnavailable
from paceline.shared.eventlog.base import (
    ConsumedRecord,
    EventLog,
    LogConsumer,
    LogPosition,
    LogRecord,
    PositionsProvider,
    kafka_partitioner,
    partition_for,
)
from paceline.shared.eventlog.embedded import EmbeddedEventLog
from paceline.shared.eventlog.kafka import KafkaEventLog

if TYPE_CHECKING:
    from tests.infra import KafkaBroker

PARTITIONS = 3
# How long a test waits for records it knows are there (a Kafka group join takes seconds).
READ_TIMEOUT_S = 30.0
# How long a test listens to make sure nothing more arrives.
QUIET_S = 0.5


def unique(prefix: str) -> str:
    """A name no other test uses (topics and groups live as long as the session broker)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def embedded_log(path: Path, *, partitions: int = PARTITIONS) -> EmbeddedEventLog:
    """An embedded log on ``path`` that polls other writers quickly."""
    return EmbeddedEventLog(
        path, topic="contract.events", partitions=partitions, poll_interval_s=0.02
    )


@pytest.fixture(params=["embedded", pytest.param("kafka", marks=pytest.mark.kafka)])
async def log(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventLog]:
    """A started event log of each kind with three partitions, closed afterwards."""
    event_log: EventLog
    if request.param == "embedded":
        event_log = embedded_log(tmp_path / "eventlog.sqlite3")
    else:
        bootstrap: str = request.getfixturevalue("kafka_bootstrap")
        event_log = KafkaEventLog(
            bootstrap, topic=unique("contract"), partitions=PARTITIONS, append_timeout_s=5.0
        )
    await event_log.start()
    try:
        await event_log.check()
        yield event_log
    finally:
        await event_log.close()


async def from_beginning(_assigned: frozenset[int]) -> Mapping[int, int]:
    """A positions provider that leaves every partition out: read from the beginning."""
    return {}


@asynccontextmanager
async def consuming(
    log: EventLog, *, positions: PositionsProvider = from_beginning, group: str | None = None
) -> AsyncIterator[LogConsumer]:
    """A started consumer in a group of its own (unless named), closed afterwards."""
    consumer = log.consumer(group or unique("group"))
    await consumer.start(positions)
    try:
        yield consumer
    finally:
        await consumer.close()


async def read_records(
    consumer: LogConsumer, count: int, *, max_records: int = 500, timeout_s: float = READ_TIMEOUT_S
) -> list[ConsumedRecord]:
    """Read until at least ``count`` records arrived or the deadline passed."""
    out: list[ConsumedRecord] = []
    deadline = time.monotonic() + timeout_s
    while len(out) < count and time.monotonic() < deadline:
        batch = await consumer.getmany(max_records=max_records, timeout_s=0.5)
        assert len(batch) <= max_records
        out.extend(batch)
    return out


async def assert_drained(consumer: LogConsumer) -> None:
    """Nothing more is delivered."""
    extra = await consumer.getmany(max_records=100, timeout_s=QUIET_S)
    assert extra == [], f"unexpected extra records: {extra}"


async def wait_assigned(consumer: LogConsumer, partitions: frozenset[int]) -> None:
    """Wait until the consumer owns ``partitions`` (a Kafka group join is asynchronous)."""
    deadline = time.monotonic() + READ_TIMEOUT_S
    while consumer.assignment() != partitions:
        assert time.monotonic() < deadline, f"assignment stuck at {consumer.assignment()}"
        await asyncio.sleep(0.05)


def keys_by_partition(prefix: str, partitions: int = PARTITIONS) -> dict[int, bytes]:
    """One key per partition, found with the shared partitioner."""
    found: dict[int, bytes] = {}
    i = 0
    while len(found) < partitions:
        key = f"{prefix}-{i}".encode()
        found.setdefault(partition_for(key, partitions), key)
        i += 1
    return found


def offsets_per_partition(positions: Sequence[LogPosition]) -> dict[int, list[int]]:
    """The offsets in the order they were returned, grouped by partition."""
    out: dict[int, list[int]] = defaultdict(list)
    for pos in positions:
        out[pos.partition].append(pos.offset)
    return dict(out)


def positions_of(records: Sequence[ConsumedRecord]) -> list[tuple[int, int]]:
    """(partition, offset) of each consumed record, sorted."""
    return sorted((r.partition, r.offset) for r in records)


async def committed_offsets(log: EventLog, group: str) -> dict[int, int]:
    """The next offsets a consumer group committed, as the log itself stores them."""
    if isinstance(log, EmbeddedEventLog):
        return await log.group_offsets(group)
    assert isinstance(log, KafkaEventLog)
    admin = AIOKafkaAdminClient(bootstrap_servers=log.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: int(meta.offset) for tp, meta in offsets.items() if tp.topic == log.topic}


# --------------------------------------------------------------------------------------------
# Partitioning and positions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "java_murmur2"),
    [
        # Expected hashes from Kafka's Java client (org.apache.kafka.common.utils.Utils.murmur2,
        # kafka-clients 4.1.1), which decides where Java producers put a key.
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
        (b"", 275646681),
        (bytes([0, 0xFF, 0x80, 1, 2]), -1177700237),
    ],
)
def test_partition_for_matches_the_java_client(key: bytes, java_murmur2: int) -> None:
    for partitions in (1, 3, 4, 6, 7):
        assert partition_for(key, partitions) == (java_murmur2 & 0x7FFFFFFF) % partitions


@settings(max_examples=2000, deadline=None)
@given(
    key=st.one_of(st.binary(max_size=200), st.text(max_size=80).map(str.encode)),
    partitions=st.lists(st.integers(0, 1000), min_size=1, max_size=64, unique=True).map(sorted),
)
def test_the_compiled_partitioner_places_keys_as_aiokafkas_default(
    key: bytes, partitions: list[int]
) -> None:
    """The producer's partitioner (compiled murmur2) gives aiokafka's default partitioner's
    answer for any key and partition list, and partition_for its index."""
    want = DefaultPartitioner()(key, partitions, partitions)
    assert kafka_partitioner(key, partitions, partitions) == want
    assert partitions[partition_for(key, len(partitions))] == want


def test_the_compiled_partitioner_without_a_key_picks_an_available_partition() -> None:
    picks = {kafka_partitioner(None, [0, 1, 2, 3], [1, 3]) for _ in range(200)}
    assert picks == {1, 3}
    assert kafka_partitioner(None, [0, 1, 2], []) in {0, 1, 2}


async def test_append_returns_positions_that_follow_the_partitioner(log: EventLog) -> None:
    assert log.partitions == PARTITIONS
    assert await log.append([]) == []
    keys = [f"tenant-1/deal/{i}".encode() for i in range(30)]
    first = [LogRecord(k, b"v1:" + k) for k in keys]
    positions = await log.append(first)

    assert len(positions) == len(first)
    for rec, pos in zip(first, positions, strict=True):
        assert pos.partition == partition_for(rec.key, PARTITIONS), rec.key
    per_partition = offsets_per_partition(positions)
    assert set(per_partition) == set(range(PARTITIONS))  # 30 keys reach every partition
    for offsets in per_partition.values():
        assert offsets == list(range(len(offsets)))

    # A second append continues each partition's offsets; the same key keeps its partition.
    second = [LogRecord(k, b"v2:" + k) for k in reversed(keys)]
    again = await log.append(second)
    for rec, pos in zip(second, again, strict=True):
        assert pos.partition == partition_for(rec.key, PARTITIONS)
    for p, offsets in offsets_per_partition(again).items():
        start = len(per_partition[p])
        assert offsets == list(range(start, start + len(offsets)))
    assert await log.end_offsets() == {p: 2 * len(o) for p, o in per_partition.items()}


async def test_records_read_back_once_in_append_order_with_exact_bytes(log: EventLog) -> None:
    keys = [b"deal:1", b"\x00\xff binary \x80", "客户-7".encode(), b"k" * 300]
    appended: list[tuple[LogRecord, LogPosition]] = []
    for version in range(5):
        batch = [LogRecord(k, b"%d|" % version + k + bytes([version]) * version) for k in keys]
        appended += zip(batch, await log.append(batch), strict=True)
    odd = [LogRecord(b"empty", b""), LogRecord(b"large", bytes(range(256)) * 400)]
    appended += zip(odd, await log.append(odd), strict=True)
    # Wall clock on purpose: the records carry the appender's time stamp; not a date check.
    now_ms = int(time.time() * 1000)

    async with consuming(log) as consumer:
        consumed = await read_records(consumer, len(appended))
        await assert_drained(consumer)

    by_position = {(r.partition, r.offset): r for r in consumed}
    assert len(by_position) == len(consumed) == len(appended), "a record is missing or repeated"
    for rec, pos in appended:
        got = by_position[(pos.partition, pos.offset)]
        assert (got.key, got.value) == (rec.key, rec.value)
        assert abs(got.timestamp_ms - now_ms) < 120_000
    # Delivered in offset order per partition, so one key's records come in append order.
    seen: dict[int, list[int]] = defaultdict(list)
    for r in consumed:
        seen[r.partition].append(r.offset)
    assert all(offsets == sorted(offsets) for offsets in seen.values())
    for key in keys:
        values = [r.value for r in consumed if r.key == key]
        assert values == [rec.value for rec, _ in appended if rec.key == key]


async def test_getmany_respects_max_records(log: EventLog) -> None:
    keys = keys_by_partition("max")
    records = [LogRecord(keys[i % PARTITIONS], b"%d" % i) for i in range(20)]
    await log.append(records)

    batches: list[list[ConsumedRecord]] = []
    async with consuming(log) as consumer:
        deadline = time.monotonic() + READ_TIMEOUT_S
        while sum(map(len, batches)) < len(records) and time.monotonic() < deadline:
            batch = await consumer.getmany(max_records=4, timeout_s=0.5)
            assert len(batch) <= 4
            if batch:
                batches.append(batch)
        await assert_drained(consumer)
    consumed = [r for b in batches for r in b]
    assert sorted(r.value for r in consumed) == sorted(r.value for r in records)
    assert len(batches) >= 5


async def test_getmany_returns_nothing_after_the_timeout(log: EventLog) -> None:
    await log.append([LogRecord(b"only", b"one")])
    async with consuming(log) as consumer:
        assert [r.value for r in await read_records(consumer, 1)] == [b"one"]
        started = time.monotonic()
        assert await consumer.getmany(max_records=10, timeout_s=0.5) == []
        waited = time.monotonic() - started
    assert waited >= 0.25, f"getmany returned [] after {waited:.3f}s, before its timeout"


async def test_a_waiting_getmany_returns_a_new_record(log: EventLog) -> None:
    await log.append([LogRecord(b"first", b"1")])
    async with consuming(log) as consumer:
        assert len(await read_records(consumer, 1)) == 1
        started = time.monotonic()
        waiting = asyncio.create_task(consumer.getmany(max_records=10, timeout_s=20.0))
        await asyncio.sleep(0.3)
        [pos] = await log.append([LogRecord(b"second", b"2")])
        got = await waiting
        waited = time.monotonic() - started
    assert [(r.partition, r.offset, r.value) for r in got] == [(pos.partition, pos.offset, b"2")]
    assert waited < 15.0, f"the record arrived only after {waited:.1f}s"


# --------------------------------------------------------------------------------------------
# Start positions, seek, commit
# --------------------------------------------------------------------------------------------


async def test_consumer_starts_where_the_positions_provider_says(log: EventLog) -> None:
    keys = keys_by_partition("start")
    records = [LogRecord(keys[p], b"%d-%d" % (p, i)) for i in range(4) for p in range(PARTITIONS)]
    await log.append(records)
    asked: list[frozenset[int]] = []

    async def provider(assigned: frozenset[int]) -> Mapping[int, int]:
        asked.append(assigned)
        await asyncio.sleep(0.2)  # like the scoring worker's database read
        return {0: 2, 1: 4}  # partition 2 left out: from the beginning

    async with consuming(log, positions=provider) as consumer:
        consumed = await read_records(consumer, 6)
        await assert_drained(consumer)
    assert asked, "the positions provider was never asked"
    assert set(asked) == {frozenset(range(PARTITIONS))}
    assert positions_of(consumed) == [(0, 2), (0, 3), (2, 0), (2, 1), (2, 2), (2, 3)]
    assert {r.value for r in consumed} == {b"0-2", b"0-3", b"2-0", b"2-1", b"2-2", b"2-3"}


async def test_seek_moves_the_read_position(log: EventLog) -> None:
    keys = keys_by_partition("seek")
    await log.append([LogRecord(keys[p], b"%d-%d" % (p, i)) for i in range(3) for p in keys])
    async with consuming(log) as consumer:
        assert len(await read_records(consumer, 9)) == 9
        await assert_drained(consumer)

        await consumer.seek({0: 1, 2: 0})
        again = await read_records(consumer, 5)
        await assert_drained(consumer)
        assert positions_of(again) == [(0, 1), (0, 2), (2, 0), (2, 1), (2, 2)]

        await consumer.seek({1: 2})
        assert [(r.partition, r.offset, r.value) for r in await read_records(consumer, 1)] == [
            (1, 2, b"1-2")
        ]


async def test_commit_stores_group_positions_and_end_offsets_are_next_offsets(
    log: EventLog,
) -> None:
    assert await log.end_offsets() == dict.fromkeys(range(PARTITIONS), 0)
    keys = keys_by_partition("commit")
    # Partition 2 stays empty.
    await log.append([LogRecord(keys[0], b"a%d" % i) for i in range(3)])
    await log.append([LogRecord(keys[1], b"b%d" % i) for i in range(5)])
    assert await log.end_offsets() == {0: 3, 1: 5, 2: 0}

    group = unique("committer")
    async with consuming(log, group=group) as consumer:
        assert len(await read_records(consumer, 8)) == 8
        await wait_assigned(consumer, frozenset(range(PARTITIONS)))
        await consumer.commit({0: 3, 1: 2, 2: 0})
        assert await committed_offsets(log, group) == {0: 3, 1: 2, 2: 0}
        await consumer.commit({1: 5})
        assert await committed_offsets(log, group) == {0: 3, 1: 5, 2: 0}
    # Another group's commits are its own.
    assert await committed_offsets(log, unique("other")) == {}


# --------------------------------------------------------------------------------------------
# The embedded log only
# --------------------------------------------------------------------------------------------


async def test_embedded_reopen_keeps_records_offsets_groups_and_partition_count(
    tmp_path: Path,
) -> None:
    path = tmp_path / "eventlog.sqlite3"
    keys = keys_by_partition("durable")
    first = embedded_log(path)
    await first.start()
    try:
        before = await first.append([LogRecord(keys[p], b"before-%d" % p) for p in keys] * 2)
        await first.commit_group("scoring", {0: 1, 1: 2})
    finally:
        await first.close()

    reopened = embedded_log(path, partitions=5)
    await reopened.start()
    try:
        assert reopened.partitions == PARTITIONS  # fixed when the topic was created
        assert await reopened.end_offsets() == dict.fromkeys(range(PARTITIONS), 2)
        assert await reopened.group_offsets("scoring") == {0: 1, 1: 2}
        after = await reopened.append([LogRecord(keys[p], b"after-%d" % p) for p in keys])
        assert sorted(after, key=lambda p: p.partition) == [
            LogPosition(p, 2) for p in range(PARTITIONS)
        ]
        async with consuming(reopened) as consumer:
            assert consumer.assignment() == frozenset(range(PARTITIONS))
            consumed = await read_records(consumer, 9)
            await assert_drained(consumer)
    finally:
        await reopened.close()
    assert positions_of(consumed) == sorted((p.partition, p.offset) for p in before + after)
    assert sorted(r.value for r in consumed) == sorted(
        [b"before-%d" % p for p in range(PARTITIONS)] * 2
        + [b"after-%d" % p for p in range(PARTITIONS)]
    )


async def test_embedded_closed_log_is_unavailable(tmp_path: Path) -> None:
    never_started = embedded_log(tmp_path / "a.sqlite3")
    with pytest.raises(EventLogUnavailable):
        await never_started.append([LogRecord(b"k", b"v")])

    log = embedded_log(tmp_path / "b.sqlite3")
    await log.start()
    await log.append([LogRecord(b"k", b"v")])
    await log.close()
    await log.close()  # closing twice is harmless
    with pytest.raises(EventLogUnavailable):
        await log.append([LogRecord(b"k", b"v2")])
    with pytest.raises(EventLogUnavailable):
        await log.check()


async def test_embedded_concurrent_appends_all_land_once(tmp_path: Path) -> None:
    log = embedded_log(tmp_path / "eventlog.sqlite3")
    await log.start()
    try:
        records = [LogRecord(b"rep-%d" % (i % 17), b"event-%d" % i) for i in range(200)]
        results = await asyncio.gather(*(log.append([rec]) for rec in records))
        positions = [pos for result in results for pos in result]
        assert len(positions) == len(set(positions)) == len(records)
        for rec, pos in zip(records, positions, strict=True):
            assert pos.partition == partition_for(rec.key, PARTITIONS)
        per_partition = offsets_per_partition(positions)
        for offsets in per_partition.values():
            assert sorted(offsets) == list(range(len(offsets)))  # no gaps, no repeats
        assert await log.end_offsets() == {p: len(o) for p, o in per_partition.items()}

        async with consuming(log) as consumer:
            consumed = await read_records(consumer, len(records))
            await assert_drained(consumer)
    finally:
        await log.close()
    by_position = {(r.partition, r.offset): r.value for r in consumed}
    assert len(consumed) == len(records)
    for rec, pos in zip(records, positions, strict=True):
        assert by_position[(pos.partition, pos.offset)] == rec.value


async def test_embedded_consumer_in_another_instance_sees_appends(tmp_path: Path) -> None:
    path = tmp_path / "eventlog.sqlite3"
    writer, other = embedded_log(path), embedded_log(path)
    await writer.start()
    await other.start()
    try:
        async with consuming(other) as consumer:
            assert await consumer.getmany(max_records=10, timeout_s=0.1) == []
            # Both instances write (as two processes would); offsets must not collide.
            mine = await writer.append([LogRecord(b"k%d" % i, b"w%d" % i) for i in range(6)])
            theirs = await other.append([LogRecord(b"k%d" % i, b"o%d" % i) for i in range(6)])
            consumed = await read_records(consumer, 12, timeout_s=10.0)
            await assert_drained(consumer)
            late = await writer.append([LogRecord(b"late", b"late")])
            assert [r.value for r in await read_records(consumer, 1, timeout_s=10.0)] == [b"late"]
    finally:
        await writer.close()
        await other.close()
    assert len(set(mine + theirs + late)) == 13
    assert positions_of(consumed) == sorted((p.partition, p.offset) for p in mine + theirs)
    assert {r.value for r in consumed} == {b"w%d" % i for i in range(6)} | {
        b"o%d" % i for i in range(6)
    }


# --------------------------------------------------------------------------------------------
# Kafka producer that can no longer send (after a broker restart: OutOfOrderSequenceNumber)
# --------------------------------------------------------------------------------------------


@pytest.mark.kafka
@pytest.mark.parametrize("failure", ["fatal_error", "sender_died"])
async def test_kafka_producer_that_cannot_send_is_replaced(
    kafka_bootstrap: str, failure: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An idempotent producer whose sender stopped never sends again: a new one takes over.

    Seen in the 10-minute fault run: after a broker restart aiokafka's sender failed with
    OutOfOrderSequenceNumber and every later append timed out, so ingest answered 503
    until it was restarted. The failures are injected into the real client on a real
    broker: a fatal error from ``send``, or the sender task gone.
    """
    log = KafkaEventLog(
        kafka_bootstrap, topic=unique("fatal"), partitions=PARTITIONS, append_timeout_s=2.0
    )
    key = keys_by_partition("fatal")[0]
    await log.start()
    try:
        await log.append([LogRecord(key, b"1-before")])
        broken = log._producer
        assert broken is not None
        if failure == "fatal_error":
            from aiokafka.errors import OutOfOrderSequenceNumber  # type: ignore[import-untyped]

            async def fatal(*_args: object, **_kwargs: object) -> None:
                raise OutOfOrderSequenceNumber()

            monkeypatch.setattr(broken, "send", fatal)
        else:
            broken._sender.sender_task.cancel()
            await asyncio.sleep(0.1)
        with pytest.raises(EventLogUnavailable):
            await log.append([LogRecord(key, b"2-unacknowledged")])
        assert log.producers_replaced == 1
        started = time.monotonic()
        while True:
            try:
                await log.append([LogRecord(key, b"3-after")])
                break
            except EventLogUnavailable:
                assert time.monotonic() - started < 30, "no new producer within 30 s"
                await asyncio.sleep(0.2)
        assert log._producer is not None
        assert log._producer is not broken
        assert log.producers_replaced == 1
        async with consuming(log) as consumer:
            values = [r.value for r in await read_records(consumer, 2)]
            values += [r.value for r in await consumer.getmany(max_records=10, timeout_s=QUIET_S)]
    finally:
        await log.close()
    # Acknowledged records are there once, in order; the unacknowledged one at most once.
    assert [v for v in values if v != b"2-unacknowledged"] == [b"1-before", b"3-after"]
    assert values.count(b"2-unacknowledged") <= 1


@pytest.mark.kafka
async def test_kafka_member_that_closes_hands_its_partitions_over_at_once(
    kafka_bootstrap: str,
) -> None:
    """A scoring consumer that stops cleanly leaves the group (LeaveGroup), so its peer
    takes every partition at its next heartbeat, not after the session timeout (45 s
    here: a handover that waited for it would fail the bound below)."""
    log = KafkaEventLog(
        kafka_bootstrap,
        topic=unique("leave"),
        partitions=PARTITIONS,
        session_timeout_ms=45_000,
        heartbeat_interval_ms=500,
    )
    await log.start()
    group = unique("leave")
    every = frozenset(range(PARTITIONS))

    async def poll_until(ready: Callable[[], bool], *members: LogConsumer) -> float:
        started = time.monotonic()
        while not ready():
            assert time.monotonic() - started < READ_TIMEOUT_S, "the group did not settle"
            for member in members:  # as the scoring loop does: keep polling
                await member.getmany(max_records=10, timeout_s=0.05)
        return time.monotonic() - started

    first = log.consumer(group)
    second = log.consumer(group)
    try:
        await first.start(from_beginning)
        await poll_until(lambda: first.assignment() == every, first)
        await second.start(from_beginning)
        await poll_until(
            lambda: (
                bool(second.assignment())
                and first.assignment() | second.assignment() == every
                and not first.assignment() & second.assignment()
            ),
            first,
            second,
        )
        assert first.assignment() != every
        await second.close()
        handover_s = await poll_until(lambda: first.assignment() == every, first)
        assert handover_s < 10, f"handover took {handover_s:.1f} s"
    finally:
        await second.close()
        await first.close()
        await log.close()


# --------------------------------------------------------------------------------------------
# Kafka broker outage (stops the session broker: keep this test last)
# --------------------------------------------------------------------------------------------


async def test_kafka_outage_is_reported_and_nothing_acknowledged_is_lost_or_repeated(
    kafka_broker: KafkaBroker, kafka_bootstrap: str
) -> None:
    keys = keys_by_partition("outage")
    log = KafkaEventLog(
        kafka_bootstrap, topic=unique("outage"), partitions=PARTITIONS, append_timeout_s=5.0
    )
    acked: dict[bytes, LogPosition] = {}  # value -> where it was acknowledged
    unacked: list[bytes] = []
    attempt = 0

    async def try_append() -> bool:
        nonlocal attempt
        attempt += 1
        batch = [LogRecord(keys[p], b"attempt-%03d-p%d" % (attempt, p)) for p in keys]
        try:
            positions = await log.append(batch)
        except EventLogUnavailable:
            unacked.extend(r.value for r in batch)
            return False
        acked.update((r.value, pos) for r, pos in zip(batch, positions, strict=True))
        return True

    await log.start()
    try:
        await log.check()
        assert await try_append()
        assert await try_append()

        await asyncio.to_thread(kafka_broker.stop)
        try:
            started = time.monotonic()
            assert not await try_append()
            append_failed_after_s = time.monotonic() - started
            started = time.monotonic()
            with pytest.raises(EventLogUnavailable):
                await log.check()
            check_failed_after_s = time.monotonic() - started
        finally:
            await asyncio.to_thread(kafka_broker.start)

        started = time.monotonic()
        while not await try_append():
            assert time.monotonic() - started < 60, "appends did not recover within 60 s"
            await asyncio.sleep(0.5)
        recovered_after_s = time.monotonic() - started
        assert await try_append()
        await log.check()
        print(
            f"outage: append raised after {append_failed_after_s:.1f}s, check after "
            f"{check_failed_after_s:.1f}s; appends recovered {recovered_after_s:.1f}s after the "
            f"broker restart; {len(unacked)} records unacknowledged"
        )

        async with consuming(log) as consumer:
            consumed = await read_records(consumer, len(acked))
            # Unacknowledged records that landed after all come on top: read until quiet.
            while batch := await consumer.getmany(max_records=500, timeout_s=QUIET_S):
                consumed += batch
    finally:
        await log.close()
        if not kafka_broker.running:
            await asyncio.to_thread(kafka_broker.start)

    delivered = Counter((r.partition, r.offset) for r in consumed)
    assert [pos for pos, n in delivered.items() if n > 1] == [], "records were delivered twice"
    written = Counter(r.value for r in consumed)
    assert [v for v, n in written.items() if n > 1] == [], "records were written twice"
    by_value = {r.value: r for r in consumed}
    for value, pos in acked.items():
        assert value in by_value, f"acknowledged record {value!r} was lost"
        assert (by_value[value].partition, by_value[value].offset) == (pos.partition, pos.offset)
    # Unacknowledged records may have landed after all, but only once and in order.
    assert set(written) <= set(acked) | set(unacked)
    print(f"outage: {len(set(unacked) & set(written))} of them were written after all")
    for p in range(PARTITIONS):
        values = [r.value for r in sorted(consumed, key=lambda r: r.offset) if r.partition == p]
        assert values == sorted(values), f"partition {p} is out of append order: {values}"
