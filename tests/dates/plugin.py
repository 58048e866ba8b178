"""pytest plugin (loaded by tests/conftest.py): in a faked-date run, prove that the clock moved.

``python -m tests.dates`` sets ``PACELINE_DATES_AT`` to the instant it fakes. If this
process's wall clock is not within a few minutes of it (libfaketime was not preloaded, or
its offset was not applied), the run stops before any test, rather than pass on today's
date. Outside those runs this plugin does nothing.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.dates import ENV_AT, ENV_NAME

# The clock runs from the instant the runner set it to; start-up takes seconds, a slow
# worker start under load maybe a minute or two.
TOLERANCE = timedelta(minutes=5)


def _expected() -> datetime | None:
    at = os.environ.get(ENV_AT)
    return None if not at else datetime.fromisoformat(at)


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to run a faked-date session whose clock was not faked."""
    expected = _expected()
    if expected is None:
        return
    # Not a FixedClock: this reads the real (faked) wall clock on purpose.
    now = datetime.now(UTC)
    if not expected - timedelta(seconds=5) <= now < expected + TOLERANCE:
        raise pytest.UsageError(
            f"faked-date run {os.environ.get(ENV_NAME)!r}: the clock reads {now.isoformat()}, "
            f"not {expected.isoformat()}: libfaketime did not load "
            f"(LD_PRELOAD={os.environ.get('LD_PRELOAD')!r}, "
            f"FAKETIME={os.environ.get('FAKETIME')!r})"
        )
    time.sleep(0)  # the sleep shim (tests/dates/shim) is in place, or this raises EINVAL


def pytest_report_header(config: pytest.Config) -> str | None:
    """Name the faked date at the top of the run's output."""
    if _expected() is None:
        return None
    local = datetime.now(UTC).astimezone()
    return f"faked date {os.environ.get(ENV_NAME)}: the clock reads {local.isoformat()}"
