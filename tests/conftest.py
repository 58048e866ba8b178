"""Shared fixtures: real PostgreSQL and Kafka (tests/infra.py) and running stacks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from paceline.shared.clock import Clock, FixedClock
from paceline.shared.settings import Settings
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


# -- stacks on a module's fixed clock -----------------------------------------------------
# A module sets ``TODAY`` (or ``NOW``), an aware datetime, and optionally ``ORG``, the body
# of ``PUT /v1/org``; ``clocked`` / ``clocked_both`` give it ``(stack, clock)`` there.

Clocked = tuple[Stack, FixedClock]


def _module_clock(request: pytest.FixtureRequest) -> FixedClock:
    at = getattr(request.module, "TODAY", None) or getattr(request.module, "NOW", None)
    assert isinstance(at, datetime), f"{request.module.__name__} sets no TODAY or NOW"
    return FixedClock(at)


async def _load_module_org(request: pytest.FixtureRequest, stack: Stack) -> None:
    org = getattr(request.module, "ORG", None)
    if org is not None:
        resp = await stack.client.put("/v1/org", json=org, headers=stack.auth())
        assert resp.status_code == 200, resp.text


@pytest.fixture(params=["embedded", "distributed"])
def mode_settings(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Settings]:
    """Settings of either run mode (the distributed one starts PostgreSQL and Kafka)."""
    if request.param == "embedded":
        return "embedded", embedded_settings(tmp_path / "data")
    url: str = request.getfixturevalue("migrated_database_url")
    kafka: str = request.getfixturevalue("kafka_bootstrap")
    return "distributed", distributed_settings(url, kafka, data_dir=tmp_path / "data")


@pytest.fixture
async def clocked(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Clocked]:
    """An embedded stack on a fixed clock at the module's TODAY, its ORG loaded."""
    clock = _module_clock(request)
    async with running_stack("embedded", embedded_settings(tmp_path / "data"), clock=clock) as s:
        await _load_module_org(request, s)
        yield s, clock


@pytest.fixture
async def clocked_both(
    request: pytest.FixtureRequest, mode_settings: tuple[str, Settings]
) -> AsyncIterator[Clocked]:
    """The same, in both run modes."""
    mode, settings = mode_settings
    clock = _module_clock(request)
    async with running_stack(mode, settings, clock=clock) as s:
        await _load_module_org(request, s)
        yield s, clock
