"""The Kafka event log (distributed mode), on aiokafka.

Producer: idempotent, ``acks=all``, so an append that returns is on every in-sync
replica, and retries inside the client never duplicate or reorder a partition. Records
are keyed by tenant, type and CRM record id, so the default (murmur2) partitioner keeps
all versions of one record in one partition, in order.

An append that cannot complete within ``append_timeout_s`` (broker down, no leader)
raises :class:`EventLogUnavailable`: the caller answers 503 and the sender retries. If
the records did reach the broker after all, the retry is a repeated ``event_id``, which
the scoring service ignores.

Consumer: manual commits only; the scoring service keeps its true positions in its
database (committed with the facts) and seeks to them whenever partitions are assigned.

Group membership (docs/OPERATIONS.md, "Rebalances and stalls"): aiokafka 0.14 speaks
only the classic, *eager* rebalance protocol (every member gives up all its partitions
at each rebalance; no cooperative-sticky, no KIP-848 consumer protocol), so what can be
tuned is how soon a rebalance starts. A member that stops cleanly sends LeaveGroup in
:meth:`KafkaLogConsumer.close` and its peers rebalance at their next heartbeat; a member
that dies is noticed only after ``session_timeout_ms``, and a rebalance started before
that (a restarted or new member joining) waits for it as long. Both are settings
(``PACELINE_KAFKA_SESSION_TIMEOUT_MS``, ``PACELINE_KAFKA_HEARTBEAT_INTERVAL_MS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]  # untyped upstream
from aiokafka.abc import ConsumerRebalanceListener  # type: ignore[import-untyped]  # untyped upstream
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]  # untyped upstream
from aiokafka.errors import (  # type: ignore[import-untyped]  # untyped upstream
    IllegalStateError,
    InvalidProducerIdMapping,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    ProducerFenced,
    TopicAlreadyExistsError,
    UnknownProducerId,
)

from paceline.shared.errors import EventLogUnavailable
from paceline.shared.eventlog.base import (
    ConsumedRecord,
    EventLog,
    LogConsumer,
    LogPosition,
    LogRecord,
    PositionsProvider,
    kafka_partitioner,
)

log = logging.getLogger(__name__)

# Errors after which an idempotent producer never sends again: its background sender has
# stopped (a broker restart can leave its sequence numbers out of step with the broker's,
# OutOfOrderSequenceNumber). The Java client treats these as fatal too: close the
# producer, start a new one (a new producer id, fresh sequences).
FATAL_PRODUCER_ERRORS: tuple[type[BaseException], ...] = (
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
    InvalidProducerIdMapping,
    IllegalStateError,
    ProducerClosed,
)


class KafkaEventLog(EventLog):
    """The event log on an Apache Kafka topic."""

    def __init__(
        self,
        bootstrap: str,
        *,
        topic: str = "paceline.events",
        partitions: int = 6,
        replication_factor: int = 1,
        client_id: str = "paceline",
        linger_ms: int = 2,
        append_timeout_s: float = 10.0,
        request_timeout_ms: int = 10_000,
        session_timeout_ms: int = 6_000,
        heartbeat_interval_ms: int = 1_000,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.client_id = client_id
        self.linger_ms = linger_ms
        self.append_timeout_s = append_timeout_s
        self.request_timeout_ms = request_timeout_ms
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self._producer: AIOKafkaProducer | None = None
        self._offsets: AIOKafkaConsumer | None = None  # reads log-end offsets (lag, audits)
        self._connecting: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self.producers_replaced = 0

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=self.linger_ms,
            request_timeout_ms=self.request_timeout_ms,
            max_batch_size=256 * 1024,
            partitioner=kafka_partitioner,
        )

    async def ensure_topic(self) -> None:
        """Create the topic if it does not exist yet."""
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap,
            client_id=f"{self.client_id}-admin",
            request_timeout_ms=self.request_timeout_ms,
        )
        try:
            await admin.start()
            existing = await admin.list_topics()
            if self.topic not in existing:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(
                        [NewTopic(self.topic, self.partitions, self.replication_factor)]
                    )
            else:
                described = await admin.describe_topics([self.topic])
                self.partitions = len(described[0]["partitions"]) or self.partitions
        finally:
            await admin.close()

    async def _connect(self) -> None:
        """Start a producer, retrying until the broker answers."""
        delay = 0.5
        while True:
            producer = self._new_producer()
            try:
                await self.ensure_topic()
                await producer.start()
            except (KafkaError, OSError) as exc:
                log.warning("event log: Kafka not reachable yet (%s); retrying", exc)
                with contextlib.suppress(Exception):
                    await producer.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self._producer = producer
            log.info("event log: connected to Kafka at %s, topic %s", self.bootstrap, self.topic)
            return

    async def start(self) -> None:
        """Connect in the background; appends answer EventLogUnavailable until connected."""
        self._connecting = asyncio.create_task(self._connect(), name="kafka-connect")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._connecting), 15)

    def _replace_producer(self, producer: AIOKafkaProducer, exc: BaseException) -> None:
        """Retire a producer that can no longer send and connect a new one."""
        if self._producer is not producer:
            return  # another append already replaced it
        log.error("event log: the Kafka producer cannot send any more (%r); replacing it", exc)
        self._producer = None
        self.producers_replaced += 1

        retired: Any = producer

        async def retire() -> None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(retired.stop(), self.append_timeout_s)

        task = asyncio.create_task(retire(), name="kafka-retire-producer")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)
        self._connecting = asyncio.create_task(self._connect(), name="kafka-reconnect")

    @staticmethod
    def _sender_stopped(producer: AIOKafkaProducer) -> bool:
        # aiokafka keeps no public flag; a finished sender task means nothing is sent.
        task = getattr(getattr(producer, "_sender", None), "sender_task", None)
        return bool(task is not None and task.done())

    async def close(self) -> None:
        """Flush and stop the producer."""
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        for task in list(self._retiring):
            with contextlib.suppress(Exception):
                await task
        if self._producer is not None:
            with contextlib.suppress(KafkaError):
                await self._producer.stop()
            self._producer = None
        if self._offsets is not None:
            with contextlib.suppress(KafkaError):
                await self._offsets.stop()
            self._offsets = None

    async def append(self, records: Sequence[LogRecord]) -> list[LogPosition]:
        """Send records with acks=all and wait for all of them."""
        producer = self._producer
        if producer is None:
            raise EventLogUnavailable("the event log (Kafka) is not connected", retry_after_s=5)
        if not records:
            return []

        try:
            # asyncio.timeout, not wait_for: no task per append (single-event requests).
            async with asyncio.timeout(self.append_timeout_s):
                futures = [
                    await producer.send(self.topic, value=r.value, key=r.key) for r in records
                ]
                metas = [await futures[0]] if len(futures) == 1 else await asyncio.gather(*futures)
            return [LogPosition(m.partition, m.offset) for m in metas]
        except (KafkaError, TimeoutError) as exc:
            log.warning("event log: append failed: %r", exc)
            if isinstance(exc, FATAL_PRODUCER_ERRORS) or self._sender_stopped(producer):
                self._replace_producer(producer, exc)
            raise EventLogUnavailable(
                "the event log (Kafka) did not acknowledge the events", retry_after_s=5
            ) from None

    async def check(self) -> None:
        """Raise EventLogUnavailable unless a broker answers metadata requests."""
        producer = self._producer
        if producer is None:
            raise EventLogUnavailable("the event log (Kafka) is not connected", retry_after_s=5)
        try:
            ok = await asyncio.wait_for(producer.client.force_metadata_update(), 5)
        except (KafkaError, TimeoutError, OSError):
            ok = False
        if not ok:
            raise EventLogUnavailable("no Kafka broker answers", retry_after_s=5)

    async def end_offsets(self) -> dict[int, int]:
        """The next offset per partition (the log-end offsets)."""
        async with self._lock:
            if self._offsets is None:
                consumer = AIOKafkaConsumer(
                    bootstrap_servers=self.bootstrap,
                    client_id=f"{self.client_id}-offsets",
                    enable_auto_commit=False,
                    request_timeout_ms=self.request_timeout_ms,
                )
                try:
                    await consumer.start()
                except (KafkaError, OSError) as exc:
                    await consumer.stop()
                    raise EventLogUnavailable(f"cannot reach Kafka: {exc}") from None
                self._offsets = consumer
            consumer = self._offsets
        try:
            tps = [TopicPartition(self.topic, p) for p in range(self.partitions)]
            ends = await asyncio.wait_for(consumer.end_offsets(tps), self.append_timeout_s)
            return {tp.partition: int(off) for tp, off in ends.items()}
        except (KafkaError, TimeoutError, OSError) as exc:
            raise EventLogUnavailable(f"cannot read Kafka offsets: {exc!r}") from None

    def consumer(self, group_id: str) -> LogConsumer:
        """A consumer in a Kafka consumer group."""
        return KafkaLogConsumer(self, group_id)


class _SeekOnAssign(ConsumerRebalanceListener):  # type: ignore[misc]  # untyped base
    def __init__(self, owner: KafkaLogConsumer, positions: PositionsProvider) -> None:
        self.owner = owner
        self.positions = positions

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Positions live in the database with the facts: nothing to save here.
        log.info("scoring: partitions revoked: %s", sorted(tp.partition for tp in revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        consumer = self.owner._consumer
        assert consumer is not None
        parts = frozenset(tp.partition for tp in assigned)
        # aiokafka already fetches the new partitions from the group's committed (or the
        # earliest) offsets: hold them back until they are positioned, or getmany would
        # return records from there and then again from the positions below.
        consumer.pause(*assigned)
        try:
            given = await self.positions(parts)
            for tp in assigned:
                # Offset 0 for partitions never applied: a plain seek needs no broker round
                # trip here (if retention removed offset 0, auto_offset_reset=earliest
                # moves to the first record still kept).
                consumer.seek(tp, int(given.get(tp.partition, 0)))
        finally:
            consumer.resume(*assigned)
        log.info("scoring: partitions assigned: %s", sorted(parts))


class KafkaLogConsumer(LogConsumer):
    """A member of a Kafka consumer group with manual commits."""

    def __init__(self, log_: KafkaEventLog, group_id: str) -> None:
        self._log = log_
        self.group_id = group_id
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self, positions: PositionsProvider) -> None:
        """Join the group; seek to the database's positions on every assignment."""
        await self._log.ensure_topic()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._log.bootstrap,
            client_id=f"{self._log.client_id}-scoring",
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=2000,
            fetch_max_wait_ms=100,
            request_timeout_ms=max(self._log.request_timeout_ms, 40_000),
            session_timeout_ms=self._log.session_timeout_ms,
            heartbeat_interval_ms=self._log.heartbeat_interval_ms,
        )
        self._consumer = consumer
        consumer.subscribe([self._log.topic], listener=_SeekOnAssign(self, positions))
        try:
            await consumer.start()
        except BaseException:
            self._consumer = None
            with contextlib.suppress(Exception):
                await consumer.stop()
            raise

    def assignment(self) -> frozenset[int]:
        """Partitions assigned to this member."""
        if self._consumer is None:
            return frozenset()
        return frozenset(tp.partition for tp in self._consumer.assignment())

    async def getmany(self, *, max_records: int, timeout_s: float) -> list[ConsumedRecord]:
        """A batch across the assigned partitions, in offset order per partition."""
        assert self._consumer is not None
        batches = await self._consumer.getmany(
            timeout_ms=int(timeout_s * 1000), max_records=max_records
        )
        out: list[ConsumedRecord] = []
        for tp, messages in batches.items():
            out.extend(
                ConsumedRecord(tp.partition, m.offset, m.key or b"", m.value or b"", m.timestamp)
                for m in messages
            )
        return out

    async def seek(self, positions: Mapping[int, int]) -> None:
        """Continue reading the given partitions from the given offsets."""
        assert self._consumer is not None
        owned = self.assignment()
        for p, o in positions.items():
            if p in owned:
                self._consumer.seek(TopicPartition(self._log.topic, p), int(o))

    async def commit(self, positions: Mapping[int, int]) -> None:
        """Commit the group's next offsets to Kafka (best effort; the database is the truth)."""
        assert self._consumer is not None
        owned = self.assignment()
        offsets = {
            TopicPartition(self._log.topic, p): int(o) for p, o in positions.items() if p in owned
        }
        if offsets:
            await self._consumer.commit(offsets)

    async def close(self) -> None:
        """Leave the group (LeaveGroup: the peers take the partitions at once)."""
        if self._consumer is not None:
            # stop() ends the coordinator, which sends LeaveGroup while it is a member.
            await self._consumer.stop()
            self._consumer = None
