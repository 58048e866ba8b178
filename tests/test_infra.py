"""Smoke tests for the real-server fixtures in tests/infra.py."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.infra import KafkaBroker

# tests/conftest.py normally loads the plugin; naming it here as well keeps this module runnable
# on its own (pytest registers a plugin only once). The helpers are imported inside the tests,
# not at module level: importing tests.infra before pytest registers it as a plugin would stop
# pytest from rewriting its asserts, and the resulting warning is an error under
# filterwarnings = error.
pytest_plugins = ["tests.infra"]


@pytest.mark.pg
def test_postgres_answers_select_1(postgres_url: str) -> None:
    from tests.infra import psql

    assert postgres_url.startswith("postgresql+asyncpg://")
    assert psql(postgres_url, "SELECT 1") == "1"
    identity = psql(postgres_url, "SELECT current_user || '@' || current_database()")
    assert identity == "paceline@paceline"


@pytest.mark.pg
def test_fresh_database_is_usable(postgres_url: str, fresh_database_url: str) -> None:
    from tests.infra import psql

    database = fresh_database_url.rsplit("/", 1)[1]
    assert database.startswith("paceline_test_")
    assert fresh_database_url != postgres_url
    psql(fresh_database_url, "CREATE TABLE probe (id int PRIMARY KEY, note text)")
    psql(fresh_database_url, "INSERT INTO probe VALUES (1, 'héllo')")
    assert psql(fresh_database_url, "SELECT note FROM probe WHERE id = 1") == "héllo"
    # Only our table in it, and it exists on the session server.
    tables = psql(fresh_database_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    assert tables == "probe"
    databases = psql(postgres_url, "SELECT datname FROM pg_database").splitlines()
    assert database in databases


@pytest.mark.kafka
def test_kafka_broker_stops_and_restarts_with_its_data(
    kafka_broker: KafkaBroker, kafka_bootstrap: str
) -> None:
    from tests.infra import port_is_open, wait_for_port

    assert kafka_bootstrap == kafka_broker.bootstrap
    host, _, port_text = kafka_bootstrap.rpartition(":")
    port = int(port_text)
    assert port_is_open(port, host)
    if not kafka_broker.managed:
        pytest.skip("external broker: stop/start not possible")
    assert host == "127.0.0.1"
    assert kafka_broker.directory is not None
    meta = Path(kafka_broker.directory, "data", "meta.properties")
    meta_before = meta.read_text()

    kafka_broker.stop()
    assert wait_for_port(port, open_=False, timeout=5)
    assert not kafka_broker.is_reachable()

    kafka_broker.start()
    assert port_is_open(port)
    # Restarted on the same storage, not reformatted: same cluster and directory ids.
    assert meta.read_text() == meta_before
