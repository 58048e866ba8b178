"""A demo-sized burst (182 alert changes in 60 s) against local bots that enforce the
vendors' published limits and check their documented message shapes, on a pinned clock:
nothing rejected, every alert in some message (grouped and folded), the per-minute caps
kept, quiet hours respected; zh-CN words, the dashboard button and the @-mention of a
critical alert in each vendor's native format."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from paceline.scoring.alerting import Alerting
from paceline.shared.clock import FixedClock
from paceline.shared.db import lifecycle
from paceline.shared.delivery_options import VENDOR_LIMITS
from tests.infra import free_port
from tests.scoring.delivery.vendor_shapes import button_url, check, text_of
from tests.support import Stack, embedded_settings, running_stack

START = datetime(2026, 8, 3, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
VENDORS = ("wecom", "dingtalk", "feishu", "slack")
BASE = "https://paceline.example.com/dashboard/"
MENTIONS = {"company": {"mobiles": ["13800000001"], "user_ids": ["mgr_zhang"]}}
# How each vendor answers a bot that goes over its limit (status, body, blocked seconds).
OVER = {
    "wecom": (200, {"errcode": 45009, "errmsg": "api freq out of limit"}, 60),
    "dingtalk": (
        200,
        {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"},
        600,
    ),
    "feishu": (200, {"code": 11232, "msg": "frequency limited"}, 60),
    "slack": (429, {"ok": False, "error": "rate_limited"}, 1),
}


@dataclass
class Bot:
    """One vendor's bot: accepts within the published limits, answers as the vendor over them."""

    vendor: str
    clock: FixedClock
    accepted: list[tuple[datetime, str]] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[datetime] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    blocked_until: datetime | None = None

    def receive(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        now = self.clock.now()
        if self.blocked_until is not None and now < self.blocked_until:
            self.rejected.append(now)
            return OVER[self.vendor][0], OVER[self.vendor][1]
        sent = [t for t, _ in self.accepted]
        for lim in VENDOR_LIMITS[self.vendor].limits:
            window = [t for t in sent if t > now - timedelta(seconds=lim.window_s)]
            if len(window) >= lim.count:
                status, answer, blocked = OVER[self.vendor]
                self.blocked_until = now + timedelta(seconds=blocked)
                self.rejected.append(now)
                return status, answer
        self.problems += check(self.vendor, body)
        self.bodies.append(body)
        self.accepted.append((now, json.dumps(body, ensure_ascii=False)))
        return 200, {"errcode": 0, "errmsg": "ok"} if self.vendor != "feishu" else {"code": 0}


@contextmanager
def bots(clock: FixedClock) -> Iterator[tuple[int, dict[str, Bot]]]:
    """The four bots on one 127.0.0.1 server, one path each."""
    by_path = {f"/{v}": Bot(v, clock) for v in VENDORS}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            with lock:
                status, answer = by_path[self.path.split("?")[0]].receive(json.loads(raw))
            out = json.dumps(answer).encode()
            self.send_response(status)
            if status == 429:
                self.send_header("retry-after", "1")
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port, {p.strip("/"): b for p, b in by_path.items()}
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
async def clocked(tmp_path: Path) -> AsyncIterator[tuple[Stack, FixedClock]]:
    """An embedded stack on a pinned clock."""
    clock = FixedClock(START)
    settings = embedded_settings(tmp_path / "data", alerts_tick_s=0, delivery_poll_s=0.05)
    async with running_stack("embedded", settings, clock=clock) as s:
        yield s, clock


async def raise_alerts(s: Stack, clock: FixedClock, scopes: list[tuple[str, str, str]]) -> None:
    """Raise alerts (scope, kind, severity) in one transaction at the clock's time."""
    async with s.db.transaction() as session:
        for scope, kind, severity in scopes:
            await lifecycle.raise_alert(
                session,
                tenant_id="default",
                kind=kind,
                type="burst" if kind != "lag" else "lag",
                dedup_key=f"{kind}:{scope}",
                scope=scope,
                severity=severity,
                title=f"{scope} {kind}",
                detail={},
                now=clock.now(),
            )


def named(bot: Bot) -> str:
    return "\n".join(text for _, text in bot.accepted)


def max_in_window(bot: Bot, seconds: float) -> int:
    times = [t for t, _ in bot.accepted]
    return max(
        (sum(1 for u in times if t <= u < t + timedelta(seconds=seconds)) for t in times),
        default=0,
    )


async def test_a_burst_of_182_changes_reaches_every_bot_within_its_limits(
    clocked: tuple[Stack, FixedClock],
) -> None:
    s, clock = clocked
    dispatcher = s.app.state.paceline.extras["alerts"].dispatcher
    assert isinstance(s.app.state.paceline.extras["alerts"], Alerting)
    with bots(clock) as (port, by_vendor):
        for vendor in VENDORS:
            body: dict[str, Any] = {
                "name": vendor,
                "url": f"http://127.0.0.1:{port}/{vendor}",
                "format": vendor,
                "dashboard_url": BASE,
                "mentions": MENTIONS,
            }
            if vendor in ("dingtalk", "feishu"):
                body["secret"] = "SECtest"
            resp = await s.client.post("/v1/subscriptions", json=body, headers=s.auth())
            assert resp.status_code == 201, resp.text
        kinds = ("data_quality", "anomaly", "system")
        burst = [(f"rep:burst-{i:03d}", kinds[i % 3], "warning") for i in range(182)]
        # 182 alert changes within 60 seconds, in 20 commits 3 s apart.
        for n in range(0, 182, 10):
            await raise_alerts(s, clock, burst[n : n + 10])
            await dispatcher.step()
            clock.advance(timedelta(seconds=3))
        # Then 15 minutes in 5-second steps.
        for _ in range(180):
            clock.advance(timedelta(seconds=5))
            await dispatcher.step()
        for vendor, bot in by_vendor.items():
            assert bot.rejected == [], vendor
            text = named(bot)
            # Each alert named: by its rep's name, which is the id for reps the org chart
            # does not know (as here).
            missing = [scope for scope, _, _ in burst if scope.removeprefix("rep:") not in text]
            assert missing == [], (vendor, len(missing))
            for lim in VENDOR_LIMITS[vendor].limits:
                assert max_in_window(bot, lim.window_s) <= lim.count, vendor
            assert 1 <= len(bot.accepted) <= 20, (vendor, len(bot.accepted))
            # The vendor's documented shape, zh-CN words, a button to the alert list;
            # warnings that are not lag alerts call nobody.
            assert bot.problems == [], vendor
            for body in bot.bodies:
                text = text_of(vendor, body)
                assert "条告警变化" in text or "【新增】" in text, text[:200]
                assert (button_url(vendor, body) or "").startswith(BASE), vendor
                assert "13800000001" not in text
                assert "mgr_zhang" not in text

        # Quiet hours: at 22:00 only the critical alert goes out; the rest in the morning.
        before = {v: len(b.accepted) for v, b in by_vendor.items()}
        clock.set(datetime(2026, 8, 3, 14, 0, tzinfo=UTC))  # 22:00 in Shanghai
        await raise_alerts(
            s,
            clock,
            [
                ("rep:night-1", "anomaly", "warning"),
                ("rep:night-2", "data_quality", "info"),
                ("rep:night-crit", "system", "critical"),
            ],
        )
        for _ in range(60):
            clock.advance(timedelta(seconds=10))
            await dispatcher.step()
        for vendor, bot in by_vendor.items():
            night = "\n".join(text for _, text in bot.accepted[before[vendor] :])
            assert "rep:night-crit" in night, vendor
            # The critical alert calls the manager, in the vendor's syntax, and its button
            # opens the rep's view.
            last = bot.bodies[-1]
            shown = text_of(vendor, last)
            assert {
                "wecom": "<@mgr_zhang>",
                "dingtalk": "@13800000001",
                "feishu": "<at id=mgr_zhang></at>",
                "slack": "<@mgr_zhang>",
            }[vendor] in shown, (vendor, shown)
            assert "严重" in shown
            assert "系统" in shown
            assert button_url(vendor, last) == f"{BASE}?tenant=default#/rep?rep=night-crit"
            if vendor == "dingtalk":
                assert last["at"] == {
                    "atMobiles": ["13800000001"],
                    "atUserIds": ["mgr_zhang"],
                    "isAtAll": False,
                }
            assert "rep:night-1" not in night, vendor
            assert "rep:night-2" not in night, vendor
        clock.set(datetime(2026, 8, 4, 1, 0, 30, tzinfo=UTC))  # Tuesday 09:00:30
        for _ in range(12):
            clock.advance(timedelta(seconds=10))
            await dispatcher.step()
        for vendor, bot in by_vendor.items():
            assert "rep:night-1" in named(bot), vendor
            assert "rep:night-2" in named(bot), vendor
            assert bot.rejected == [], vendor
            assert bot.problems == [], vendor
