"""The browser tests' stack: ``paceline serve --demo`` as a subprocess, and headless Chromium.

The server runs on a free loopback port in a temporary data directory (JSON logs to
test-artifacts/browser/server.log), on a clock that starts at a pinned reference instant
(``--today``, so no verdict depends on the day the suite runs), with the live trickle off
so the numbers on the page and the API's stay comparable; the tests send their own live
events. Chromium is Debian's
(``deploy/browser/chromium.sh install``, run by ``make services``; run here too when it is
missing), driven by Playwright's Python client: no browser is downloaded at test time.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.infra import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = Path(os.environ.get("PACELINE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
KEY = "pl_browser_test_key_0123456789abcdef"
# The demo's reference instant (``paceline serve --today``): the 1st of a month, when the
# current month has barely started (the dashboard opens on the last complete month). The
# server's clock starts here whatever the wall clock says; PACELINE_BROWSER_TODAY
# overrides it to try the dashboard on another day.
TODAY = os.environ.get("PACELINE_BROWSER_TODAY", "2026-12-01T15:00:00+08:00")
READY_LINE = "demo: ready in"
START_TIMEOUT_S = 420.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is a browser test (``-m "not browser"`` leaves them out)."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)


@dataclass
class DemoServer:
    """A running ``paceline serve --demo``."""

    base: str
    key: str
    log: Path
    process: subprocess.Popen[bytes]
    data: Path | None = None  # its data directory (the SQLite database is paceline.db)

    def api(self) -> httpx.Client:
        """A client of the server's API with the admin key."""
        return httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {self.key}"}, timeout=60
        )


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """``paceline serve --demo`` on a free port, seeded (history scored, plan made)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    data = tmp_path_factory.mktemp("demo-data")
    port = free_port()
    log = ARTIFACTS / "server.log"
    env = os.environ | {
        "PACELINE_LOG_FORMAT": "json",
        "PACELINE_ENVIRONMENT": "development",
        "PACELINE_RATE_LIMIT_PER_S": "0",
    }
    env.pop("PACELINE_DATABASE_URL", None)
    env.pop("PACELINE_KAFKA_BOOTSTRAP", None)
    command = [
        sys.executable, "-m", "paceline.cli.main", "serve", "--demo",
        "--port", str(port), "--data-dir", str(data), "--api-key", KEY, "--trickle-every", "0",
        "--today", TODAY,
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=data, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = DemoServer(f"http://127.0.0.1:{port}", KEY, log, process, data)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while READY_LINE not in log.read_text(errors="replace"):
            if process.poll() is not None:
                pytest.fail(f"paceline serve --demo exited:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"the demo was not ready in {START_TIMEOUT_S} s; see {log}")
            time.sleep(0.5)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's Chromium, installed now if ``make services`` has not."""
    if not CHROMIUM.exists():
        script = ROOT / "deploy" / "browser" / "chromium.sh"
        subprocess.run(["bash", str(script), "install"], check=False, timeout=900)
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.fail(
            f"no Chromium at {CHROMIUM}: run `make services` (as root) or deselect the "
            'browser tests with -m "not browser"'
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium_path: Path) -> Iterator[Any]:
    """Headless Chromium through Playwright (a fresh profile per launch).

    Module-scoped: Playwright's sync API keeps an event loop running in this thread while
    it is open, which the async tests of other folders must not find.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()


@dataclass
class Tab:
    """A page of the dashboard, with what its console said."""

    page: Any
    server: DemoServer
    problems: list[str] = field(default_factory=list)

    def wait(self, script: str, timeout_s: float = 60.0) -> Any:
        """Poll ``script`` (a JS function) until it answers something truthy.

        (Playwright's wait_for_function evaluates strings, which the dashboard's
        Content-Security-Policy rightly refuses; evaluate() is not subject to it.)
        """
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.page.evaluate(script)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {script}")
            time.sleep(0.1)

    def open(self, view: str, **params: str) -> Any:
        """Go to a view and wait until it has rendered with these parameters."""
        before = int(self.page.evaluate("() => Number(document.body.dataset.renders || 0)"))
        # A parameter of its own, so the hash always changes (and the view renders anew).
        query = "&".join(f"{k}={v}" for k, v in {**params, "_open": str(before)}.items())
        self.page.evaluate(f"() => {{ location.hash = '#/{view}?{query}'; }}")
        self.wait(
            f"() => document.body.dataset.view === '{view}' && "
            f"Number(document.body.dataset.renders || 0) > {before}"
        )
        return self.page.locator(f"section.view-{view}")

    def shot(self, name: str, *, full_page: bool = True) -> Path:
        """Save a screenshot under test-artifacts/browser/."""
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture
def tab_factory(browser: Any, demo_server: DemoServer) -> Iterator[Callable[..., Tab]]:
    """New browser contexts (empty storage), each a tab; console errors fail the test."""
    opened: list[Tab] = []

    def make(*, width: int = 1280, height: int = 900, with_key: bool = True) -> Tab:
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        tab = Tab(page, demo_server)
        page.on(
            "console",
            lambda m: tab.problems.append(f"{m.type}: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: tab.problems.append(f"pageerror: {e}"))
        url = f"{demo_server.base}/dashboard/"
        page.goto(url + (f"#key={demo_server.key}" if with_key else ""))
        if with_key:
            tab.wait("() => Number(document.body.dataset.renders || 0) > 0")
        opened.append(tab)
        return tab

    yield make
    for tab in opened:
        tab.page.context.close()
    problems = [p for tab in opened for p in tab.problems]
    assert not problems, problems


@pytest.fixture
def tab(tab_factory: Callable[..., Tab]) -> Tab:
    """A desktop-sized tab with the key handed over in the URL fragment."""
    return tab_factory()
