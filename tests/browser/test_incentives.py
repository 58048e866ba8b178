"""Incentives (激励) on the dashboard, in headless Chromium against ``paceline serve --demo``.

A module of its own, so it gets its own demo server: it closes November, which the other
browser tests must not see. The demo assigns its incentive plans by role (account
managers: tiered commission on revenue, a bonus gated on 回款率, a spiff per new customer
in the reference month and a team pool; channel managers; presales), so the views show
real figures: 我的激励 of a demo account manager equals ``GET /v1/earnings`` (earned,
projection, components, the next-tier messages in the page's language) and its what-if
equals ``POST /v1/earnings/what-if``; the team payout view equals the team's earnings and
pools. After the close, the admin generates November's statements from the page, approves
a draft and marks it paid, and downloads the payroll CSV.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from tests.browser.conftest import Tab
from tests.browser.test_dashboard import periods, shown

REP = "rep-02"  # 李娜, an account manager in the north, with a tier ahead of her
TEAM = "north"


# A row's status in the statements table has become the given one.
STATUS_OF_REP_01 = (
    "() => document.querySelector(\".statements-table tr[data-rep='rep-01']\")"
    "?.dataset.status === '%s'"
)


def earnings(api: httpx.Client, scope: str, period: str, as_of: str) -> dict[str, Any]:
    resp = api.get("/v1/earnings", params={"scope": scope, "period": period, "as_of": as_of})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def check_money(node: Any, api_value: str) -> None:
    """The node's raw value is the API's, shown to the fen."""
    assert node.get_attribute("data-value") == api_value
    assert shown(node.inner_text()) == Decimal(api_value).quantize(Decimal("0.01")), (
        node.inner_text(),
        api_value,
    )
    assert node.inner_text().startswith("¥"), node.inner_text()


def switch_language(tab: Tab, to: str) -> None:
    renders = int(tab.page.evaluate("() => Number(document.body.dataset.renders)"))
    tab.page.locator("#lang").click()
    tab.wait(
        f"() => document.documentElement.lang === '{to}' && "
        f"Number(document.body.dataset.renders) > {renders}"
    )


def test_my_incentives_shows_the_apis_earnings(tab: Tab) -> None:
    month = periods(tab)["focus_month"]
    assert month == "2026-11"
    view = tab.open("incentives", rep=REP, period=month)
    as_of = view.get_attribute("data-as-of") or ""
    with tab.server.api() as api:
        body = earnings(api, f"rep:{REP}", month, as_of)
    (rep,) = body["reps"]
    assert Decimal(rep["earned"]) > 0
    assert rep["plans"][0]["plan"] == "am"
    assert view.locator("h1").inner_text().startswith("我的激励")
    check_money(view.locator(".inc-summary .v-earned"), rep["earned"])
    check_money(view.locator(".inc-summary .v-projected"), rep["projected"])
    assert view.get_attribute("data-earned") == rep["earned"]
    rows = view.locator(".components-table tbody tr")
    assert rows.count() == len(rep["components"]) == 4
    for i, c in enumerate(rep["components"]):
        row = rows.nth(i)
        assert row.get_attribute("data-component") == c["component"]
        check_money(row.locator(".v-component-earned"), c["earned"])
        check_money(row.locator(".v-component-projected"), c["projected"])
    assert rows.nth(0).inner_text().startswith("提成")
    total = sum(
        (Decimal(x.get_attribute("data-value")) for x in view.locator(".v-line-amount").all()),
        Decimal(0),
    )
    assert total == Decimal(rep["earned"])
    tiers = view.locator(".next-tier .tier-message")
    assert rep["next_tiers"], "rep-02 has a tier ahead"
    assert tiers.all_inner_texts() == [x["message"]["zh-CN"] for x in rep["next_tiers"]]

    # What if she wins a ¥50,000 deal on the last day of the month.
    form = view.locator(".whatif-form")
    form.locator("input[name='amount']").fill("50000")
    assert form.locator("input[name='day']").input_value() == "2026-11-30"
    form.locator("button[type='submit']").click()
    gain = view.locator(".whatif-result .v-gain")
    gain.wait_for()
    with tab.server.api() as api:
        resp = api.post(
            "/v1/earnings/what-if",
            json={
                "rep": REP,
                "period": month,
                "deals": [{"amount": "50000", "day": "2026-11-30", "is_new_customer": False}],
            },
        )
        assert resp.status_code == 200, resp.text
        what = resp.json()
    assert Decimal(what["gain"]) > 0
    check_money(gain, what["gain"])
    check_money(view.locator(".whatif-result .v-earned-with"), what["earned_with"])
    assert view.locator(".whatif-message").inner_text() == what["message"]["zh-CN"]
    tab.shot("incentives-rep")

    # In English: the labels and the API's messages change language.
    view.locator(".whatif-result button.link").click()  # clear: the view may redraw again
    switch_language(tab, "en")
    view = tab.page.locator("section.view-incentives")
    assert view.locator("h1").inner_text().startswith("My incentives")
    assert tab.page.locator("#nav a[data-view='incentives']").inner_text() == "My incentives"
    assert tab.page.locator("#nav a[data-view='payouts']").inner_text() == "Team payouts"
    assert view.locator(".inc-figures dt").first.inner_text() == "Earned to date"
    assert view.locator(".next-tier .tier-message").all_inner_texts() == [
        x["message"]["en"] for x in rep["next_tiers"]
    ]
    assert view.locator(".components-table tbody tr").nth(0).inner_text().startswith("Commission")
    check_money(view.locator(".inc-summary .v-earned"), rep["earned"])
    assert view.locator(".whatif h2").inner_text() == "What if I win one more deal"
    switch_language(tab, "zh-CN")


def test_team_payouts_and_statements(tab_factory: Callable[..., Tab], tmp_path: Path) -> None:
    tab = tab_factory()
    month = periods(tab)["focus_month"]
    view = tab.open("payouts", team=TEAM, period=month)
    as_of = view.get_attribute("data-as-of") or ""
    with tab.server.api() as api:
        body = earnings(api, f"team:{TEAM}", month, as_of)
    assert view.locator("h1").inner_text().startswith("团队激励")
    check_money(view.locator(".v-team-earned"), body["earned"])
    check_money(view.locator(".v-team-projected"), body["projected"])
    rows = view.locator(".payout-table tbody tr")
    assert rows.count() == len(body["reps"]) == 7
    for i, r in enumerate(body["reps"]):
        row = rows.nth(i)
        assert row.get_attribute("data-rep") == r["rep"]
        check_money(row.locator(".v-earned"), r["earned"])
        check_money(row.locator(".v-projected"), r["projected"])
    (pool,) = body["pools"]
    assert pool["team"] == TEAM
    prow = view.locator(".pools-table tbody tr")
    assert prow.count() == 1
    assert prow.get_attribute("data-team") == TEAM
    check_money(prow.locator(".v-allocated"), pool["allocated"])
    assert prow.locator(".v-pool").get_attribute("data-value") == pool["pool"]
    assert Decimal(pool["allocated"]) > 0
    # November is not closed yet: no statements.
    assert view.locator(".statements .empty").inner_text() == "本月月结后可生成结算单。"

    # Close November; the admin generates the statements from the page.
    with tab.server.api() as api:
        resp = api.post("/v1/closes", json={"period": month, "reason": "激励结算"})
        assert resp.status_code == 201, resp.text
    view = tab.open("payouts", team=TEAM, period=month)
    assert view.get_attribute("data-closed") == "true"
    assert view.locator(".closing-closed").inner_text() == "已月结"
    view.locator(".statements button.generate").click()
    tab.wait("() => document.querySelectorAll('.statements-table tbody tr').length > 0")
    view = tab.page.locator("section.view-payouts")
    with tab.server.api() as api:
        listing = api.get("/v1/statements", params={"period": month}).json()
    ours = {
        s["rep"]: s for s in listing["statements"] if s["rep"] in {r["rep"] for r in body["reps"]}
    }
    assert len(ours) == 7
    statements = view.locator(".statements-table tbody tr")
    assert statements.count() == 7
    first = ours["rep-01"]
    row = view.locator(".statements-table tr[data-rep='rep-01']")
    assert row.get_attribute("data-status") == "draft"
    assert row.locator(".chip").inner_text() == "草稿"
    check_money(row.locator(".v-statement-total"), first["total"])
    page_link = row.locator("a.statement-print").get_attribute("href") or ""
    assert page_link == f"/v1/statements/{first['id']}?format=html&lang=zh-CN", page_link
    assert view.locator("a.payroll-csv").get_attribute("href") == f"/v1/payroll?period={month}"

    # Approve the draft, then mark it paid.
    row.locator("button.approve").click()
    # Wait for the row itself: a refresh (a posted event) may render before the answer.
    tab.wait(STATUS_OF_REP_01 % "approved")
    row = tab.page.locator(".statements-table tr[data-rep='rep-01']")
    assert row.get_attribute("data-status") == "approved"
    assert row.locator(".chip").inner_text() == "已审批"
    with tab.server.api() as api:
        approved = api.get(f"/v1/statements/{first['id']}").json()
    assert approved["status"] == "approved"
    assert approved["approved_by"].startswith("key:")
    assert approved["approved_by"] in row.inner_text()
    row.locator("button.pay").click()
    tab.wait(STATUS_OF_REP_01 % "paid")
    row = tab.page.locator(".statements-table tr[data-rep='rep-01']")
    assert row.get_attribute("data-status") == "paid"
    assert row.locator("button").count() == 0
    with tab.server.api() as api:
        assert api.get(f"/v1/statements/{first['id']}").json()["status"] == "paid"

    # The payroll CSV comes with the key in its header: the paid statement's row.
    with tab.page.expect_download() as download:
        tab.page.locator("a.payroll-csv").click()
    saved = tmp_path / "payroll.csv"
    download.value.save_as(saved)
    lines = saved.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("period,rep_id,rep_name,currency,amount,status")
    assert any(
        line.startswith(f"{month},rep-01,王伟,CNY,{first['total']},paid") for line in lines
    ), lines
    tab.shot("incentives-payouts")

    # In English.
    switch_language(tab, "en")
    view = tab.page.locator("section.view-payouts")
    assert view.locator("h1").inner_text().startswith("Team payouts")
    assert view.locator(".statements h2").inner_text() == "Statements"
    assert view.locator(".statements-table tr[data-rep='rep-01'] .chip").inner_text() == "Paid"
    assert view.locator(".statements-table tr[data-rep='rep-02'] button.approve").inner_text() == (
        "Approve"
    )
    assert (
        view.locator(".statements-table tr[data-rep='rep-02'] a.statement-print").get_attribute(
            "href"
        )
        or ""
    ).endswith("lang=en")
    switch_language(tab, "zh-CN")
