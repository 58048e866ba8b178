"""Month close (月结) on the dashboard, in headless Chromium against ``paceline serve --demo``.

A module of its own, so it gets its own demo server (the ``demo_server`` fixture is
module-scoped): closing the last month must not change what the other browser tests see.

The server's clock starts on the 1st of December (``--today``), so November has ended. A
November deal of rep-01 is sent and scored before the close (what Paceline knew of
November then), November is closed through the API, and a correction of that deal arrives
after the close: it is booked to December as an adjustment. December's revenue row then
carries "含调整 ¥2,500（1 笔）", whose list names the deal, its event and the November day it
belongs to; November carries the 已月结 badge. With the admin key the month is reopened and
closed again from the page; a read-only key sees the badge and no buttons.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from tests.browser.conftest import Tab
from tests.browser.test_dashboard import check_value, periods, shown

DEAL = "browser-close-A"
REP = "rep-01"


def deal(version: int, day: str, amount: str) -> dict[str, Any]:
    """A won deal of rep-01 (version 2 corrects the amount)."""
    return {
        "event_id": f"{DEAL}-v{version}",
        "type": "deal",
        "entity_id": DEAL,
        "version": version,
        "occurred_at": f"{day}T10:00:00+08:00",
        "closed_at": f"{day}T10:00:00+08:00",
        "rep_id": REP,
        "customer_id": "cust-north-close",
        "stage": "won",
        "amount": amount,
    }


def progress(api: httpx.Client, period: str, scope: str = f"rep:{REP}") -> dict[str, Any]:
    resp = api.get("/v1/progress", params={"kpi": "revenue", "scope": scope, "period": period})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def until(check: Callable[[], bool], what: str, timeout_s: float = 90.0) -> None:
    """Wait for the scoring worker (it runs in the server, on its own schedule)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def send(api: httpx.Client, event: dict[str, Any]) -> None:
    resp = api.post("/v1/events?source=browser-test", json=event)
    assert resp.status_code == 202, resp.text


def test_closed_month_badge_and_adjustments(tab_factory: Callable[..., Tab]) -> None:
    tab = tab_factory()
    ctx = periods(tab)
    december, november = ctx["month"][0], ctx["month"][1]
    assert (december, november) == ("2026-12", "2026-11"), "the module needs --today in December"

    with tab.server.api() as api:
        before = Decimal(progress(api, november)["actual"])
        send(api, deal(1, "2026-11-20", "10000"))
        until(
            lambda: Decimal(progress(api, november)["actual"]) == before + 10000,
            "the November deal to count in November",
        )
        resp = api.post("/v1/closes", json={"period": november, "reason": "11月月结"})
        assert resp.status_code == 201, resp.text
        closed = resp.json()
        send(api, deal(2, "2026-11-20", "12500"))  # known after the close
        until(
            lambda: progress(api, december)["adjusted"] is not None,
            "the correction to be booked to December",
        )
        assert Decimal(progress(api, november)["actual"]) == before + 10000  # holds still
        company = progress(api, december, scope="company")
    assert (Decimal(company["adjusted"]), company["adjustments"]) == (2500, 1)

    # December: the mark on the revenue row, with the API's amount, and its list.
    view = tab.open("overview", scope="company", period=december)
    row = view.locator(".kpi-row[data-kpi='revenue']")
    mark = row.locator(".adj-mark")
    assert mark.get_attribute("data-value") == company["adjusted"]
    assert mark.get_attribute("data-count") == "1"
    assert mark.inner_text() == "含调整 ¥2,500（1 笔）"
    assert view.locator(".kpi-row .adj-mark").count() == 1  # only revenue moved
    assert view.locator(".closing-closed").count() == 0  # December is open
    mark.click()
    panel = tab.page.locator(".adj-list[data-kpi='revenue']")
    panel.wait_for()
    assert panel.get_attribute("data-count") == "1"
    check_value(panel.locator(".v-adj-total"), company["adjusted"], "currency")
    line = panel.locator(f"tr[data-record='{DEAL}']")
    assert line.count() == 1
    text = line.inner_text()
    for part in (DEAL, f"{DEAL}-v2", "2026-11-20", "2026-12-01", "王伟"):
        assert part in text, (part, text)
    assert shown(line.locator(".v-adj-amount").inner_text()) == 2500
    assert tab.page.evaluate("() => location.hash").find("kpi=") == -1  # the row did not navigate
    tab.shot("adjustments-december")

    # The rep's view has the same mark on its progress row.
    rep = tab.open("rep", rep=REP, period=december)
    assert rep.locator(".kpi-row[data-kpi='revenue'] .adj-mark").inner_text().startswith("含调整")

    # November: the badge, who and when; the admin key may reopen it.
    view = tab.open("overview", scope="company", period=november)
    badge = view.locator(".close-state .closing-closed")
    assert badge.inner_text() == "已月结"
    assert badge.get_attribute("data-closed") == november
    title = badge.get_attribute("title") or ""
    assert closed["closed_by"] in title, title
    assert "11月月结" in title, title
    assert view.locator(".kpi-row .adj-mark").count() == 0
    assert view.locator(".close-action summary").inner_text() == "重新开启"

    # In English.
    renders = int(tab.page.evaluate("() => Number(document.body.dataset.renders)"))
    tab.page.locator("#lang").click()
    tab.wait(f"() => Number(document.body.dataset.renders) > {renders}")
    assert tab.page.locator(".close-state .closing-closed").inner_text() == "Closed"
    view = tab.open("overview", scope="company", period=december)
    assert (
        view.locator(".kpi-row[data-kpi='revenue'] .adj-mark").inner_text()
        == "incl. adjustments ¥2,500 (1)"
    )
    tab.page.locator("#lang").click()  # back to Chinese
    tab.wait("() => document.documentElement.lang === 'zh-CN'")

    # Reopen from the page (a reason is required), then close again.
    view = tab.open("overview", scope="company", period=november)
    view.locator(".close-action summary").click()
    renders = int(tab.page.evaluate("() => Number(document.body.dataset.renders)"))
    view.locator(".close-form input[name='reason']").fill("客户退款重算")
    view.locator(".close-form button[type='submit']").click()
    tab.wait(f"() => Number(document.body.dataset.renders) > {renders}")
    view = tab.page.locator("section.view-overview")
    assert view.locator(".closing-closed").count() == 0
    assert view.locator(".close-action summary").inner_text() == "月结本月"
    with tab.server.api() as api:
        listing = api.get("/v1/closes").json()
    assert november not in listing["closed"]
    assert listing["closes"][0]["reopen_reason"] == "客户退款重算"
    view.locator(".close-action summary").click()
    renders = int(tab.page.evaluate("() => Number(document.body.dataset.renders)"))
    view.locator(".close-form button[type='submit']").click()
    tab.wait(f"() => Number(document.body.dataset.renders) > {renders}")
    assert tab.page.locator("section.view-overview .closing-closed").inner_text() == "已月结"
    with tab.server.api() as api:
        assert november in api.get("/v1/closes").json()["closed"]
    tab.shot("closed-november")

    # Closing December (not ended yet) is not offered; the API would answer 422.
    view = tab.open("overview", scope="company", period=december)
    assert view.locator(".close-action").count() == 0

    # A read-only key sees the badge and no buttons.
    with tab.server.api() as api:
        resp = api.post("/v1/keys", json={"name": "wall", "scopes": ["read"]})
        assert resp.status_code == 201, resp.text
        reader = resp.json()["key"]
    wall = tab_factory(with_key=False)
    wall.page.locator("#keydialog").wait_for(state="visible")
    wall.page.fill("#key-input", reader)
    wall.page.click("#keyform button[type=submit]")
    wall.wait("() => Number(document.body.dataset.renders || 0) > 0")
    view = wall.open("overview", scope="company", period=november)
    assert view.locator(".closing-closed").inner_text() == "已月结"
    assert view.locator(".close-action").count() == 0
