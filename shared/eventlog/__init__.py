"""The event log: one interface, two implementations with the same semantics.

* :class:`~paceline.shared.eventlog.kafka.KafkaEventLog`: Apache Kafka through aiokafka
  (idempotent producer, acks=all), for the distributed mode.
* :class:`~paceline.shared.eventlog.embedded.EmbeddedEventLog`: a durable log in SQLite
  (WAL, synchronous=FULL), for the embedded mode.

Both keep records in partitions chosen by key (so all versions of one CRM record stay in
order), give every record an offset, answer an append only once it is durable, and keep
consumer-group positions.
"""

from paceline.shared.eventlog.base import (
    ConsumedRecord,
    EventLog,
    LogConsumer,
    LogPosition,
    LogRecord,
    PositionsProvider,
)

__all__ = [
    "ConsumedRecord",
    "EventLog",
    "LogConsumer",
    "LogPosition",
    "LogRecord",
    "PositionsProvider",
]
