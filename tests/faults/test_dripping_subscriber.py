"""A subscriber that drips its answer cannot hold the delivery dispatcher.

httpx's timeouts are per phase and per chunk read: an endpoint that sends its headers
and then one body byte at a time, forever, never trips them. The dispatcher puts a
deadline of ``outbound_timeout_s`` on the whole attempt, records it as failed, and goes
on (before, the attempt, and with it every delivery of the scoring process, waited for
the endpoint to finish).
"""

from __future__ import annotations

import asyncio
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from paceline.shared.clock import FixedClock
from paceline.shared.db.models_alerts import Delivery, DeliveryAttempt
from tests.support import embedded_settings, running_stack

START = datetime(2026, 8, 3, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai


@contextmanager
def dripping_endpoint() -> Iterator[str]:
    """An HTTP endpoint on 127.0.0.1 answering 200 with an endless body, a byte at a time."""
    stop = threading.Event()

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            length = 0
            while (line := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            self.rfile.read(length)
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
            self.wfile.flush()
            while not stop.wait(0.2):
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:  # the client gave up
                    return

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


async def test_an_endless_answer_is_a_failed_attempt(tmp_path: Path) -> None:
    settings = embedded_settings(
        tmp_path / "data", alerts_tick_s=0, delivery_poll_s=0.05, outbound_timeout_s=1
    )
    with dripping_endpoint() as url:
        async with running_stack("embedded", settings, clock=FixedClock(START)) as s:
            resp = await s.client.post(
                "/v1/subscriptions", json={"name": "drip", "url": url}, headers=s.auth()
            )
            assert resp.status_code == 201, resp.text
            resp = await s.post_events(
                [
                    {
                        "event_id": "v-drip",
                        "type": "visit",
                        "occurred_at": "2026-08-03T09:30:00+08:00",
                        "rep_id": "nobody",  # unknown to the org chart: an alert
                        "customer_id": "c-1",
                    }
                ]
            )
            assert resp.status_code == 202, resp.text
            await s.wait_scored()
            # Wait for the attempt to be logged (a hang guard: without the deadline it
            # never is, the body never ends).
            deadline = time.monotonic() + 120
            while True:
                async with s.db.transaction(write=False) as session:
                    tries = list((await session.scalars(select(DeliveryAttempt))).all())
                    rows = list((await session.scalars(select(Delivery))).all())
                if tries or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
    assert len(tries) == 1, "the attempt never ended"
    assert tries[0].outcome == "retry"
    assert tries[0].status_code is None
    assert tries[0].error == "no complete answer within 1 s"
    assert [(d.status, d.attempts) for d in rows] == [("pending", 1)]
