"""SIGKILL the scoring process mid-stream, restart it: the facts still equal a recount.

The services run as real processes (``paceline ingest`` and ``paceline scoring``), in
the embedded mode (one data directory, SQLite and the embedded log shared between the
processes) and in the distributed mode (PostgreSQL and Kafka).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from paceline.shared.db.models import ConsumerOffset
from paceline.shared.db.session import Database
from paceline.shared.eventlog import EventLog
from paceline.shared.eventlog.embedded import EmbeddedEventLog
from paceline.shared.eventlog.kafka import KafkaEventLog
from paceline.shared.events import CanonicalEvent, Envelope
from paceline.shared.kpi.records import TenantContext
from tests.e2e.test_pipeline import RECEIVED
from tests.e2e.workload import workload
from tests.infra import free_ports
from tests.support import diff_rows, reference_facts, stored_facts

PACELINE = str(Path(sys.executable).with_name("paceline"))
KEY = "pl_test_" + uuid.uuid4().hex


class Proc:
    """A paceline process with its log file; killed at the end whatever happens."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                [PACELINE, *self.args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    try:
        yield started
    finally:
        for p in started:
            p.stop()


async def _wait_http(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not become ready")
            await asyncio.sleep(0.2)


async def _wait_scored(db: Database, log: EventLog, group: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        ends = await log.end_offsets()
        async with db.transaction(write=False) as session:
            rows = (
                await session.execute(
                    select(ConsumerOffset.partition, ConsumerOffset.next_offset).where(
                        ConsumerOffset.group_id == group, ConsumerOffset.topic == log.topic
                    )
                )
            ).all()
        done = {int(p): int(o) for p, o in rows}
        if all(done.get(p, 0) >= e for p, e in ends.items() if e):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"scoring did not catch up: log {ends}, applied {done}")
        await asyncio.sleep(0.2)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["embedded", "distributed"])
async def test_scoring_killed_mid_stream_ends_in_the_same_facts(
    mode: str, tmp_path: Path, procs: list[Proc], request: pytest.FixtureRequest
) -> None:
    data_dir = tmp_path / "data"
    topic = f"paceline.kill.{uuid.uuid4().hex[:8]}"
    group = f"scoring-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "PACELINE_ENVIRONMENT": "test",
        "PACELINE_DATA_DIR": str(data_dir),
        "PACELINE_BOOTSTRAP_API_KEY": KEY,
        "PACELINE_TOPIC": topic,
        "PACELINE_CONSUMER_GROUP": group,
        "PACELINE_LOG_LEVEL": "WARNING",
        "PACELINE_SCORING_BATCH_MAX": "50",
    }
    if mode == "distributed":
        env["PACELINE_DATABASE_URL"] = request.getfixturevalue("fresh_database_url")
        env["PACELINE_KAFKA_BOOTSTRAP"] = request.getfixturevalue("kafka_bootstrap")
        env["PACELINE_KAFKA_PARTITIONS"] = "3"
    else:
        env["PACELINE_EMBEDDED_PARTITIONS"] = "3"
    await asyncio.to_thread(
        subprocess.run,
        [PACELINE, "migrate"],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )

    ingest_port, scoring_port = free_ports(2)
    ingest = Proc(["ingest", "--port", str(ingest_port)], env, tmp_path / "ingest.log")
    scoring = Proc(["scoring", "--port", str(scoring_port)], env, tmp_path / "scoring.log")
    procs.extend([ingest, scoring])
    ingest.start()
    scoring.start()
    await _wait_http(f"http://127.0.0.1:{ingest_port}/readyz")

    events = workload(1000, seed=99)
    kills = 0
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{ingest_port}",
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=30,
    ) as client:
        for n, i in enumerate(range(0, len(events), 25)):
            resp = await client.post("/v1/events", json=events[i : i + 25])
            assert resp.status_code == 202, resp.text
            if n in {8, 16, 24, 32}:
                scoring.kill()  # SIGKILL, mid-stream
                kills += 1
                scoring.start()
    assert kills == 4

    settings_db = (
        env.get("PACELINE_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'paceline.db'}"
    )
    db = Database(settings_db)
    log: EventLog = (
        KafkaEventLog(env["PACELINE_KAFKA_BOOTSTRAP"], topic=topic, partitions=3)
        if mode == "distributed"
        else EmbeddedEventLog(data_dir / "eventlog.db", topic=topic, partitions=3)
    )
    await log.start()
    try:
        await _wait_scored(db, log, group)
        expected_facts, expected_members = reference_facts(
            [
                Envelope(
                    tenant_id="default",
                    source="api",
                    received_at=RECEIVED,
                    event=CanonicalEvent.model_validate(e),
                )
                for e in events
            ],
            {"default": TenantContext("default", ZoneInfo("Asia/Shanghai"), "CNY")},
        )
        facts, members = await stored_facts(db, tenant_ids=["default"])
        assert facts == expected_facts, diff_rows(expected_facts, facts)
        assert members == expected_members, diff_rows(expected_members, members)
    finally:
        for p in procs:  # before the database fixture drops the database
            p.stop()
        await log.close()
        await db.dispose()
