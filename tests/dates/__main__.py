"""Run the date-sensitive tests at every faked date: ``python -m tests.dates [NAME ...]``.

    python -m tests.dates                       every date in tests.dates.DATES
    python -m tests.dates new-year sunday       some of them
    python -m tests.dates --list                the dates and why each
    python -m tests.dates new-year -- -k pace   extra pytest arguments after --

Environment (the Makefile passes it through):

    PACELINE_DATES        the dates to run, by name, separated by spaces or commas (default: all)
    PACELINE_DATES_MARK   the pytest -m expression (default: dates)
    PACELINE_DATES_JOBS   dates run at once, one pytest process each (default: 2)
    PACELINE_FAKETIME_LIB libfaketimeMT.so.1 to preload (default: Debian's)

Each date's output is in test-artifacts/dates/<name>.log. Exit status 0 only if every date
passed (and each selected at least one test).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tests.dates import DATES, ROOT, FakedDate, by_name, faked_env

ARTIFACTS = ROOT / "test-artifacts" / "dates"
SCRATCH = ROOT / "build" / "dates"  # each date's --basetemp
# One date's run; far above the ~1 min a date takes, below CI's limit.
RUN_TIMEOUT_S = 1200.0
CHECK = (
    "import datetime, time; time.sleep(0.01); "
    "print(datetime.datetime.now(datetime.UTC).isoformat())"
)


@dataclass
class Outcome:
    """How one date's run went."""

    date: FakedDate
    ok: bool
    seconds: float
    summary: str
    log: Path


def _check_clock(date: FakedDate, env: dict[str, str]) -> str | None:
    """None if a Python process under ``env`` reads the faked date; else what went wrong."""
    proc = subprocess.run(
        [sys.executable, "-c", CHECK],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        return f"python under libfaketime failed ({proc.returncode}): {proc.stderr.strip()}"
    got = datetime.fromisoformat(proc.stdout.strip())
    if abs((got - date.utc).total_seconds()) > 60:
        return (
            f"the faked clock reads {got.isoformat()}, not {date.utc.isoformat()}: "
            f"libfaketime did not load (LD_PRELOAD={env['LD_PRELOAD']})"
        )
    return None


def _summary(log: Path) -> str:
    """pytest's closing line (``N passed, ... in S s``)."""
    lines = log.read_text(errors="replace").splitlines()
    for line in reversed(lines):
        if re.search(r"\b(passed|failed|error|no tests ran)\b", line):
            return line.strip("= ")
    return lines[-1] if lines else "(no output)"


_running: set[subprocess.Popen[bytes]] = set()
_lock = threading.Lock()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (tests/infra.py turns it into a clean teardown that stops the servers), then
    SIGKILL if pytest is still there after 90 s."""
    proc.terminate()
    try:
        proc.wait(90)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _remove_stale_shm() -> None:
    """Remove libfaketime's shared-memory objects of processes that are gone.

    libfaketime 0.9.10 makes a semaphore and a segment per process (named after its pid)
    and removes them at exit; a process killed with SIGKILL leaves them behind in /dev/shm.
    """
    for path in Path("/dev/shm").glob("*faketime_s[eh]m_*"):  # noqa: S108  # libfaketime's
        pid = path.name.rpartition("_")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            path.unlink(missing_ok=True)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_date(date: FakedDate, *, mark: str, extra: list[str]) -> Outcome:
    """``pytest -m <mark>`` with the wall clock at ``date``; output to its log file."""
    log = ARTIFACTS / f"{date.name}.log"
    started = time.monotonic()
    env = faked_env(date)
    problem = _check_clock(date, env)
    if problem is not None:
        log.write_text(problem + "\n")
        return Outcome(date, False, time.monotonic() - started, problem, log)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        mark,
        "-p",
        "no:cacheprovider",  # runs side by side: no shared .pytest_cache writes
        f"--basetemp={SCRATCH / date.name}",
        *extra,
    ]
    env = faked_env(date)  # the offset again, now: the clock starts at the instant
    with log.open("w") as out:
        out.write(f"{date.name}: {date.at.isoformat()} ({date.why})\n$ {' '.join(command)}\n")
        out.flush()
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        with _lock:
            _running.add(proc)
        try:
            code = proc.wait(RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _stop(proc)
            code = -1
            out.write(f"\nrun_date: stopped after {RUN_TIMEOUT_S:.0f} s\n")
        finally:
            with _lock:
                _running.discard(proc)
    summary = _summary(log)
    if code == 5:
        summary = f"no test selected by -m {mark!r}"
    return Outcome(date, code == 0, time.monotonic() - started, summary, log)


def _names(args: list[str]) -> list[FakedDate]:
    names = args or re.split(r"[\s,]+", os.environ.get("PACELINE_DATES", "").strip())
    names = [n for n in names if n]
    return [by_name(n) for n in names] if names else list(DATES)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen dates; print one line per date; 0 if all passed."""
    argv = sys.argv[1:] if argv is None else argv
    extra: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1 :]
    parser = argparse.ArgumentParser(prog="python -m tests.dates", description=__doc__)
    parser.add_argument("names", nargs="*", help="dates to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the dates and exit")
    parser.add_argument("--mark", default=os.environ.get("PACELINE_DATES_MARK", "dates"))
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("PACELINE_DATES_JOBS", "2")))
    args = parser.parse_args(argv)
    dates = _names(args.names)
    if args.list:
        for d in dates:
            print(f"{d.name:14} {d.at:%Y-%m-%d %H:%M} Shanghai = {d.utc:%Y-%m-%d %H:%M} UTC"
                  f"  TZ={d.tz}: {d.why}")  # fmt: skip
        return 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    SCRATCH.mkdir(parents=True, exist_ok=True)
    print(f"date-sensitive tests (-m {args.mark!r}) at {len(dates)} faked dates, "
          f"{args.jobs} at a time; logs in {ARTIFACTS.relative_to(ROOT)}/", flush=True)  # fmt: skip
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _interrupt)  # CI cancelling: stop the pytest processes too
    outcomes = []
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_date, d, mark=args.mark, extra=extra) for d in dates]
        try:
            for future in futures:
                o = future.result()
                outcomes.append(o)
                status = "ok  " if o.ok else "FAIL"
                print(f"{status} {o.date.name:14} {o.date.at:%Y-%m-%d %H:%M %a} Shanghai  "
                      f"{o.seconds:5.0f} s  {o.summary}", flush=True)  # fmt: skip
        except KeyboardInterrupt:
            for f in futures:
                f.cancel()
            with _lock:
                running = list(_running)
            for proc in running:
                proc.terminate()
            for proc in running:
                _stop(proc)
            raise
    _remove_stale_shm()
    failed = [o for o in outcomes if not o.ok]
    for o in failed:
        print(f"\n----- {o.date.name}: last lines of {o.log.relative_to(ROOT)} -----")
        print("\n".join(o.log.read_text(errors="replace").splitlines()[-40:]))
    total = time.monotonic() - started
    verdict = f"{len(failed)} of {len(outcomes)} FAILED" if failed else f"all {len(outcomes)} ok"
    print(f"faked dates: {verdict} ({total:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
