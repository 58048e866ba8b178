"""Shared fixtures: real PostgreSQL and Kafka (tests/infra.py) and running stacks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.support import Stack, distributed_settings, embedded_settings, running_stack

pytest_plugins = ["tests.infra"]

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci")


@pytest.fixture
async def embedded_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """All three services in-process on SQLite and the embedded event log."""
    async with running_stack("embedded", embedded_settings(tmp_path / "data")) as stack:
        yield stack


@pytest.fixture
async def distributed_stack(
    migrated_database_url: str, kafka_bootstrap: str, tmp_path: Path
) -> AsyncIterator[Stack]:
    """All three services in-process on real PostgreSQL and a real Kafka broker."""
    s = distributed_settings(migrated_database_url, kafka_bootstrap, data_dir=tmp_path / "data")
    async with running_stack("distributed", s) as stack:
        yield stack


@pytest.fixture(params=["embedded", "distributed"])
def stack(request: pytest.FixtureRequest) -> Stack:
    """The same test in both run modes."""
    name = "embedded_stack" if request.param == "embedded" else "distributed_stack"
    result: Stack = request.getfixturevalue(name)
    return result
