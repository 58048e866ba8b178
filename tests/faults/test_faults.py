"""The short form of the fault-injection scenario (bench/faults.py), on the session's servers.

Under steady load with every event sent twice: scoring SIGKILLed three times, the Kafka
broker restarted, PostgreSQL restarted, ingest SIGKILLed, and the alert subscriber down
(503) while scoring, which runs the delivery dispatcher, is SIGKILLed mid-retry.
Afterwards no accepted event is missing from the log, the facts equal a from-scratch
recount, row for row, and every alert event in the database reached the subscriber at
least once with a valid Standard Webhooks signature.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.faults import Plan, render, run
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
    print(render(report, form="short", machine="the test session"))  # shown on failure
    assert report.faults, "no fault was injected"
    assert {name for _t, name in report.faults} == {
        "SIGKILL scoring",
        "restart Kafka broker",
        "restart PostgreSQL",
        "SIGKILL ingest",
        "subscriber down (503)",
        "subscriber back",
    }
    assert report.accepted_events == report.events > 0
    assert report.refused > 0, "the faults should have refused some posts (503 / no connection)"
    assert report.log_missing == []
    assert report.log_unacknowledged == []
    assert report.log_copies_beyond_first >= report.accepted_events  # every event sent twice
    assert report.fact_rows > 0
    assert report.rows_differing == 0, report.differences

    # Alert deliveries: the dispatcher was killed with deliveries awaiting a retry (the
    # subscriber was answering 503), and afterwards every alert event was delivered.
    assert report.deliveries_settled, "deliveries still pending at the deadline"
    assert report.alert_events > 0
    assert report.alert_types.get("unknown_rep") == 40  # every rep of the load is unknown
    assert report.delivery_refused > 0, "the outage should have refused some attempts"
    assert len(report.kills_during_outage) == 1
    _when, retrying, _claimed = report.kills_during_outage[0]
    assert retrying is not None
    assert retrying > 0, "scoring was not killed mid-retry"
    assert report.alert_events_without_delivery == []
    assert report.deliveries == report.alert_events
    assert report.deliveries_undelivered == 0
    assert report.deliveries_missing == []
    assert report.delivery_bad_signatures == 0, report.delivery_problems
    assert report.delivery_id_mismatches == 0
    assert report.ok
