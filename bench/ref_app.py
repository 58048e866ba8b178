"""The baseline for single-event ingest: a minimal Starlette endpoint awaiting producer.send.

It does what an ingest endpoint cannot skip — read the body, hand it to an idempotent
``acks=all`` producer with the same settings as Paceline's, wait for the acknowledgement,
answer 202 — and nothing else (no auth, no validation). Records are keyed like the
product's (one key per record, spread over the topic's partitions by Paceline's own
partitioner, the compiled murmur2, so neither side gains from the hash): here a counter
over 100,000 values, so the producer batches per partition as Paceline's does, instead of
sending everything to one partition. Run by bench/pipeline.py as its own uvicorn process
(uvloop, httptools), like ``paceline ingest``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]  # untyped upstream
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paceline.shared.eventlog.base import kafka_partitioner

TOPIC = os.environ.get("BENCH_TOPIC", "bench.ref")
producer: AIOKafkaProducer | None = None
_keys = itertools.cycle([str(i).encode() for i in range(100_000)])


async def events(request: Request) -> Response:
    """Append the body to Kafka and answer once it is acknowledged."""
    body = await request.body()
    assert producer is not None
    await producer.send_and_wait(TOPIC, body, key=next(_keys))
    return Response(b'{"accepted":1}', status_code=202, media_type="application/json")


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    global producer
    producer = AIOKafkaProducer(
        bootstrap_servers=os.environ["BENCH_KAFKA"],
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
        max_batch_size=256 * 1024,
        partitioner=kafka_partitioner,
    )
    await producer.start()
    try:
        yield
    finally:
        await producer.stop()


app = Starlette(routes=[Route("/v1/events", events, methods=["POST"])], lifespan=lifespan)
