"""Shared fixtures: real PostgreSQL and Kafka (tests/infra.py) and running stacks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from paceline.shared.clock import Clock
from tests.support import Stack, distributed_settings, embedded_settings, running_stack

pytest_plugins = ["tests.infra", "tests.dates.plugin"]

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci")


@pytest.fixture
def stack_clock() -> Clock | None:
    """The clock of the stack fixtures below; None is the system clock.

    A module whose verdicts depend on the date (marker ``dates``) overrides this fixture
    with a FixedClock, so that its answers are the same on any day the suite runs.
    """
    return None


@pytest.fixture
async def embedded_stack(tmp_path: Path, stack_clock: Clock | None) -> AsyncIterator[Stack]:
    """All three services in-process on SQLite and the embedded event log."""
    settings = embedded_settings(tmp_path / "data")
    async with running_stack("embedded", settings, clock=stack_clock) as stack:
        yield stack


@pytest.fixture
async def distributed_stack(
    migrated_database_url: str, kafka_bootstrap: str, tmp_path: Path, stack_clock: Clock | None
) -> AsyncIterator[Stack]:
    """All three services in-process on real PostgreSQL and a real Kafka broker."""
    s = distributed_settings(migrated_database_url, kafka_bootstrap, data_dir=tmp_path / "data")
    async with running_stack("distributed", s, clock=stack_clock) as stack:
        yield stack


@pytest.fixture(params=["embedded", "distributed"])
def stack(request: pytest.FixtureRequest) -> Stack:
    """The same test in both run modes."""
    name = "embedded_stack" if request.param == "embedded" else "distributed_stack"
    result: Stack = request.getfixturevalue(name)
    return result
