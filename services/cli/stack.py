"""Compose services into one ASGI app: all three (embedded) or one per process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from functools import partial

from fastapi import APIRouter, FastAPI

from paceline.scoring.alerting import Alerting, start_alerting
from paceline.scoring.worker import ScoringWorker
from paceline.shared.clock import Clock
from paceline.shared.runtime import bootstrap, open_runtime
from paceline.shared.settings import Settings
from paceline.shared.web.app import create_app
from paceline.shared.web.deps import AppState

log = logging.getLogger(__name__)

PARTS = frozenset({"ingest", "scoring", "api"})


def build_app(
    settings: Settings,
    *,
    parts: Collection[str] = PARTS,
    clock: Clock | None = None,
) -> FastAPI:
    """An app serving the given services; scoring runs as a background task."""
    unknown = set(parts) - PARTS
    if unknown:
        raise ValueError(f"unknown services: {sorted(unknown)}")
    # Each service's routers are imported only by a process that serves them: a scoring
    # or ingest process does not load the API (OIDC, reviews, exports: about a second of
    # CPU and a quarter of the modules at start).
    routers: list[APIRouter] = []
    if "ingest" in parts:
        from paceline.ingest.app import routers as ingest_routers

        routers += ingest_routers()
    if "api" in parts:
        from paceline.api.app import routers as api_routers

        routers += api_routers()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await open_runtime(
            settings, with_log=bool({"ingest", "scoring"} & set(parts)), clock=clock
        )
        worker: ScoringWorker | None = None
        task: asyncio.Task[None] | None = None
        alerting: Alerting | None = None
        try:
            await bootstrap(runtime)
            state = AppState(
                settings=settings,
                db=runtime.db,
                clock=runtime.clock,
                keys=runtime.keys,
                eventlog=runtime.eventlog if "ingest" in parts or "scoring" in parts else None,
                box=runtime.box,
            )
            if "scoring" in parts:
                assert runtime.eventlog is not None
                alerting = await start_alerting(
                    settings=settings,
                    db=runtime.db,
                    clock=runtime.clock,
                    box=runtime.box,
                    eventlog=runtime.eventlog,
                )
                state.extras["alerts"] = alerting
                worker = ScoringWorker(
                    db=runtime.db,
                    eventlog=runtime.eventlog,
                    clock=runtime.clock,
                    group_id=settings.consumer_group,
                    batch_max=settings.scoring_batch_max,
                    poll_timeout_s=settings.scoring_poll_timeout_s,
                    after_commit=[alerting.engine.after_commit],
                )
                state.extras["worker"] = worker
                # Each scoring process checks the events of the partitions it scores.
                alerting.engine.follower.owned = worker.assignment
                # ... between the worker's batches (the facts' freshness comes first).
                if settings.alerts_yield_s > 0:
                    alerting.engine.follower.before_page = partial(
                        worker.wait_idle, settings.alerts_yield_s
                    )
                task = asyncio.create_task(worker.run(), name="scoring-worker")
            app.state.paceline = state
            yield
        finally:
            if worker is not None and task is not None:
                worker.stop()
                with contextlib.suppress(asyncio.CancelledError):
                    try:
                        await asyncio.wait_for(task, 15)
                    except TimeoutError:
                        task.cancel()
            if alerting is not None:
                await alerting.close()
            await runtime.close()

    title = "Paceline" if set(parts) == PARTS else f"Paceline {'+'.join(sorted(parts))}"
    return create_app(
        title=title,
        routers=routers,
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
        cors_origins=settings.cors_origins,
        hsts_max_age_s=settings.hsts_max_age_s,
        content_security_policy=settings.content_security_policy,
        access_log=settings.access_log,
    )
