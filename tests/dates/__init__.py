"""The date-proof runs: the date-sensitive tests (marker ``dates``) at awkward wall-clock dates.

``python -m tests.dates`` (``make test-dates``, part of ``make test``) runs
``pytest -m dates`` once per date in :data:`DATES`, each in a process whose wall clock is
moved to that instant by libfaketime (``LD_PRELOAD``; Debian's ``faketime`` package,
installed by ``deploy/faketime/faketime.sh install``). docs/TESTING.md says why each date.

How the clock is faked (:func:`faked_env`):

* ``FAKETIME=+N`` / ``-N``: an offset in seconds from the real clock, computed when the run
  starts. The clock keeps running, and every process of the run (pytest and the
  ``paceline`` processes the tests start) agrees on it; ``@<date>`` would restart the
  clock at that instant in each new process.
* ``FAKETIME_DONT_FAKE_MONOTONIC=1``: only the wall clock moves. With the monotonic clock
  faked as well, Python's lock, queue and ``Event`` timeouts hang: they wait with
  ``sem_clockwait(CLOCK_MONOTONIC)``, which libfaketime 0.9.10 does not intercept, so the
  kernel gets a deadline decades away. asyncio, uvloop and every elapsed-time measurement
  use the monotonic clock too, and a faked date must not change how long anything waits.
  The cost, ``time.sleep`` failing under this setting, is worked around in
  ``tests/dates/shim/sitecustomize.py``.
* ``FAKETIME_FORCE_MONOTONIC_FIX=0``: libfaketime 0.9.10 otherwise shifts the deadlines
  of ``pthread_cond_timedwait`` on monotonic condition variables by the faked offset. The
  GIL waits on one (5 ms switch interval), so each wait ended at once: two busy threads
  ran 35 times slower, and the suite two to three times slower with 20x the system time.
* ``NO_FAKE_STAT=1``: file times stay real (Python's ``.pyc`` checks compare them).
* libfaketimeMT (the thread-safe build): the processes have threads (SQLite, to_thread).
* ``TZ``: the machine's zone for the run (UTC unless the date says otherwise).

PostgreSQL and the Kafka broker are started without these variables (tests/infra.py): the
servers keep the real clock; what is tested is the app's idea of today. The broker accepts
record time stamps of any date from the faked clients (deploy/kafka/kafka.sh).
"""

from __future__ import annotations

import glob
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
SHIM = Path(__file__).resolve().parent / "shim"
SHANGHAI = ZoneInfo("Asia/Shanghai")

# Set in a faked-date run's environment; tests/dates/plugin.py checks the clock against it.
ENV_AT = "PACELINE_DATES_AT"
ENV_NAME = "PACELINE_DATES_NAME"
ENV_LIB = "PACELINE_FAKETIME_LIB"
# Everything that makes a process run on a faked clock (tests/infra.py strips these for the
# servers). DYLD_* are macOS's names for the same preloading.
FAKETIME_VARS = (
    "LD_PRELOAD",
    "FAKETIME",
    "FAKETIME_DONT_FAKE_MONOTONIC",
    "FAKETIME_FORCE_MONOTONIC_FIX",
    "FAKETIME_SHARED",
    "NO_FAKE_STAT",
    "DYLD_INSERT_LIBRARIES",
    "DYLD_FORCE_FLAT_NAMESPACE",
)


@dataclass(frozen=True)
class FakedDate:
    """One wall-clock instant the date-sensitive tests run at."""

    name: str
    at: datetime  # timezone-aware; written in Shanghai time, the demo tenant's zone
    claims: frozenset[str]  # what the date is meant to be; tests/dates/test_dates.py checks
    why: str
    tz: str = "UTC"  # the machine's time zone during the run

    @property
    def utc(self) -> datetime:
        """The instant in UTC."""
        return self.at.astimezone(UTC)


def _sh(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


DATES: tuple[FakedDate, ...] = (
    FakedDate(
        "month-start",
        _sh(2026, 12, 1, 0, 5),
        frozenset({"month-start", "utc-day-before"}),
        "the 1st of a month, five minutes in; in UTC it is still the last day of the month before",
    ),
    FakedDate(
        "month-end",
        _sh(2027, 2, 28, 23, 55),
        frozenset({"month-end", "sunday", "ordinary"}),
        "the last day of a month (February, no leap day), five minutes before the next; "
        "a Sunday, so the month's last working day is behind; the provisional 2027 calendar",
    ),
    FakedDate(
        "new-year",
        _sh(2027, 1, 1, 0, 5),
        frozenset({"new-year", "month-start", "holiday", "utc-day-before"}),
        "1 January (元旦, a holiday): a new year, quarter and month five minutes old; in "
        "UTC it is still 2026",
    ),
    FakedDate(
        "national-day",
        _sh(2026, 10, 1, 12, 0),
        frozenset({"holiday", "weekday", "month-start"}),
        "国庆节: a public holiday on a Thursday, the first day of Q4 and of the week-long break",
    ),
    FakedDate(
        "make-up-day",
        _sh(2026, 10, 10, 9, 30),
        frozenset({"make-up-workday"}),
        "调休: a Saturday that is a working day (National Day's second make-up day)",
    ),
    FakedDate(
        "sunday",
        _sh(2026, 11, 15, 23, 50),
        frozenset({"sunday", "ordinary"}),
        "an ordinary Sunday in the middle of a month, late in the evening; the machine's "
        "zone is Shanghai for this run",
        tz="Asia/Shanghai",
    ),
)


def by_name(name: str) -> FakedDate:
    """The date called ``name``."""
    for d in DATES:
        if d.name == name:
            return d
    raise KeyError(f"no faked date {name!r}; known: {', '.join(d.name for d in DATES)}")


def faketime_lib() -> str:
    """Path of libfaketimeMT.so.1 ($PACELINE_FAKETIME_LIB, else Debian's place for it)."""
    override = os.environ.get(ENV_LIB)
    if override:
        return override
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))
    found += sorted(glob.glob("/usr/lib/faketime/libfaketimeMT.so.1"))
    if not found:
        raise FileNotFoundError(
            "libfaketime not found: run 'deploy/faketime/faketime.sh install' as root "
            f"(Debian's faketime package), or set {ENV_LIB}"
        )
    return found[0]


def real_time() -> float:
    """The machine's clock (seconds since the epoch), also in a process of a faked-date run."""
    offset = os.environ.get("FAKETIME", "")
    if "faketime" in os.environ.get("LD_PRELOAD", "") and re.fullmatch(r"[+-]\d+(\.\d*)?", offset):
        return time.time() - float(offset)
    return time.time()


def faked_env(date: FakedDate, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a process whose wall clock reads ``date`` now and keeps running."""
    env = dict(os.environ if base is None else base)
    offset = date.utc.timestamp() - real_time()
    preload = [faketime_lib(), *filter(None, env.get("LD_PRELOAD", "").split(":"))]
    env.update(
        {
            "LD_PRELOAD": ":".join(preload),
            "FAKETIME": f"{offset:+.3f}",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "FAKETIME_FORCE_MONOTONIC_FIX": "0",
            "NO_FAKE_STAT": "1",
            "TZ": date.tz,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(SHIM), env.get("PYTHONPATH")])),
            ENV_AT: date.utc.isoformat(),
            ENV_NAME: date.name,
        }
    )
    env.pop("FAKETIME_SHARED", None)
    return env
