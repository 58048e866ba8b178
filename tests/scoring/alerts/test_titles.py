"""Alert titles in the tenant's zh-CN, for the types the end-to-end tests do not raise
(pipeline lag, future-dated events, missing rates), and every alerts/digest text of the
catalog free of English words once its parameters are filled with Chinese names."""

from __future__ import annotations

import re
import string
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from paceline.scoring.alerts import quality
from paceline.shared.alert_options import AlertOptions
from paceline.shared.clock import Clock, FixedClock
from paceline.shared.db.models import Tenant
from paceline.shared.i18n import L10n, Money, Msg, Pct, msg, render
from paceline.shared.i18n.catalogs import catalog
from tests.support import Stack

NOW = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)


@pytest.fixture
def stack_clock() -> Clock:
    """The stacks of these tests run on a fixed clock (tests/conftest.py)."""
    return FixedClock(NOW)


async def _titles(s: Stack, type_: str, language: str | None = None) -> list[str]:
    headers = s.auth() | ({"Accept-Language": language} if language else {})
    resp = await s.client.get("/v1/alerts", params={"type": type_}, headers=headers)
    assert resp.status_code == 200, resp.text
    return [a["title"] for a in resp.json()["items"]]


async def test_pipeline_lag_titles(embedded_stack: Stack) -> None:
    s = embedded_stack
    async with s.db.transaction() as session:
        tenant = await session.get(Tenant, s.settings.default_tenant)
        assert tenant is not None
        await quality.check_pipeline_lag(
            session, tenant=tenant, lag_records=12345, stuck=True, options=AlertOptions(), now=NOW
        )
    assert await _titles(s, "pipeline_lag") == ["计分落后于事件日志 12,345 条事件，且已停止推进"]
    assert await _titles(s, "pipeline_lag", "en") == [
        "Scoring is 12,345 events behind the event log and not advancing"
    ]


async def test_future_dated_events_are_titled_by_source_and_day(embedded_stack: Stack) -> None:
    s = embedded_stack
    ahead = NOW + timedelta(days=2)  # two days after it arrives (the stack's clock)
    event = {
        "event_id": "f1",
        "type": "visit",
        "occurred_at": ahead.isoformat(),
        "rep_id": "r1",
        "customer_id": "c1",
    }
    assert (await s.post_events([event])).status_code == 202
    await s.wait_scored()
    (title,) = await _titles(s, "future_dated")
    assert title == "2026年11月16日来自“api”的事件时间比到达时间晚 60 分钟以上（时间填错？）"


@pytest.mark.parametrize(
    ("message", "zh"),
    [
        (
            msg("alerts.quality.missing_fx_rate", currency="USD"),
            "缺少 USD 的汇率：以 USD 计价的金额未计入",
        ),
        (
            msg(
                "alerts.anomaly.period_end_surge",
                rep="刘洋",
                observed=7,
                days=3,
                month=msg("alerts.period.month", year="2026", month=L10n(zh="6", en="Jun")),
                expected=Decimal("0.6"),
            ),
            "刘洋在2026年6月的最后 3 个工作日赢单 7 笔，平时约 0.6 笔（冲单？）",
        ),
        (
            msg("digest.summary.changes", since=date(2026, 11, 2), moved=2, opened=3, resolved=1),
            "自2026年11月2日以来：2 个目标状态有变化，新增预警 3 条，已解决 1 条",
        ),
    ],
)
def test_titles_in_zh_cn(message: Msg, zh: str) -> None:
    assert render(message, "zh-CN") == zh


# Parameters a Chinese reader would see: names, money, percentages, dates, counts.
_SAMPLE = {
    "scope": "张伟",
    "rep": "张伟",
    "team": "华北一组",
    "kpi": L10n(zh="销售额", en="Revenue"),
    "period": msg("alerts.period.month", year="2026", month=L10n(zh="11", en="Nov")),
    "month": L10n(zh="11", en="Nov"),
    "actual": Money(Decimal("180000"), "CNY"),
    "expected": Money(Decimal("452380.95"), "CNY"),
    "pace": Pct(Decimal("0.85")),
    "day": date(2026, 11, 3),
    "since": date(2026, 11, 3),
    "type": msg("alerts.event.visits"),
    "items": [msg("alerts.event.visits"), msg("alerts.event.leads")],
    "values": ["开放", "已确认"],
}
# Words kept as they are in zh-CN: names of the API (a query parameter) and of standards.
_ALLOWED = {"UTC", "next_cursor"}


def test_no_english_words_in_zh_cn_alert_texts() -> None:
    zh = catalog("zh-CN")
    codes = [c for c in zh if c.startswith(("alerts.", "digest."))]
    assert len(codes) > 50
    leaks = {}
    for code in codes:
        names = {n for _, n, _, _ in string.Formatter().parse(zh[code]) if n}
        params = {n: _SAMPLE.get(n, 3) for n in names}
        text = render(msg(code, **params), "zh-CN")
        words = set(re.findall(r"[A-Za-z_]{2,}", text)) - _ALLOWED
        if words:
            leaks[code] = (text, sorted(words))
    assert leaks == {}
