"""Real PostgreSQL and Kafka servers for the test suite, as a pytest plugin.

Loaded by ``tests/conftest.py`` with ``pytest_plugins = ["tests.infra"]``. It uses only the
standard library and pytest, so it works before the project's own dependencies are installed.

Session-scoped fixtures start the servers lazily (only when a selected test needs them) on free
127.0.0.1 ports, in temporary directories, through the same scripts developers use by hand:

* ``postgres_server`` / ``postgres_url`` -- ``deploy/postgres/pg.sh``; the URL is
  ``postgresql+asyncpg://paceline@127.0.0.1:<port>/paceline``. If ``PACELINE_TEST_DATABASE_URL``
  is set, that server is used instead and nothing is started.
* ``fresh_database_url`` (function scope) -- a new, empty database on that server, dropped
  (``WITH (FORCE)``) after the test.
* ``kafka_broker`` / ``kafka_bootstrap`` -- ``deploy/kafka/kafka.sh``; a single KRaft broker.
  ``kafka_broker.stop()`` / ``.start()`` stop and restart it on the same ports and data. A test
  that leaves it stopped does not break later tests: it is restarted before the next test that
  needs it. If ``PACELINE_TEST_KAFKA_BOOTSTRAP`` is set, that broker is used instead and
  ``stop()``/``start()`` skip the calling test.

Servers are stopped in fixture teardown (also when tests fail or on Ctrl-C); once a server is
started, SIGTERM is turned into KeyboardInterrupt so that teardown also runs when CI cancels the
job, and an ``atexit`` hook stops any server whose teardown did not run. The servers run in their
own sessions, so a hard kill of pytest (SIGKILL) leaves them running: find them with
``pgrep -af 'kafka.Kafka|postgres'`` and stop them with the scripts' ``stop --dir``.

The servers always run on the real clock: in a faked-date run (tests/dates, libfaketime preloaded
into pytest) they are started without libfaketime's variables (:func:`server_env`).

Tests using these fixtures get the ``pg`` / ``kafka`` markers automatically, so
``-m "not kafka"`` also deselects tests that only use the fixtures.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from tests.dates import FAKETIME_VARS
from tests.migrated import MIGRATED

REPO_ROOT = Path(__file__).resolve().parent.parent
PG_SH = REPO_ROOT / "deploy" / "postgres" / "pg.sh"
KAFKA_SH = REPO_ROOT / "deploy" / "kafka" / "kafka.sh"

ENV_DATABASE_URL = "PACELINE_TEST_DATABASE_URL"
ENV_KAFKA_BOOTSTRAP = "PACELINE_TEST_KAFKA_BOOTSTRAP"

LOCALHOST = "127.0.0.1"

# Generous: the first Kafka start may resolve ~45 jars from Maven Central.
KAFKA_START_TIMEOUT_S = 900.0
PG_START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 90.0
# Attempts when a chosen free port is taken by someone else before the server binds it.
START_ATTEMPTS = 3

PG_FIXTURES = frozenset(
    {
        "postgres_server",
        "postgres_url",
        "fresh_database_url",
        "migrated_database_url",
        "postgres_template",
    }
)
KAFKA_FIXTURES = frozenset({"kafka_broker", "kafka_bootstrap"})


class InfraError(RuntimeError):
    """A test server could not be started, stopped or used."""


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """Return ``count`` distinct TCP ports on 127.0.0.1 that were free a moment ago.

    All sockets stay bound until every port is chosen, so the ports differ from each other.
    Another process can still take a port before the server binds it; callers retry then.
    """
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((LOCALHOST, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    return free_ports(1)[0]


def port_is_open(port: int, host: str = LOCALHOST, timeout: float = 1.0) -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(
    port: int, *, open_: bool = True, timeout: float = 30.0, host: str = LOCALHOST
) -> bool:
    """Wait until ``host:port`` is open (or closed with ``open_=False``); return success."""
    deadline = time.monotonic() + timeout
    while True:
        if port_is_open(port, host) == open_:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


# A faked-date run (tests/dates) preloads libfaketime into pytest and everything it starts.
# The servers must keep the real clock: a faked clock is not what is tested there, the JVM and
# PostgreSQL use timed waits that libfaketime handles badly, and the broker's own time stamps
# (log retention, the group coordinator's timeouts) must not jump. Python processes the tests
# start (paceline serve, ingest, scoring) keep the variables: the app's clock is under test.
def server_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment (or ``base``) without libfaketime's variables: for the
    servers."""
    return {
        k: v for k, v in (os.environ if base is None else base).items() if k not in FAKETIME_VARS
    }


def run_script(script: Path, *args: str, timeout: float) -> str:
    """Run one of the deploy scripts with bash on the real clock; return its combined output,
    raise on failure."""
    cmd = ["bash", str(script), *args]
    try:
        proc = subprocess.run(
            cmd,
            cwd=REPO_ROOT,
            env=server_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise InfraError(f"{' '.join(cmd)} timed out after {timeout:.0f}s") from exc
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise InfraError(f"{' '.join(cmd)} failed with exit code {proc.returncode}:\n{output}")
    return output


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))


def pg_bin_dir() -> Path | None:
    """The PostgreSQL bin directory pg.sh uses: $PACELINE_PG_BIN or the newest
    /usr/lib/postgresql/<version>/bin that has initdb; None if there is none."""
    override = os.environ.get("PACELINE_PG_BIN")
    if override:
        return Path(override) if (Path(override) / "initdb").exists() else None
    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]
    return max(candidates, key=_version_key) if candidates else None


def psql_path() -> str:
    """Path of a psql client: the one next to the server binaries, else psql on PATH."""
    bin_dir = pg_bin_dir()
    if bin_dir is not None and (bin_dir / "psql").exists():
        return str(bin_dir / "psql")
    found = shutil.which("psql")
    if found is None:
        raise InfraError(
            "psql not found: install PostgreSQL (deploy/postgres/pg.sh install) or put psql on PATH"
        )
    return found


def libpq_url(url: str, database: str | None = None) -> str:
    """Turn a SQLAlchemy URL (postgresql+asyncpg://...) into a libpq URI for psql, optionally
    pointing it at another database."""
    parts = urlsplit(url)
    scheme = "postgresql" if parts.scheme.startswith("postgresql") else parts.scheme
    path = f"/{database}" if database is not None else parts.path
    # asyncpg spells libpq's sslmode as ssl.
    query = urlencode(
        [("sslmode" if key == "ssl" else key, value) for key, value in parse_qsl(parts.query)]
    )
    return urlunsplit((scheme, parts.netloc, path, query, parts.fragment))


def with_database(url: str, database: str) -> str:
    """The same SQLAlchemy URL, pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def psql(url: str, sql: str, *, timeout: float = 60.0) -> str:
    """Run SQL with psql against ``url`` (SQLAlchemy or libpq form); return unaligned, tuples-only
    output without the trailing newline. Raises InfraError on any SQL error."""
    cmd = [
        psql_path(),
        "-X",
        "-q",
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        libpq_url(url),
        "-c",
        sql,
    ]
    try:
        proc = subprocess.run(
            cmd, env=server_env(), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise InfraError(f"psql timed out after {timeout:.0f}s running: {sql}") from exc
    if proc.returncode != 0:
        raise InfraError(f"psql failed (exit {proc.returncode}) running: {sql}\n{proc.stderr}")
    return proc.stdout.rstrip("\n")


# --------------------------------------------------------------------------------------------
# Cleanup registry (fallback when fixture teardown does not run)
# --------------------------------------------------------------------------------------------

_cleanup_lock = threading.Lock()
_cleanups: dict[str, Callable[[], None]] = {}


def _register_cleanup(key: str, stop: Callable[[], None]) -> None:
    with _cleanup_lock:
        _cleanups[key] = stop
    _install_sigterm_handler()


def _raise_keyboard_interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _install_sigterm_handler() -> None:
    """Make SIGTERM (CI cancellation, ``timeout``) behave like Ctrl-C, so pytest still tears
    the fixtures down and stops the servers. Only replaces the default handler, only once."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)


def _unregister_cleanup(key: str) -> None:
    with _cleanup_lock:
        _cleanups.pop(key, None)


@atexit.register
def _stop_leftover_servers() -> None:
    with _cleanup_lock:
        leftovers = list(_cleanups.items())
        _cleanups.clear()
    for _key, stop in leftovers:
        with contextlib.suppress(Exception):  # best effort at interpreter exit
            stop()


def _start_with_retries(start: Callable[[int], None]) -> None:
    """Call ``start(attempt)``; retry when the failure looks like a port clash."""
    for attempt in range(START_ATTEMPTS):
        try:
            start(attempt)
            return
        except InfraError as exc:
            if attempt + 1 == START_ATTEMPTS or "already in use" not in str(exc).lower():
                raise


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------


class PostgresServer:
    """A PostgreSQL server for the session: either started here (``managed``) or external."""

    def __init__(self, url: str, *, directory: Path | None = None, port: int | None = None) -> None:
        self.url = url
        self.directory = directory
        self.port = port

    @property
    def managed(self) -> bool:
        return self.directory is not None

    @property
    def log_file(self) -> Path | None:
        return None if self.directory is None else self.directory / "postgres.log"

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL of another database on this server."""
        return with_database(self.url, database)

    def psql(self, sql: str, *, database: str | None = None) -> str:
        """Run SQL on this server (default: the session database)."""
        return psql(self.url if database is None else self.url_for(database), sql)

    def create_database(self, prefix: str = "paceline_test") -> str:
        """Create a new uniquely named database; return its SQLAlchemy URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:16]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def start(self) -> None:
        if self.directory is None or self.port is None:
            raise InfraError("external PostgreSQL server: not started by the test suite")
        run_script(
            PG_SH,
            "start",
            "--dir",
            str(self.directory),
            "--port",
            str(self.port),
            timeout=PG_START_TIMEOUT_S,
        )
        directory = self.directory
        _register_cleanup(f"pg:{directory}", lambda: _pg_stop(directory))

    def stop(self) -> None:
        if self.directory is None:
            return
        _pg_stop(self.directory)
        _unregister_cleanup(f"pg:{self.directory}")


def _pg_stop(directory: Path) -> None:
    run_script(PG_SH, "stop", "--dir", str(directory), timeout=STOP_TIMEOUT_S)


def _pg_base_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bool]:
    """Directory for the session cluster, and whether we must delete it ourselves.

    As root, pg.sh runs the server as the ``postgres`` OS user, which cannot enter pytest's
    0700 /tmp/pytest-of-root; use a private directory directly under the system temp dir then.
    """
    if os.geteuid() == 0:
        base = Path(tempfile.mkdtemp(prefix="paceline-pg-"))
        base.chmod(0o711)  # searchable, not listable; pg.sh makes the cluster dir 0700 postgres
        return base, True
    return tmp_path_factory.mktemp("pg"), False


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """The session's PostgreSQL server ($PACELINE_TEST_DATABASE_URL, or started by pg.sh)."""
    external = os.environ.get(ENV_DATABASE_URL)
    if external:
        yield PostgresServer(external)
        return
    if pg_bin_dir() is None:
        raise InfraError(
            "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin; run "
            "'deploy/postgres/pg.sh install' as root, or set " + ENV_DATABASE_URL
        )
    base, owned = _pg_base_dir(tmp_path_factory)
    server: PostgresServer | None = None

    def start(attempt: int) -> None:
        nonlocal server
        port = free_port()
        directory = base / f"cluster{attempt}"
        url = (
            run_script(PG_SH, "url", "--dir", str(directory), "--port", str(port), timeout=30)
            .strip()
            .splitlines()[0]
        )
        candidate = PostgresServer(url, directory=directory, port=port)
        server = candidate
        candidate.start()

    try:
        _start_with_retries(start)
        assert server is not None
        yield server
    finally:
        try:
            if server is not None:
                server.stop()
        finally:
            if owned:
                _keep_pg_log(base, tmp_path_factory)
                shutil.rmtree(base, ignore_errors=True)


def _keep_pg_log(base: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Copy the server logs of a root-owned cluster dir into pytest's tmp dir before deletion."""
    logs = sorted(base.glob("cluster*/postgres.log"))
    if not logs:
        return
    target = tmp_path_factory.mktemp("pg-logs")
    for log in logs:
        shutil.copyfile(log, target / f"{log.parent.name}-postgres.log")


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """SQLAlchemy URL (postgresql+asyncpg://...) of the session database ``paceline``."""
    return postgres_server.url


@pytest.fixture
def fresh_database_url(postgres_server: PostgresServer) -> Iterator[str]:
    """SQLAlchemy URL of a new empty database for this test; dropped afterwards."""
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url)


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    """Name of a database migrated once per session; :func:`migrated_database_url` copies it."""
    from paceline.shared.db.migrate import upgrade

    url = postgres_server.create_database("paceline_template")
    # In a thread of its own: the first test to ask may be async (a running event loop),
    # and the migrations run their own loop. They dispose their engine: no session is
    # left on the template, which CREATE DATABASE ... TEMPLATE requires.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(upgrade, url).result()
    return urlsplit(url).path.lstrip("/")


@pytest.fixture
def migrated_database_url(postgres_server: PostgresServer, postgres_template: str) -> Iterator[str]:
    """SQLAlchemy URL of a new database at the current schema (no data); dropped afterwards."""
    name = f"paceline_test_{uuid.uuid4().hex[:16]}"
    postgres_server.psql(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    url = postgres_server.url_for(name)
    MIGRATED.add(url)
    try:
        yield url
    finally:
        MIGRATED.discard(url)
        postgres_server.drop_database(url)


# --------------------------------------------------------------------------------------------
# Kafka
# --------------------------------------------------------------------------------------------


class KafkaBroker:
    """The session's Kafka broker. ``stop()``/``start()`` keep the directory, ports and data."""

    def __init__(
        self,
        bootstrap: str,
        *,
        directory: Path | None = None,
        port: int | None = None,
        controller_port: int | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.directory = directory
        self.port = port
        self.controller_port = controller_port
        self.running = False

    @property
    def managed(self) -> bool:
        return self.directory is not None

    @property
    def log_file(self) -> Path | None:
        return None if self.directory is None else self.directory / "server.log"

    def _require_managed(self) -> tuple[Path, int, int]:
        if self.directory is None or self.port is None or self.controller_port is None:
            pytest.skip(f"Kafka broker from {ENV_KAFKA_BOOTSTRAP} cannot be stopped/started")
        return self.directory, self.port, self.controller_port

    def start(self) -> None:
        """Start (or restart) the broker; returns once its port accepts connections."""
        directory, port, controller_port = self._require_managed()
        run_script(
            KAFKA_SH,
            "start",
            "--dir",
            str(directory),
            "--port",
            str(port),
            "--controller-port",
            str(controller_port),
            timeout=KAFKA_START_TIMEOUT_S,
        )
        self.running = True
        _register_cleanup(f"kafka:{directory}", lambda: _kafka_stop(directory))

    def stop(self) -> None:
        """Stop the broker (SIGTERM, SIGKILL after 30 s); returns once the process is gone."""
        directory, _port, _controller_port = self._require_managed()
        _kafka_stop(directory)
        self.running = False
        _unregister_cleanup(f"kafka:{directory}")

    def is_reachable(self) -> bool:
        host, _, port = self.bootstrap.rpartition(":")
        return port_is_open(int(port), host or LOCALHOST)


def _kafka_stop(directory: Path) -> None:
    run_script(KAFKA_SH, "stop", "--dir", str(directory), timeout=STOP_TIMEOUT_S)


_session_broker: KafkaBroker | None = None


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """The session's Kafka broker ($PACELINE_TEST_KAFKA_BOOTSTRAP, or started by kafka.sh)."""
    global _session_broker
    external = os.environ.get(ENV_KAFKA_BOOTSTRAP)
    if external:
        broker = KafkaBroker(external)
        broker.running = True
        yield broker
        return
    started: KafkaBroker | None = None

    def start(_attempt: int) -> None:
        nonlocal started
        port, controller_port = free_ports(2)
        candidate = KafkaBroker(
            f"{LOCALHOST}:{port}",
            directory=tmp_path_factory.mktemp("kafka"),
            port=port,
            controller_port=controller_port,
        )
        started = candidate
        candidate.start()

    try:
        _start_with_retries(start)
        assert started is not None
        _session_broker = started
        yield started
    finally:
        _session_broker = None
        if started is not None and started.directory is not None:
            _kafka_stop(started.directory)
            _unregister_cleanup(f"kafka:{started.directory}")


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaBroker) -> str:
    """Bootstrap servers string ("127.0.0.1:<port>") of the session's broker."""
    return kafka_broker.bootstrap


# --------------------------------------------------------------------------------------------
# Hooks
# --------------------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)  # before -m deselection looks at the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests that use the server fixtures, so -m "not pg"/"not kafka" deselects them."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & PG_FIXTURES and item.get_closest_marker("pg") is None:
            item.add_marker(pytest.mark.pg)
        if names & KAFKA_FIXTURES and item.get_closest_marker("kafka") is None:
            item.add_marker(pytest.mark.kafka)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Restart the session broker if an earlier test stopped it and did not start it again."""
    broker = _session_broker
    if broker is None or broker.running or not broker.managed:
        return
    if set(getattr(item, "fixturenames", ())) & KAFKA_FIXTURES:
        broker.start()
