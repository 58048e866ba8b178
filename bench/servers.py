"""Throw-away PostgreSQL and Kafka servers for the benchmarks, through the deploy scripts.

Each server runs on free 127.0.0.1 ports in a temporary directory, started by the same
scripts developers and the test suite use (``deploy/postgres/pg.sh``,
``deploy/kafka/kafka.sh``), and is stopped (and its directory removed) when the context
manager exits, also on errors and Ctrl-C. Both servers run in their own sessions, so a
hard kill of the benchmark (SIGKILL) leaves them running: find them with
``pgrep -af 'kafka.Kafka|postgres'`` and stop them with the scripts' ``stop --dir``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PG_SH = REPO_ROOT / "deploy" / "postgres" / "pg.sh"
KAFKA_SH = REPO_ROOT / "deploy" / "kafka" / "kafka.sh"
LOCALHOST = "127.0.0.1"

PG_START_TIMEOUT_S = 180.0
# The first Kafka start may resolve the broker's jars from Maven Central.
KAFKA_START_TIMEOUT_S = 900.0
STOP_TIMEOUT_S = 90.0
START_ATTEMPTS = 3


class ServerError(RuntimeError):
    """A benchmark server could not be started or stopped."""


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports on 127.0.0.1 that were free a moment ago."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((LOCALHOST, 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def run_script(script: Path, *args: str, timeout: float) -> str:
    """Run a deploy script with bash; its combined output, or ServerError."""
    cmd = ["bash", str(script), *args]
    try:
        proc = subprocess.run(
            cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ServerError(f"{' '.join(cmd)} timed out after {timeout:.0f}s") from exc
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise ServerError(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{output}")
    return output


def _private_tmpdir(prefix: str) -> Path:
    """A new directory under the system temp dir that the ``postgres`` OS user can enter.

    As root, pg.sh runs the server as ``postgres``, which needs to search every parent.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o711)
    return path


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", path.parent.name))


def pg_bin_dir() -> Path | None:
    """The PostgreSQL bin directory pg.sh would use, or None if none is installed."""
    override = os.environ.get("PACELINE_PG_BIN")
    if override:
        return Path(override) if (Path(override) / "initdb").exists() else None
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]
    return max(found, key=_version_key) if found else None


def postgres_version() -> str | None:
    """``postgres --version`` of the binaries pg.sh would start, or None."""
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        return None
    try:
        out = subprocess.run(
            [str(bin_dir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout.strip()
    except OSError:
        return None
    return out or None


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A PostgreSQL server for the duration of the block; yields its SQLAlchemy URL."""
    if pg_bin_dir() is None:
        raise ServerError(
            "PostgreSQL server binaries not found; run 'make services' "
            "(deploy/postgres/pg.sh install, as root)"
        )
    base = _private_tmpdir("paceline-bench-pg-")
    started: Path | None = None
    try:
        url = ""
        for attempt in range(START_ATTEMPTS):
            port = free_ports(1)[0]
            directory = base / f"cluster{attempt}"
            url = run_script(PG_SH, "url", "--dir", str(directory), "--port", str(port), timeout=30)
            url = url.strip().splitlines()[0]
            try:
                started = directory
                run_script(
                    PG_SH,
                    "start",
                    "--dir",
                    str(directory),
                    "--port",
                    str(port),
                    timeout=PG_START_TIMEOUT_S,
                )
                break
            except ServerError as exc:
                if attempt + 1 == START_ATTEMPTS or "already in use" not in str(exc):
                    raise
        yield url
    finally:
        try:
            if started is not None:
                run_script(PG_SH, "stop", "--dir", str(started), timeout=STOP_TIMEOUT_S)
        finally:
            shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def kafka() -> Iterator[str]:
    """A single-node Kafka broker (KRaft) for the duration of the block; yields bootstrap."""
    base = Path(tempfile.mkdtemp(prefix="paceline-bench-kafka-"))
    started: Path | None = None
    try:
        bootstrap = ""
        for attempt in range(START_ATTEMPTS):
            port, controller = free_ports(2)
            directory = base / f"broker{attempt}"
            started = directory
            try:
                run_script(
                    KAFKA_SH,
                    "start",
                    "--dir",
                    str(directory),
                    "--port",
                    str(port),
                    "--controller-port",
                    str(controller),
                    timeout=KAFKA_START_TIMEOUT_S,
                )
                bootstrap = f"{LOCALHOST}:{port}"
                break
            except ServerError as exc:
                if attempt + 1 == START_ATTEMPTS or "already in use" not in str(exc):
                    raise
        yield bootstrap
    finally:
        try:
            if started is not None:
                run_script(KAFKA_SH, "stop", "--dir", str(started), timeout=STOP_TIMEOUT_S)
        finally:
            shutil.rmtree(base, ignore_errors=True)
