"""A busy port is one line for people, not a traceback (services/cli/ports.py, main.py).

The commands run as real processes (``python -m paceline.cli.main``): what a person sees
on the terminal, the exit status and the files left behind are the point.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from paceline.cli import messages
from paceline.cli.main import main
from paceline.cli.ports import PortInUse, bind_listeners, nearby_free_port
from tests.infra import free_port

LOOPBACK = "127.0.0.1"


def clean_env(data_dir: Path) -> dict[str, str]:
    """The environment without the caller's PACELINE_* settings, embedded in ``data_dir``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACELINE_")}
    return env | {"PACELINE_DATA_DIR": str(data_dir), "PACELINE_LOG_LEVEL": "WARNING"}


def paceline(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``paceline ARGS`` in ``cwd`` (data directory ``cwd/data``) to its end."""
    return subprocess.run(
        [sys.executable, "-m", "paceline.cli.main", *args],
        cwd=cwd,
        env=clean_env(cwd / "data"),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def occupied(host: str = LOOPBACK) -> Iterator[int]:
    """A port on ``host`` that another socket listens on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def in_process_env(tmp_path: Path) -> dict[str, str | None]:
    """For CliRunner: the data directory under ``tmp_path``, the caller's settings unset."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PACELINE_")}
    return unset | {"PACELINE_DATA_DIR": str(tmp_path / "data")}


def ipv6_loopback() -> bool:
    """Whether ::1 can be bound on this machine."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_the_messages_name_the_port_and_the_way_out() -> None:
    assert messages.PORT_IN_USE_SERVE.format(port=8000, other=8010) == (
        "port 8000 is in use; try `make run PORT=8010` or `--port`"
    )
    assert messages.PORT_IN_USE.format(port=8001) == "port 8001 is in use; try `--port`"


def test_serve_on_a_busy_port_prints_one_line_and_creates_nothing(tmp_path: Path) -> None:
    with occupied() as port:
        done = paceline(tmp_path, "serve", "--port", str(port))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    found = re.fullmatch(
        rf"Error: port {port} is in use; try `make run PORT=(\d+)` or `--port`", lines[0]
    )
    assert found, lines[0]
    assert int(found[1]) in (port + 10, port + 20, port + 30)
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []  # no data directory, no database: nothing started


def test_a_service_on_a_busy_port_gives_the_port_hint(tmp_path: Path) -> None:
    with occupied() as port:
        done = paceline(tmp_path, "api", "--port", str(port), "--migrate")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"Error: port {port} is in use; try `--port`"], (
        done.stderr
    )
    assert list(tmp_path.iterdir()) == []  # --migrate did not run either


@pytest.mark.parametrize("service", ["ingest", "scoring"])
def test_every_service_checks_its_port(
    tmp_path: Path, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with occupied() as port:
        done = CliRunner().invoke(
            main, [service, "--port", str(port)], env=in_process_env(tmp_path)
        )
    assert done.exit_code == 1
    assert done.stderr == f"Error: port {port} is in use; try `--port`\n"
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_host_is_one_line_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(
        main,
        ["serve", "--host", "no-such-host.invalid", "--port", "8000"],
        env=in_process_env(tmp_path),
    )
    assert done.exit_code == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: cannot listen on no-such-host.invalid port 8000: ")
    assert list(tmp_path.iterdir()) == []


def test_listeners_hold_the_port_from_the_check_on() -> None:
    sockets = bind_listeners(LOOPBACK, 0)
    try:
        assert len(sockets) == 1
        port = int(sockets[0].getsockname()[1])
        # Listening already: a second process cannot bind it in the meantime, even with
        # SO_REUSEADDR, and connecting works (the connection waits for the app).
        with pytest.raises(PortInUse):
            bind_listeners(LOOPBACK, port)
        with socket.create_connection((LOOPBACK, port), timeout=2):
            pass
    finally:
        for sock in sockets:
            sock.close()
    again = bind_listeners(LOOPBACK, port)  # released on close
    for sock in again:
        sock.close()


def test_a_host_name_binds_every_address_it_has() -> None:
    port = free_port()
    sockets = bind_listeners("localhost", port)
    try:
        addresses = {sock.getsockname()[0] for sock in sockets}
        assert LOOPBACK in addresses
        assert all(sock.getsockname()[1] == port for sock in sockets)
        with pytest.raises(PortInUse):
            bind_listeners(LOOPBACK, port)
    finally:
        for sock in sockets:
            sock.close()


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback on this machine")
@pytest.mark.parametrize("spelling", ["::1", "[::1]"])
def test_ipv6_addresses_with_or_without_brackets(spelling: str) -> None:
    with occupied("::1") as port, pytest.raises(PortInUse):
        bind_listeners(spelling, port)
    sockets = bind_listeners(spelling, port)
    try:
        assert [s.family for s in sockets] == [socket.AF_INET6]
        assert sockets[0].getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
    finally:
        for sock in sockets:
            sock.close()


def test_the_suggested_port_is_free() -> None:
    with occupied() as port:
        suggested = nearby_free_port(LOOPBACK, port)
        assert suggested in (port + 10, port + 20, port + 30)
        for sock in bind_listeners(LOOPBACK, suggested):
            sock.close()


@pytest.mark.slow
def test_serve_answers_on_the_socket_it_checked(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(tmp_path / "data") | {"PACELINE_LOG_LEVEL": "INFO"}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "paceline.cli.main", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://{LOOPBACK}:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert f"listening on http://{LOOPBACK}:{port}" in log.read_text()
        second = paceline(tmp_path, "serve", "--port", str(port))
        assert second.returncode == 1
        assert f"port {port} is in use" in second.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    assert process.returncode in (0, -signal.SIGTERM), log.read_text()  # uvicorn re-raises it
    assert "Application shutdown complete" in log.read_text()
