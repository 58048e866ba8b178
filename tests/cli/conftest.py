"""The demo tests (test_demo.py) are date-sensitive: the demo's history, the laggard and
the new hire are placed relative to the demo's "today". They carry the ``dates`` marker
(docs/TESTING.md), and the stack they use runs on a fixed clock."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from paceline.shared.clock import Clock, FixedClock

DEMO_TESTS = Path(__file__).parent / "test_demo.py"
# The demo tests' reference instant (their NOW).
DEMO_NOW = datetime(2026, 11, 26, 15, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.hookimpl(tryfirst=True)  # before -m deselection looks at the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of test_demo.py ``dates``."""
    for item in items:
        if item.path == DEMO_TESTS:
            item.add_marker(pytest.mark.dates)


@pytest.fixture
def stack_clock() -> Clock:
    """The embedded stack of these tests runs on the demo's reference instant."""
    return FixedClock(DEMO_NOW)
