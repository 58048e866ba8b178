"""Start and stop the scoring process's alert engine and delivery dispatcher."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from paceline.scoring.alerts.engine import AlertEngine
from paceline.scoring.delivery.dispatcher import Dispatcher, RetryPolicy
from paceline.shared.clock import Clock
from paceline.shared.crypto import SecretBox
from paceline.shared.db.session import Database
from paceline.shared.eventlog import EventLog
from paceline.shared.eventlog.embedded import EmbeddedEventLog
from paceline.shared.eventlog.kafka import KafkaEventLog
from paceline.shared.settings import Settings

log = logging.getLogger(__name__)


def alerts_log(settings: Settings) -> EventLog:
    """The log alerts are published on: Kafka's alerts topic, or the embedded log's."""
    if settings.kafka_bootstrap:
        return KafkaEventLog(
            settings.kafka_bootstrap,
            topic=settings.alerts_topic,
            partitions=settings.kafka_partitions,
            replication_factor=settings.kafka_replication_factor,
            client_id="paceline-alerts",
            append_timeout_s=settings.append_timeout_s,
        )
    return EmbeddedEventLog(settings.embedded_log_path, topic=settings.alerts_topic, partitions=1)


@dataclass
class Alerting:
    """The engine, the dispatcher, the alerts topic and their tasks."""

    engine: AlertEngine
    dispatcher: Dispatcher
    publisher: EventLog | None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def close(self) -> None:
        """Stop the loops and release the clients."""
        self.engine.stop()
        self.dispatcher.stop()
        for task in self.tasks:
            if task.done():
                continue
            try:
                await asyncio.wait_for(task, 15)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise
            except Exception:
                log.exception("alerts: a loop ended with an error")
        await self.dispatcher.close()
        if self.publisher is not None:
            await self.publisher.close()


async def start_alerting(
    *,
    settings: Settings,
    db: Database,
    clock: Clock,
    box: SecretBox,
    eventlog: EventLog | None,
) -> Alerting:
    """Create the engine and dispatcher and start their loops (per the settings)."""
    publisher: EventLog | None = alerts_log(settings)
    try:
        assert publisher is not None
        await publisher.start()
    except Exception:  # publication is retried by the dispatcher; deliveries go on
        log.warning("alerts: the alerts topic is not available; publication disabled")
        publisher = None
    dispatcher = Dispatcher(
        db=db,
        clock=clock,
        box=box,
        publisher=publisher,
        policy=RetryPolicy(
            base_s=settings.delivery_backoff_base_s,
            cap_s=settings.delivery_backoff_cap_s,
            window_s=settings.delivery_retry_window_s,
        ),
        timeout_s=settings.outbound_timeout_s,
        allow_private=settings.outbound_private_allowed,
        concurrency=settings.delivery_concurrency,
        poll_s=settings.delivery_poll_s or 1.0,
    )
    await dispatcher.__aenter__()
    engine = AlertEngine(
        db=db,
        clock=clock,
        eventlog=eventlog,
        group_id=settings.consumer_group,
        tick_s=settings.alerts_tick_s,
        on_change=dispatcher.wake,
    )
    out = Alerting(engine=engine, dispatcher=dispatcher, publisher=publisher)
    out.tasks.append(asyncio.create_task(engine.follow(), name="alert-follower"))
    if settings.alerts_tick_s > 0:
        out.tasks.append(asyncio.create_task(engine.run(), name="alert-engine"))
    if settings.delivery_poll_s > 0:
        out.tasks.append(asyncio.create_task(dispatcher.run(), name="alert-dispatcher"))
    return out
