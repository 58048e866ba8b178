"""The dashboard's page, files and view models (``/dashboard/``, ``/v1/dashboard/...``).

The view models must show the API's own numbers: every overview row equals ``GET
/v1/progress`` for its KPI, and a series ends on the progress actual with the expected
curve passing through the progress ``expected``. The stacks run on a fixed clock
(26 November 2026, Asia/Shanghai).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from paceline.shared.clock import FixedClock
from tests.support import Stack, embedded_settings, running_stack

pytestmark = pytest.mark.dates

NOW = datetime.fromisoformat("2026-11-26T10:00:00+08:00")
STATIC = Path(__file__).resolve().parents[3] / "services" / "api" / "dashboard" / "static"
ORG = {
    "teams": [
        {"id": "hq", "name": "HQ"},
        {"id": "north", "name": "North", "parent_id": "hq"},
        {"id": "south", "name": "South", "parent_id": "hq"},
    ],
    "reps": [
        {"id": "r1", "name": "Ann", "team_id": "north", "role": "account_manager"},
        {"id": "r2", "name": "Bo", "team_id": "south", "role": "account_manager"},
    ],
}


def won(eid: str, rep: str, day: str, amount: str, customer: str = "c1") -> dict[str, Any]:
    """A won deal."""
    return {
        "event_id": eid,
        "type": "deal",
        "occurred_at": f"{day}T10:00:00+08:00",
        "rep_id": rep,
        "customer_id": customer,
        "stage": "won",
        "amount": amount,
        "margin": str(Decimal(amount) * Decimal("0.3")),
        "is_new_customer": True,
    }


def lost(eid: str, rep: str, day: str) -> dict[str, Any]:
    """A lost deal."""
    return {
        "event_id": eid,
        "type": "deal",
        "occurred_at": f"{day}T11:00:00+08:00",
        "rep_id": rep,
        "stage": "lost",
        "amount": "1000",
    }


def visit(eid: str, rep: str, day: str, customer: str) -> dict[str, Any]:
    """A visit."""
    return {
        "event_id": eid,
        "type": "visit",
        "occurred_at": f"{day}T09:30:00+08:00",
        "rep_id": rep,
        "customer_id": customer,
    }


EVENTS = [
    won("d1", "r1", "2026-11-02", "10000"),
    won("d2", "r1", "2026-11-10", "5000", "c2"),
    won("d3", "r2", "2026-11-12", "7000", "c3"),
    lost("d4", "r2", "2026-11-13"),
    lost("d5", "r1", "2026-11-20"),
    visit("v1", "r1", "2026-11-03", "c1"),
    visit("v2", "r1", "2026-11-04", "c2"),
    visit("v3", "r2", "2026-11-05", "c3"),
    visit("v4", "r2", "2026-11-24", "c4"),
]
TARGETS = [
    ("revenue", "company", "2026-11", "40000", "30000", "50000"),
    ("revenue", "team:north", "2026-11", "20000", "15000", "25000"),
    ("revenue", "rep:r1", "2026-11", "20000", "15000", "25000"),
    ("visits", "company", "2026-11", "10", "8", "12"),
    ("win_rate", "company", "2026-11", "0.5", "0.4", "0.6"),
    ("revenue", "company", "2026", "400000", None, None),
]


@pytest.fixture
async def dash(tmp_path: Path) -> AsyncIterator[Stack]:
    """An embedded stack on a fixed clock with an org chart, targets and scored events."""
    async with running_stack(
        "embedded", embedded_settings(tmp_path / "data"), clock=FixedClock(NOW)
    ) as s:
        resp = await s.client.put("/v1/org", json=ORG, headers=s.auth())
        assert resp.status_code == 200, resp.text
        for kpi, scope, period, target, baseline, stretch in TARGETS:
            body = {"kpi": kpi, "scope": scope, "period": period, "target": target}
            if baseline:
                body |= {"baseline": baseline, "stretch": stretch}
            resp = await s.client.post("/v1/targets", json=body, headers=s.auth())
            assert resp.status_code == 201, resp.text
        resp = await s.post_events(EVENTS)
        assert resp.json()["accepted"] == len(EVENTS), resp.text
        await s.wait_scored()
        yield s


async def test_page_and_files_are_served_without_a_key_and_without_a_cdn(dash: Stack) -> None:
    resp = await dash.client.get("/", follow_redirects=False)
    assert resp.status_code == 307
    assert resp.headers["location"] == "/dashboard/"
    resp = await dash.client.get("/dashboard", follow_redirects=False)
    assert resp.headers["location"] == "/dashboard/"
    page = await dash.client.get("/dashboard/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert '<script src="vendor/chart.umd.min.js" defer></script>' in html
    assert '<script type="module" src="js/app.js"></script>' in html
    assert "http://" not in html  # nothing from elsewhere
    assert "https://" not in html
    for path in STATIC.rglob("*"):
        if path.is_file() and path.suffix in {".js", ".css", ".html"}:
            text = path.read_text(encoding="utf-8")
            if path.name != "chart.umd.min.js":
                assert "https://" not in text, path
                assert "http://" not in text, path

    chart = await dash.client.get("/dashboard/vendor/chart.umd.min.js")
    assert chart.status_code == 200
    assert chart.headers["content-type"] == "text/javascript; charset=utf-8"
    vendor = json.loads((STATIC / "vendor" / "VENDOR.json").read_text())["chart.js"]
    assert hashlib.sha256(chart.content).hexdigest() == vendor["file_sha256"]
    assert chart.content.startswith(f"/*!\n * Chart.js v{vendor['version']}".encode())
    assert (STATIC / "vendor" / "chart.js-LICENSE.md").read_text().startswith("The MIT License")

    again = await dash.client.get(
        "/dashboard/vendor/chart.umd.min.js", headers={"If-None-Match": chart.headers["etag"]}
    )
    assert again.status_code == 304
    module = await dash.client.get("/dashboard/js/app.js")
    assert module.status_code == 200
    assert module.headers["content-type"] == "text/javascript; charset=utf-8"
    for bad in ("/dashboard/../app.py", "/dashboard/js/../../router.py", "/dashboard/nope.js"):
        resp = await dash.client.get(bad)
        assert resp.status_code == 404, bad
        assert resp.json()["error"]["code"] == "not_found"


async def test_context_names_the_org_kpis_periods_and_features(dash: Stack) -> None:
    resp = await dash.client.get("/v1/dashboard/context", headers=dash.auth())
    assert resp.status_code == 200, resp.text
    ctx = resp.json()
    assert ctx["tenant"] == "default"
    assert ctx["timezone"] == "Asia/Shanghai"
    assert ctx["currency"] == "CNY"
    assert ctx["periods"]["today"] == "2026-11-26"
    assert ctx["periods"]["month"][:3] == ["2026-11", "2026-10", "2026-09"]
    assert ctx["periods"]["year"][:2] == ["2026", "2025"]
    assert ctx["periods"]["quarter"][0] == "2026-Q4"
    assert ctx["periods"]["week"][0] == "2026-W48"
    assert [t["id"] for t in ctx["teams"]] == ["hq", "north", "south"]
    assert {r["id"]: r["team_id"] for r in ctx["reps"]} == {"r1": "north", "r2": "south"}
    keys = [k["key"] for k in ctx["kpis"]]
    assert keys.index("revenue") < keys.index("visits") < keys.index("training_pass_rate")
    revenue = next(k for k in ctx["kpis"] if k["key"] == "revenue")
    assert revenue == {
        "key": "revenue",
        "names": {"zh-CN": "销售额", "en": "Revenue"},
        "unit": "currency",
        "direction": "higher",
        "category": "result",
        "cumulative": True,
    }
    assert next(k for k in ctx["kpis"] if k["key"] == "win_rate")["cumulative"] is False
    am = next(t for t in ctx["templates"] if t["key"] == "account_manager")
    assert am["items"] == {
        "revenue": "40",
        "new_customers": "20",
        "visits": "15",
        "win_rate": "15",
        "crm_active_days": "10",
    }
    assert ctx["features"] == {
        "alerts": True,
        "alert_acknowledge": True,
        "reviews": True,
        "decompose": True,
    }
    assert ctx["scopes"] == ["admin"]
    # A key is needed for the data.
    assert (await dash.client.get("/v1/dashboard/context")).status_code == 401


@pytest.mark.parametrize("scope", ["company", "team:north", "rep:r1"])
async def test_overview_rows_equal_the_progress_api(dash: Stack, scope: str) -> None:
    resp = await dash.client.get(
        "/v1/dashboard/overview", params={"scope": scope, "period": "2026-11"}, headers=dash.auth()
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()
    expected_kpis = [k for k, s, p, *_ in TARGETS if s == scope and p == "2026-11"]
    assert [r["kpi"] for r in data["rows"]] == expected_kpis
    assert data["period"] == {
        "key": "2026-11",
        "kind": "month",
        "start": "2026-11-01",
        "end": "2026-12-01",
    }
    for row in data["rows"]:
        single = await dash.client.get(
            "/v1/progress",
            params={"kpi": row["kpi"], "scope": scope, "period": "2026-11"},
            headers=dash.auth(),
        )
        assert single.json() == row


async def test_overview_values_by_hand(dash: Stack) -> None:
    resp = await dash.client.get(
        "/v1/dashboard/overview",
        params={"scope": "company", "period": "2026-11", "kpis": "revenue,win_rate,deals_won"},
        headers=dash.auth(),
    )
    rows = {r["kpi"]: r for r in resp.json()["rows"]}
    assert list(rows) == ["revenue", "win_rate", "deals_won"]
    assert rows["revenue"]["actual"] == "22000.0000"
    assert rows["revenue"]["target"] == "40000.0000"
    assert rows["win_rate"]["actual"] == "0.6000"  # 3 won of 5 closed
    assert rows["deals_won"]["actual"] == "3.0000"
    assert rows["deals_won"]["status"] == "no_target"
    bad = await dash.client.get(
        "/v1/dashboard/overview",
        params={"scope": "team:nowhere", "period": "2026-11"},
        headers=dash.auth(),
    )
    assert bad.status_code == 404
    bad = await dash.client.get(
        "/v1/dashboard/overview", params={"period": "2026-13"}, headers=dash.auth()
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["field"] == "period"


async def test_series_of_a_cumulative_kpi_ends_on_the_progress_numbers(dash: Stack) -> None:
    params = {"kpi": "revenue", "scope": "company", "period": "2026-11"}
    series = await dash.client.get("/v1/dashboard/series", params=params, headers=dash.auth())
    assert series.status_code == 200, series.text
    s = series.json()
    progress = (await dash.client.get("/v1/progress", params=params, headers=dash.auth())).json()
    assert s["cumulative"] is True
    assert len(s["days"]) == 30
    assert s["days"][0] == "2026-11-01"
    assert s["days"][-1] == "2026-11-30"
    assert s["through_day"] == progress["through_day"] == "2026-11-26"
    i = s["days"].index("2026-11-26")
    assert s["actual"][i] == progress["actual"] == "22000.0000"
    assert s["expected"][i] == progress["expected"]
    assert s["actual"][i + 1 :] == [None] * (len(s["days"]) - i - 1)
    # Running totals by hand: 10,000 on the 2nd, +5,000 on the 10th, +7,000 on the 12th.
    by_day = dict(zip(s["days"], s["actual"], strict=True))
    assert by_day["2026-11-01"] == "0.0000"
    assert by_day["2026-11-02"] == "10000.0000"
    assert by_day["2026-11-09"] == "10000.0000"
    assert by_day["2026-11-10"] == "15000.0000"
    assert by_day["2026-11-12"] == "22000.0000"
    # Expected grows with working days only: 21 in November 2026; none on the 1st (Sunday).
    exp = dict(zip(s["days"], s["expected"], strict=True))
    assert exp["2026-11-01"] == "0.0000"
    assert exp["2026-11-02"] == str((Decimal(40000) / 21).quantize(Decimal("0.0001")))
    assert exp["2026-11-07"] == exp["2026-11-06"]  # Saturday adds nothing
    assert exp["2026-11-30"] == "40000.0000"
    assert (s["target"], s["baseline"], s["stretch"]) == ("40000.0000", "30000.0000", "50000.0000")


async def test_series_of_a_ratio_is_its_value_so_far_against_a_flat_target(dash: Stack) -> None:
    params = {"kpi": "win_rate", "scope": "company", "period": "2026-11"}
    s = (await dash.client.get("/v1/dashboard/series", params=params, headers=dash.auth())).json()
    progress = (await dash.client.get("/v1/progress", params=params, headers=dash.auth())).json()
    assert s["cumulative"] is False
    by_day = dict(zip(s["days"], s["actual"], strict=True))
    assert by_day["2026-11-02"] == "1.0000"  # 1 won of 1 closed
    assert by_day["2026-11-13"] == "0.7500"  # 3 won, 1 lost
    assert by_day["2026-11-26"] == progress["actual"] == "0.6000"
    assert set(s["expected"]) == {"0.5000"}
    # A year: points every two weeks, the last on the last counted day.
    year = await dash.client.get(
        "/v1/dashboard/series",
        params={"kpi": "revenue", "scope": "company", "period": "2026"},
        headers=dash.auth(),
    )
    y = year.json()
    assert len(y["days"]) == 365
    assert y["actual"][y["days"].index("2026-11-26")] == "22000.0000"


async def test_changes_token_moves_with_facts_alerts_and_targets(dash: Stack) -> None:
    async def token() -> str:
        resp = await dash.client.get("/v1/dashboard/changes", headers=dash.auth())
        assert resp.status_code == 200
        value: str = resp.json()["token"]
        return value

    async def settled() -> str:
        # The alert engine evaluates the fixture's events after their commit (it may still
        # touch alerts for a moment): wait until the token holds still.
        last = await token()
        for _ in range(100):
            await asyncio.sleep(0.1)
            now = await token()
            if now == last:
                return now
            last = now
        raise AssertionError("the token kept moving without any change")

    first = await settled()
    assert first == await token()
    await dash.post_events([visit("v9", "r1", "2026-11-25", "c9")])
    await dash.wait_scored()
    second = await token()
    assert second != first
    target = (
        await dash.client.get("/v1/targets", params={"kpi": "visits"}, headers=dash.auth())
    ).json()[0]
    resp = await dash.client.put(
        f"/v1/targets/{target['id']}",
        json={"target": "11", "baseline": "8", "stretch": "12", "reason": "more staff"},
        headers=dash.auth(),
    )
    assert resp.status_code == 200, resp.text
    third = await token()
    assert third not in {first, second}
