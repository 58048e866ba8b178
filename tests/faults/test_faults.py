"""The short form of the fault-injection scenario (bench/faults.py), on the session's servers.

Under steady load with every event sent twice: scoring SIGKILLed three times, the Kafka
broker restarted, PostgreSQL restarted, ingest SIGKILLed. Afterwards no accepted event is
missing from the log and the facts equal a from-scratch recount, row for row.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.faults import Plan, run
from tests.infra import KafkaBroker, PostgresServer


class FixtureServers:
    """The test session's PostgreSQL and Kafka, restartable in place."""

    def __init__(self, pg: PostgresServer, database_url: str, broker: KafkaBroker) -> None:
        self.pg = pg
        self.broker = broker
        self.database_url = database_url
        self.kafka_bootstrap = broker.bootstrap

    def restart_postgres(self) -> None:
        self.pg.stop()
        self.pg.start()

    def restart_kafka(self) -> None:
        self.broker.stop()
        self.broker.start()


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_nothing_is_lost_or_doubled_under_faults(
    postgres_server: PostgresServer,
    fresh_database_url: str,
    kafka_broker: KafkaBroker,
    tmp_path: Path,
) -> None:
    if not postgres_server.managed or not kafka_broker.managed:
        pytest.skip("needs servers this session started (it restarts them)")
    servers = FixtureServers(postgres_server, fresh_database_url, kafka_broker)
    report = await run(Plan.short(), servers, tmp_path)
    assert report.faults, "no fault was injected"
    assert {name for _t, name in report.faults} == {
        "SIGKILL scoring",
        "restart Kafka broker",
        "restart PostgreSQL",
        "SIGKILL ingest",
    }
    assert report.accepted_events == report.events > 0
    assert report.refused > 0, "the faults should have refused some posts (503 / no connection)"
    assert report.log_missing == []
    assert report.log_unacknowledged == []
    assert report.log_copies_beyond_first >= report.accepted_events  # every event sent twice
    assert report.fact_rows > 0
    assert report.rows_differing == 0, report.differences
