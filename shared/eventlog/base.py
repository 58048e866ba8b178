"""The event-log interface shared by the Kafka and the embedded implementations."""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from aiokafka.partitioner import murmur2  # type: ignore[import-untyped]  # untyped upstream


@dataclass(frozen=True, slots=True)
class LogRecord:
    """A record to append: its key decides the partition."""

    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class LogPosition:
    """Where an appended record landed."""

    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class ConsumedRecord:
    """A record read back from the log."""

    partition: int
    offset: int
    key: bytes
    value: bytes
    timestamp_ms: int


# Called when partitions are assigned to a consumer: returns the next offset to read per
# partition (a partition left out starts at the beginning of the log).
PositionsProvider = Callable[[frozenset[int]], Awaitable[Mapping[int, int]]]


class EventLog(abc.ABC):
    """A partitioned, durable, append-only log of records."""

    topic: str
    partitions: int

    @abc.abstractmethod
    async def start(self) -> None:
        """Open connections; the log may still be unavailable afterwards."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Flush and release everything."""

    @abc.abstractmethod
    async def append(self, records: Sequence[LogRecord]) -> list[LogPosition]:
        """Append records durably, in order per key; raise EventLogUnavailable if not."""

    @abc.abstractmethod
    async def check(self) -> None:
        """Raise EventLogUnavailable unless the log can take appends now."""

    @abc.abstractmethod
    async def end_offsets(self) -> dict[int, int]:
        """The next offset that will be written, per partition."""

    @abc.abstractmethod
    def consumer(self, group_id: str) -> LogConsumer:
        """A consumer in a consumer group; it reads the partitions the group assigns it."""


class LogConsumer(abc.ABC):
    """Reads batches of records from the partitions assigned to it."""

    @abc.abstractmethod
    async def start(self, positions: PositionsProvider) -> None:
        """Join the group; on every assignment, start where ``positions`` says."""

    @abc.abstractmethod
    async def getmany(self, *, max_records: int, timeout_s: float) -> list[ConsumedRecord]:
        """Up to ``max_records`` records, in offset order per partition; [] on timeout."""

    @abc.abstractmethod
    async def seek(self, positions: Mapping[int, int]) -> None:
        """Continue reading these partitions from these offsets."""

    @abc.abstractmethod
    async def commit(self, positions: Mapping[int, int]) -> None:
        """Record the group's next offsets (for lag reporting and fallbacks)."""

    @abc.abstractmethod
    def assignment(self) -> frozenset[int]:
        """The partitions this consumer currently owns."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Leave the group."""


def partition_for(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2 of the key), so both logs place keys alike."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions
