"""Processes for the pipeline benchmarks: ``paceline`` services and the reference app."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PACELINE = str(Path(sys.executable).with_name("paceline"))
PYTHON = sys.executable


class Proc:
    """A child process with a log file, stopped (and killed if need be) at the end."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.args, self.env, self.log = name, args, env, log
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        """Start the process."""
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.args,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        """The process id."""
        assert self.popen is not None
        return self.popen.pid

    def peak_rss_mib(self) -> float | None:
        """Peak resident memory so far (VmHWM), in MiB."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def kill(self) -> None:
        """SIGKILL the process (and its children) and reap it."""
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 20 s."""
        if self.popen is None or self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)


def wait_http(url: str, *, timeout_s: float = 90, any_answer: bool = False) -> None:
    """Wait until ``url`` answers 200 (``any_answer``: answers at all, e.g. 404 from an
    app without a readiness route)."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310  # loopback URL
                if resp.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            if any_answer:
                return
            last = str(exc)
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready: {last}")


def paceline(name: str, service: str, port: int, env: dict[str, str], logs: Path) -> Proc:
    """A ``paceline <service>`` process on a port."""
    args = [PACELINE, service, "--port", str(port)]
    return Proc(name, args, env, logs / f"{name}.log").start()


def reference_app(port: int, env: dict[str, str], logs: Path) -> Proc:
    """The minimal Starlette + aiokafka endpoint (bench/ref_app.py) under uvicorn."""
    args = [
        PYTHON,
        "-m",
        "uvicorn",
        "bench.ref_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    return Proc("reference", args, env, logs / "reference.log").start()


async def wait_applied(
    db_url: str,
    group: str,
    topic: str,
    ends: dict[int, int],
    *,
    deadline: float,
    poll_s: float = 0.2,
) -> None:
    """Wait until a scoring group's stored positions reach ``ends`` (partition -> next
    offset); raise once ``time.monotonic()`` passes ``deadline``."""
    import asyncio

    from sqlalchemy import select

    from paceline.shared.db.models import ConsumerOffset
    from paceline.shared.db.session import Database

    db = Database(db_url)
    try:
        while True:
            async with db.transaction(write=False) as session:
                rows = (
                    await session.execute(
                        select(ConsumerOffset.partition, ConsumerOffset.next_offset).where(
                            ConsumerOffset.group_id == group, ConsumerOffset.topic == topic
                        )
                    )
                ).all()
            done = {int(p): int(o) for p, o in rows}
            if all(done.get(p, 0) >= e for p, e in ends.items()):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"scoring did not catch up: log {ends}, applied {done}")
            await asyncio.sleep(poll_s)
    finally:
        await db.dispose()
