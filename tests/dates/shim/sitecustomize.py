"""Imported at start-up by every Python process of a faked-date run (tests/dates puts this
folder first on PYTHONPATH): the pytest process and the ``paceline`` processes it starts.

Python 3.11+ ``time.sleep`` waits with ``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)``.
libfaketime 0.9.10 (Debian 12's) shifts that absolute deadline by the faked wall-clock time
even when the monotonic clock is left alone (``FAKETIME_DONT_FAKE_MONOTONIC=1``, which the
runs need, see tests/dates/__init__.py), so the kernel gets a negative deadline and
``time.sleep`` raises ``OSError: [Errno 22] Invalid argument`` (wolfcw/libfaketime#426, fixed
after 0.9.10). Here ``time.sleep`` waits with ``select()`` instead: a relative timeout, which
libfaketime passes through untouched, restarted after signals like ``time.sleep`` (PEP 475).
Outside a faked-date run (no ``FAKETIME`` in the environment) nothing is changed.
"""

from __future__ import annotations

import os
import select
import time
from typing import SupportsIndex


def _sleep(seconds: float | SupportsIndex, /) -> None:
    """``time.sleep`` without clock_nanosleep."""
    secs = float(seconds)
    if secs < 0:
        raise ValueError("sleep length must be non-negative")
    select.select([], [], [], secs)


if os.environ.get("FAKETIME"):
    time.sleep = _sleep
