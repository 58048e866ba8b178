"""The dashboard in headless Chromium against ``paceline serve --demo``.

Each page is loaded, its numbers are read off the screen and compared with the API's
answers for the same instant (``data-as-of`` of the view), the language is switched, an
alert is acknowledged, a live event moves a number without a reload, and every page fits a
phone. Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tests.browser.conftest import Tab

SHANGHAI = ZoneInfo("Asia/Shanghai")
DIGITS = {"currency": 0, "count": 0, "ratio": 1}


def shown(text: str) -> Decimal | None:
    """A number as the page shows it ("¥1,234", "45.0%", "6.40 小时") -> Decimal."""
    cleaned = re.sub(r"[^\d.\-]", "", text.replace("−", "-"))
    return Decimal(cleaned) if cleaned not in {"", "-", "."} else None


def rounded(value: str | None, unit: str) -> Decimal | None:
    """An API value rounded as the page shows it (ratios as percentages)."""
    if value is None:
        return None
    d = Decimal(value) * (100 if unit == "ratio" else 1)
    return d.quantize(Decimal(1).scaleb(-DIGITS.get(unit, 2)), rounding=ROUND_HALF_UP)


def check_value(node: Any, api_value: str | None, unit: str) -> None:
    """The node's raw value is the API's, and its text shows that value rounded."""
    assert (node.get_attribute("data-value") or None) == api_value
    assert shown(node.inner_text()) == rounded(api_value, unit), (node.inner_text(), api_value)


def periods(tab: Tab) -> dict[str, Any]:
    with tab.server.api() as api:
        ctx: dict[str, Any] = api.get("/v1/dashboard/context").json()["periods"]
    return ctx


def test_overview_rows_show_the_apis_numbers(tab: Tab) -> None:
    month = periods(tab)["month"][0]
    for scope in ("company", "team:north"):
        view = tab.open("overview", scope=scope, period=month)
        as_of = view.get_attribute("data-as-of")
        rows = view.locator(".kpi-row")
        assert rows.count() == 13
        with tab.server.api() as api:
            for i in range(rows.count()):
                row = rows.nth(i)
                kpi = row.get_attribute("data-kpi")
                p = api.get(
                    "/v1/progress",
                    params={"kpi": kpi, "scope": scope, "period": month, "as_of": as_of},
                ).json()
                assert row.get_attribute("data-status") == p["status"], kpi
                for field in ("actual", "target", "expected", "baseline", "stretch"):
                    check_value(row.locator(f".v-{field}").first, p[field], p["unit"])
                assert row.locator(".v-pace").get_attribute("data-value") == (p["pace"] or "")
                if p["unit"] != "ratio" and p["expected"] != p["target"]:
                    marker = row.locator(".mark-expected")
                    assert marker.get_attribute("data-value") == p["expected"]
        tab.shot(f"overview-{scope.replace(':', '-')}")


def test_the_chart_shows_the_period_and_ends_on_the_actual(tab: Tab) -> None:
    month = periods(tab)["month"][0]
    view = tab.open("overview", scope="company", period=month, kpi="revenue")
    card = view.locator("section.series")
    assert card.get_attribute("data-kpi") == "revenue"
    as_of = view.get_attribute("data-as-of")
    with tab.server.api() as api:
        p = api.get(
            "/v1/progress",
            params={"kpi": "revenue", "scope": "company", "period": month, "as_of": as_of},
        ).json()
        series = api.get(
            "/v1/dashboard/series",
            params={"kpi": "revenue", "scope": "company", "period": month, "as_of": as_of},
        ).json()
    check_value(card.locator(".v-series-actual"), p["actual"], "currency")
    check_value(card.locator(".v-series-expected"), p["expected"], "currency")
    check_value(card.locator(".v-series-target"), p["target"], "currency")
    drawn = tab.wait(
        "() => { const c = document.querySelector('section.series canvas');"
        " const chart = window.Chart && window.Chart.getChart(c);"
        " return chart && chart.data.datasets.map(d => [d.label, d.data.length]); }"
    )
    assert [n for _label, n in drawn] == [len(series["days"])] * len(drawn)
    assert len(drawn) == 5  # actual, expected, target, baseline, stretch
    last = tab.page.evaluate(
        "() => { const d = window.Chart.getChart(document.querySelector('section.series canvas'))"
        ".data.datasets[0].data; return d.filter(v => v !== null).pop(); }"
    )
    assert Decimal(str(last)) == Decimal(p["actual"])
    tab.shot("overview-chart", full_page=False)


def test_rep_scorecard_drills_down_to_the_records(tab: Tab) -> None:
    month = periods(tab)["focus_month"]
    view = tab.open("rep", rep="rep-03", period=month)
    as_of = view.get_attribute("data-as-of")
    with tab.server.api() as api:
        card = api.get(
            "/v1/scorecards", params={"scope": "rep:rep-03", "period": month, "as_of": as_of}
        ).json()
        progress = api.get(
            "/v1/dashboard/overview",
            params={"scope": "rep:rep-03", "period": month, "as_of": as_of},
        ).json()
    score = view.locator(".scorecard .v-score")
    assert score.get_attribute("data-value") == (card["score"] or "")
    for item in card["items"]:
        row = view.locator(f".scorecard-table tr[data-kpi='{item['kpi']}']")
        check_value(row.locator(".v-actual"), item["actual"], item["unit"])
        check_value(row.locator(".v-target"), item["target"], item["unit"])
        assert row.locator(".v-attainment").get_attribute("data-value") == (
            item["attainment"] or ""
        )
    # rep-03 has fallen behind: their revenue in the month on show is behind or at risk.
    revenue = next(r for r in progress["rows"] if r["kpi"] == "revenue")
    assert revenue["status"] in {"behind", "at_risk"}
    assert (
        view.locator(".kpi-row[data-kpi='revenue']").get_attribute("data-status")
        == revenue["status"]
    )
    # Drill down: the visits behind the number.
    visits = next(i for i in card["items"] if i["kpi"] == "visits")
    view.locator(".scorecard-table tr[data-kpi='visits'] .drill-btn").click()
    drill = tab.page.locator("section.drill[data-kpi='visits']")
    drill.wait_for()
    start = progress["period"]["start"]
    through = progress["rows"][0]["through_day"]
    with tab.server.api() as api:
        records: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = api.get(
                "/v1/facts/records",
                params={"kpi": "visits", "scope": "rep:rep-03", "from": start, "to": through}
                | ({"cursor": cursor} if cursor else {}),
            ).json()
            records += page["records"]
            cursor = page["next_cursor"]
            if not cursor:
                break
    assert int(drill.get_attribute("data-records") or -1) == len(records)
    assert Decimal(drill.get_attribute("data-total") or "-1") == Decimal(visits["actual"])
    assert drill.locator("tbody tr").count() == len(records)
    shown_ids = set(
        drill.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.record)")
    )
    assert shown_ids == {r["record_id"] for r in records}
    tab.shot("rep-rep-03")


def test_leaderboard_is_the_apis_ranking(tab: Tab) -> None:
    # Opened without a period: the focus month (on the 1st, the last complete month).
    month = periods(tab)["focus_month"]
    assert month == "2026-11"
    view = tab.open("leaderboard", team="hq")
    assert view.get_attribute("data-period") == month
    as_of = view.get_attribute("data-as-of")
    with tab.server.api() as api:
        board = api.get(
            "/v1/leaderboard", params={"team": "hq", "period": month, "as_of": as_of}
        ).json()
    rows = view.locator(".leaderboard-table tbody tr")
    assert rows.count() == len(board["rows"]) == 21
    for i, expected in enumerate(board["rows"]):
        row = rows.nth(i)
        assert row.get_attribute("data-rep") == expected["rep_id"]
        assert row.get_attribute("data-rank") == str(expected["rank"])
        assert row.locator(".v-score").get_attribute("data-value") == (expected["score"] or "")
    ranks = {r["rep_id"]: r["rank"] for r in board["rows"]}
    assert ranks["rep-03"] == 21  # the laggard
    assert ranks["rep-01"] <= 5  # the rising star
    tab.shot("leaderboard")
    # Ranked by one KPI instead.
    view = tab.open("leaderboard", team="north", period=month, kpi="revenue")
    with tab.server.api() as api:
        board = api.get(
            "/v1/leaderboard",
            params={"team": "north", "period": month, "kpi": "revenue",
                    "as_of": view.get_attribute("data-as-of")},
        ).json()  # fmt: skip
    got = view.locator(".leaderboard-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.rep)"
    )
    assert got == [r["rep_id"] for r in board["rows"]]


def test_acknowledge_an_alert(tab: Tab) -> None:
    view = tab.open("alerts", status="open")
    with tab.server.api() as api:
        open_alerts = api.get("/v1/alerts", params={"status": "open", "limit": 200}).json()["items"]
    assert int(view.get_attribute("data-count") or -1) == len(open_alerts)
    shown_ids = view.locator("article.alert").evaluate_all(
        "cards => cards.map(c => c.dataset.alert)"
    )
    assert shown_ids == [str(a["id"]) for a in open_alerts]
    unknown = next(a for a in open_alerts if a["type"] == "unknown_rep")
    assert "rep-22" in unknown["title"]
    tab.shot("alerts-open")
    before = int(tab.page.evaluate("() => Number(document.body.dataset.renders)"))
    view.locator(f"article.alert[data-alert='{unknown['id']}'] button.ack").click()
    tab.wait(f"() => Number(document.body.dataset.renders) > {before}")
    assert tab.page.locator(f"article.alert[data-alert='{unknown['id']}']").count() == 0
    with tab.server.api() as api:
        after = api.get(f"/v1/alerts/{unknown['id']}").json()
    assert after["status"] == "acknowledged"
    assert after["acknowledged_by"].startswith("key:")
    assert after["history"][-1]["action"] == "acknowledged"
    assert after["history"][-1]["note"] == "acknowledged on the dashboard"
    view = tab.open("alerts", status="acknowledged")
    card = view.locator(f"article.alert[data-alert='{unknown['id']}']")
    assert card.get_attribute("data-status") == "acknowledged"
    assert card.locator("button.ack").count() == 0
    tab.shot("alerts-acknowledged")


def test_the_plan_and_its_versions(tab: Tab) -> None:
    year = periods(tab)["year"][0]
    view = tab.open("targets", period=year, scope="company")
    with tab.server.api() as api:
        listed = api.get("/v1/targets", params={"period": year, "scope": "company"}).json()
    rows = view.locator(".targets-table tbody tr")
    assert rows.count() == len(listed) == 13
    revenue = next(t for t in listed if t["kpi"] == "revenue")
    row = view.locator(f".targets-table tr[data-target='{revenue['id']}']")
    check_value(row.locator(".v-target"), revenue["target"], "currency")
    row.locator("a").first.click()
    tab.wait(
        f"() => document.querySelector(\"section.target-detail[data-target='{revenue['id']}']\")"
    )
    with tab.server.api() as api:
        children = api.get("/v1/targets", params={"parent_id": revenue["id"]}).json()
        quarter = periods(tab)["quarter"][0]
        revised = next(c for c in children if c["period"] == quarter and c["scope"] == "company")
        history = api.get(f"/v1/targets/{revised['id']}").json()
    detail = tab.page.locator("section.target-detail")
    assert detail.locator(".children-table tbody tr").count() == len(children)
    detail.locator(f".children-table tr[data-target='{revised['id']}'] a").first.click()
    tab.wait(
        f"() => document.querySelector(\"section.target-detail[data-target='{revised['id']}']\")"
    )
    detail = tab.page.locator("section.target-detail")
    versions = detail.locator(".versions-table tbody tr")
    assert versions.count() == len(history["versions"]) == 2
    for i, v in enumerate(history["versions"]):
        check_value(versions.nth(i).locator(".v-target"), v["target"], "currency")
        assert v["reason"] in versions.nth(i).inner_text()
    assert "董事会" in history["versions"][1]["reason"]
    tab.shot("targets-versions")


def test_the_plan_marks_parents_whose_children_do_not_add_up(tab: Tab) -> None:
    # The demo revises the company's revenue for the current quarter after the plan was
    # split (the board's raise), keeping its children: the quarter's teams and months no
    # longer add up to it, and the year falls short of its quarters.
    year = periods(tab)["year"][0]
    view = tab.open("targets", period=year, scope="company")
    with tab.server.api() as api:
        listed = api.get("/v1/targets", params={"period": year, "scope": "company"}).json()
    off = {t["id"]: t["findings"] for t in listed if t["findings"]}
    revenue = next(t for t in listed if t["kpi"] == "revenue")
    assert revenue["id"] in off
    assert {f["code"] for fs in off.values() for f in fs} == {"plan_mismatch"}
    for t in listed:
        row = view.locator(f".targets-table tr[data-target='{t['id']}']")
        mark = row.locator(".chip.finding-plan_mismatch")
        if t["id"] in off:
            assert "mismatch" in (row.get_attribute("class") or "")
            assert mark.get_attribute("data-difference") == off[t["id"]][0]["params"]["difference"]
            assert mark.inner_text() == "分解不平"
        else:
            assert mark.count() == 0
    # The year's detail says by how much, in the page's language.
    row = view.locator(f".targets-table tr[data-target='{revenue['id']}']")
    row.locator("a").first.click()
    tab.wait(
        f"() => document.querySelector(\"section.target-detail[data-target='{revenue['id']}']\")"
    )
    items = tab.page.locator("section.target-detail .plan-mismatch li")
    assert items.count() == len(off[revenue["id"]])
    first = off[revenue["id"]][0]["params"]
    assert items.first.get_attribute("data-difference") == first["difference"]
    assert "子目标合计" in items.first.inner_text()
    tab.shot("targets-mismatch")
    before = int(tab.page.evaluate("() => Number(document.body.dataset.renders)"))
    tab.page.locator("#lang").click()
    tab.wait(f"() => Number(document.body.dataset.renders) > {before}")
    items = tab.page.locator("section.target-detail .plan-mismatch li")
    assert "children sum to" in items.first.inner_text()
    assert "Does not add up" in items.first.inner_text()
    tab.page.locator("#lang").click()


def test_the_review_with_its_charts(tab: Tab) -> None:
    previous = periods(tab)["month"][1]
    view = tab.open("review", team="hq", period=previous)
    # The page asks without as_of: the review stands at the month's end with everything
    # known now (the demo's history was received on the 1st, after that end), which an
    # explicit as_of reads with knowledge=latest.
    with tab.server.api() as api:
        rv = api.get(
            "/v1/reviews",
            params={
                "team": "hq",
                "period": previous,
                "as_of": view.get_attribute("data-as-of"),
                "knowledge": "latest",
            },
        ).json()
    cells = view.locator(".review-table td.tier-cell")
    assert cells.count() == len(rv["rows"])
    for r in rv["rows"][:40]:
        cell = view.locator(f".review-table td[data-scope='{r['scope']}'][data-kpi='{r['kpi']}']")
        assert cell.get_attribute("data-value") == (r["attainment"] or "")
    charts = tab.wait(
        "() => [...document.querySelectorAll('section.view-review canvas')]"
        ".filter(c => window.Chart.getChart(c)).length"
    )
    assert charts >= 1
    assert view.locator(".findings li").count() == len(rv["findings"])
    tab.shot("review")


def test_switch_language(tab: Tab) -> None:
    month = periods(tab)["month"][0]
    view = tab.open("overview", scope="company", period=month)
    assert tab.page.locator("#nav a[data-view='overview']").inner_text() == "总览"
    first = view.locator(".kpi-row").first
    assert first.locator(".kpi-name").inner_text().startswith("销售额")
    before = int(tab.page.evaluate("() => Number(document.body.dataset.renders)"))
    tab.page.locator("#lang").click()
    tab.wait(f"() => Number(document.body.dataset.renders) > {before}")
    assert tab.page.locator("#nav a[data-view='overview']").inner_text() == "Overview"
    assert tab.page.evaluate("() => document.documentElement.lang") == "en"
    view = tab.page.locator("section.view-overview")
    assert view.locator(".kpi-row").first.locator(".kpi-name").inner_text().startswith("Revenue")
    statuses = {"ahead": "Ahead", "on_track": "On track", "behind": "Behind", "at_risk": "At risk"}
    for chip in view.locator(".kpi-row .chip").all()[:5]:
        assert chip.inner_text() == statuses.get(
            chip.get_attribute("data-status") or "", chip.inner_text()
        )
    tab.shot("overview-en")
    # The choice is kept across a reload; switching back shows Chinese again.
    tab.page.reload()
    tab.wait("() => Number(document.body.dataset.renders || 0) > 0")
    assert tab.page.locator("#nav a[data-view='alerts']").inner_text() == "Alerts"
    tab.page.locator("#lang").click()
    tab.wait("() => document.querySelector(\"#nav a[data-view='alerts']\").textContent === '预警'")


def test_a_new_event_moves_the_number_without_a_reload(tab: Tab) -> None:
    month = periods(tab)["month"][0]
    view = tab.open("overview", scope="rep:rep-01", period=month)
    tab.page.evaluate("() => { window.__sameDocument = true; }")
    cell = view.locator(".kpi-row[data-kpi='visits'] .v-actual")
    before = Decimal(cell.get_attribute("data-value") or "0")
    # Noon of the server's today (its clock started at 15:00 that day).
    today = date.fromisoformat(periods(tab)["today"])
    noon = datetime.combine(today, time(12), tzinfo=SHANGHAI)
    with tab.server.api() as api:
        resp = api.post(
            "/v1/events?source=browser-test",
            json={
                "event_id": "browser-live-1",
                "type": "visit",
                "occurred_at": noon.isoformat(),
                "rep_id": "rep-01",
                "customer_id": "cust-north-live",
            },
        )
        assert resp.status_code == 202, resp.text
    tab.wait(
        "() => Number(document.querySelector(\".kpi-row[data-kpi='visits'] .v-actual\")"
        f".dataset.value) === {before + 1}",
        timeout_s=90,
    )
    assert tab.page.evaluate("() => window.__sameDocument") is True  # no reload
    tab.shot("overview-live-update", full_page=False)


def test_every_page_fits_a_phone(tab_factory: Callable[..., Tab]) -> None:
    phone = tab_factory(width=390, height=844)
    for view, params in [
        ("overview", {}),
        ("rep", {"rep": "rep-03"}),
        ("leaderboard", {}),
        ("alerts", {"status": "all"}),
        ("targets", {}),
        ("review", {}),
    ]:
        phone.open(view, **params)
        width = phone.page.evaluate("() => document.scrollingElement.scrollWidth")
        assert width <= 390, (view, width)
        phone.shot(f"phone-{view}", full_page=view in {"overview", "rep", "alerts"})


def test_the_key_is_asked_once_and_never_reaches_the_server_log(
    tab_factory: Callable[..., Tab],
) -> None:
    fresh = tab_factory(with_key=False)
    dialog = fresh.page.locator("#keydialog")
    dialog.wait_for(state="visible")
    fresh.page.fill("#key-input", "pl_wrong_key_wrong_key_wrong")
    fresh.page.click("#keyform button[type=submit]")
    fresh.wait("() => document.getElementById('key-error').textContent.length > 0")
    # The refused key's 401 is the one console error this test expects.
    fresh.problems[:] = [p for p in fresh.problems if "401" not in p]
    fresh.page.fill("#key-input", fresh.server.key)
    fresh.page.click("#keyform button[type=submit]")
    fresh.wait("() => Number(document.body.dataset.renders || 0) > 0")
    assert dialog.is_hidden()
    assert fresh.page.evaluate("() => localStorage.getItem('paceline.key')") == fresh.server.key
    # A reload finds the key in the browser's storage: not asked again.
    fresh.page.reload()
    fresh.wait("() => Number(document.body.dataset.renders || 0) > 0")
    assert dialog.is_hidden()
    # A link with ?key= (not the fragment) works too and is redacted in the request log;
    # the address bar no longer shows the key.
    fresh.page.goto(f"{fresh.server.base}/dashboard/?key={fresh.server.key}#/alerts")
    fresh.wait("() => document.body.dataset.view === 'alerts'")
    assert fresh.server.key not in fresh.page.url
    # The request log (JSON lines of paceline.access): the key never, its redaction once.
    requests = [
        line
        for line in fresh.server.log.read_text(errors="replace").splitlines()
        if '"logger":"paceline.access"' in line
    ]
    assert any('"query":"key=REDACTED"' in line for line in requests)
    assert not [line for line in requests if fresh.server.key in line]
