"""A process's long-lived resources: database, event log, key store, clock."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from paceline.shared.clock import Clock, SystemClock
from paceline.shared.crypto import SecretBox, secret_box
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.session import Database
from paceline.shared.eventlog import EventLog
from paceline.shared.eventlog.embedded import EmbeddedEventLog
from paceline.shared.eventlog.kafka import KafkaEventLog
from paceline.shared.settings import Settings
from paceline.shared.web.deps import KeyStore
from paceline.shared.web.ratelimit import RateLimiter

log = logging.getLogger(__name__)


def make_eventlog(settings: Settings) -> EventLog:
    """Kafka when ``PACELINE_KAFKA_BOOTSTRAP`` is set, else the embedded log."""
    if settings.kafka_bootstrap:
        return KafkaEventLog(
            settings.kafka_bootstrap,
            topic=settings.topic,
            partitions=settings.kafka_partitions,
            replication_factor=settings.kafka_replication_factor,
            append_timeout_s=settings.append_timeout_s,
            session_timeout_ms=settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        )
    return EmbeddedEventLog(
        settings.embedded_log_path,
        topic=settings.topic,
        partitions=settings.embedded_partitions,
    )


@dataclass
class Runtime:
    """Resources opened at start-up and closed at shutdown."""

    settings: Settings
    db: Database
    clock: Clock
    keys: KeyStore
    eventlog: EventLog | None
    box: SecretBox

    async def close(self) -> None:
        """Release everything."""
        await self.keys.close()  # last-used writes in flight finish before the pool closes
        if self.eventlog is not None:
            await self.eventlog.close()
        await self.db.dispose()


async def open_runtime(
    settings: Settings, *, with_log: bool, clock: Clock | None = None
) -> Runtime:
    """Open the database (and the event log if this process needs it)."""
    clock = clock or SystemClock()
    db = Database(settings.effective_database_url)
    eventlog = make_eventlog(settings) if with_log else None
    if eventlog is not None:
        await eventlog.start()
    return Runtime(
        settings=settings,
        db=db,
        clock=clock,
        keys=KeyStore(
            db,
            clock,
            limiter=RateLimiter(
                rate_per_s=settings.rate_limit_per_s, burst=settings.rate_limit_burst, clock=clock
            ),
        ),
        eventlog=eventlog,
        box=secret_box(settings),
    )


async def bootstrap(runtime: Runtime) -> None:
    """Create the default tenant and the operator's bootstrap key if they are missing."""
    try:
        await _bootstrap(runtime)
    except IntegrityError:
        # Another process of the stack created them at the same moment.
        await _bootstrap(runtime)


async def _bootstrap(runtime: Runtime) -> None:
    settings = runtime.settings
    async with runtime.db.transaction() as session:
        await tenant_repo.ensure_tenant(
            session,
            tenant_id=settings.default_tenant,
            name="Default",
            now=runtime.clock.now(),
        )
        if settings.bootstrap_api_key is not None:
            created = await tenant_repo.ensure_bootstrap_key(
                session,
                tenant_id=settings.default_tenant,
                plaintext=settings.bootstrap_api_key.get_secret_value(),
                now=runtime.clock.now(),
            )
            if created:
                log.info("created the bootstrap admin key for tenant %s", settings.default_tenant)
