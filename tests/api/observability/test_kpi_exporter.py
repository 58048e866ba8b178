"""``GET /v1/metrics/kpis``: the opt-in Prometheus KPI exporter (issue 18, item 3).

Every gauge equals what ``GET /v1/progress`` answers for the same KPI, scope and period at
the same (pinned) instant, company and team scope, in both run modes; reps and past
periods are not exported; the exporter is off until the tenant turns it on; a tenant's
scrape holds its own series only; odd team ids and names come back intact through
the exposition format's escaping; the cap keeps company targets first.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from paceline.shared.auth import generate_key
from paceline.shared.db import tenants as tenant_repo
from tests.conftest import Clocked
from tests.support import Stack

pytestmark = pytest.mark.dates

SETUP = datetime.fromisoformat("2026-11-02T09:00:00+08:00")
TODAY = datetime.fromisoformat("2026-11-26T10:00:00+08:00")  # a Thursday, in W48 and Q4

# A team id with a quote, a backslash and a non-ASCII letter; a name with a newline-free
# but quote-and-backslash-laden text: both must survive the exposition format.
ODD_TEAM = 'süd"ost\\1'
ODD_NAME = 'Süd "Ost" \\ 东南'
ORG = {
    "teams": [
        {"id": "north", "name": "North"},
        {"id": ODD_TEAM, "name": ODD_NAME},
    ],
    "reps": [
        {"id": "r1", "name": "Rep One", "team_id": "north", "role": "ae"},
        {"id": "r2", "name": "Rep Two", "team_id": ODD_TEAM, "role": "ae"},
    ],
    "effective_from": "2026-01-01",
}
# kpi, scope, period, target: the exported ones (the current year, quarter, month, week)
EXPORTED = [
    ("revenue", "company", "2026-11", "5000"),
    ("revenue", "team:north", "2026-11", "3000"),
    ("revenue", f"team:{ODD_TEAM}", "2026-Q4", "9000"),
    ("visits", "company", "2026", "400"),
    ("deals_won", "team:north", "2026-W48", "2"),
]
# ...and the ones that are not: a rep, a past month, a future week.
NOT_EXPORTED = [
    ("revenue", "rep:r1", "2026-11", "1000"),
    ("revenue", "company", "2026-10", "4000"),
    ("revenue", "company", "2026-W49", "800"),
]
KINDS = {"2026": "year", "2026-Q4": "quarter", "2026-11": "month", "2026-W48": "week"}
GAUGES = ("actual", "target", "expected", "pace")


def deal(deal_id: str, rep: str, day: str, amount: str) -> dict[str, Any]:
    """A deal won on a day (08:00 Beijing time)."""
    return {
        "event_id": deal_id,
        "type": "deal",
        "entity_id": deal_id,
        "occurred_at": f"{day}T08:00:00+08:00",
        "rep_id": rep,
        "stage": "won",
        "amount": amount,
    }


def visit(visit_id: str, rep: str, day: str) -> dict[str, Any]:
    """A visit on a day."""
    return {
        "event_id": visit_id,
        "type": "visit",
        "occurred_at": f"{day}T09:00:00+08:00",
        "rep_id": rep,
    }


async def _ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


async def _targets(s: Stack, rows: list[tuple[str, str, str, str]], key: str | None = None) -> None:
    for kpi, scope, period, target in rows:
        body = {"kpi": kpi, "scope": scope, "period": period, "target": target}
        await _ok(await s.client.post("/v1/targets", json=body, headers=s.auth(key)), 201)


async def _world(s: Stack, clock: Any) -> None:
    """The org, deals and visits in November (received on the 2nd and the 26th), targets."""
    clock.set(SETUP)
    await _ok(await s.client.put("/v1/org", json=ORG, headers=s.auth()))
    await _targets(s, EXPORTED + NOT_EXPORTED)
    early = [deal("d1", "r1", "2026-11-02", "1200"), visit("v1", "r1", "2026-11-02")]
    await _ok(await s.post_events(early), 202)
    clock.set(TODAY)
    late = [
        deal("d2", "r1", "2026-11-24", "700.5"),
        deal("d3", "r2", "2026-11-25", "2500"),
        deal("d4", "r2", "2026-10-30", "100"),
        visit("v2", "r2", "2026-11-25"),
        visit("v3", "r1", "2026-11-26"),
    ]
    await _ok(await s.post_events(late), 202)
    await s.wait_scored()


def parse(page: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(metric name, sorted labels) -> value, for every sample of an exposition page."""
    out = {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def series(tenant: str, scope: str, kpi: str, period: str) -> tuple[tuple[str, str], ...]:
    """The label set of a KPI gauge."""
    labels = {"tenant": tenant, "scope": scope, "kpi": kpi, "period": period}
    return tuple(sorted(labels.items()))


async def scrape(s: Stack, key: str | None = None, **headers: str) -> httpx.Response:
    """One scrape, as Prometheus sends it (Authorization: Bearer)."""
    return await s.client.get("/v1/metrics/kpis", headers={**s.auth(key), **headers})


async def _enable(s: Stack, key: str | None = None) -> None:
    body = await _ok(
        await s.client.put("/v1/settings", json={"kpi_exporter": True}, headers=s.auth(key))
    )
    assert body["kpi_exporter"] is True


async def _read_key(s: Stack, tenant: str = "default") -> str:
    key = generate_key()
    async with s.db.transaction() as session:
        await tenant_repo.add_key(
            session, tenant_id=tenant, key=key, name="prometheus", scopes=["read"], now=s.now()
        )
    return key.plaintext


async def test_gauges_equal_progress_for_company_and_team_scopes(clocked_both: Clocked) -> None:
    s, clock = clocked_both
    await _world(s, clock)
    await _enable(s)
    resp = await scrape(s, await _read_key(s))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    page = parse(resp.text)
    compared = 0
    for kpi, scope, period, _target in EXPORTED:
        progress = await _ok(
            await s.client.get(
                "/v1/progress",
                params={"kpi": kpi, "scope": scope, "period": period},
                headers=s.auth(),
            )
        )
        labels = series("default", scope, kpi, KINDS[period])
        for gauge in GAUGES:
            want = progress[gauge]
            got = page.get((f"paceline_kpi_{gauge}", labels))
            assert want is not None, (kpi, scope, period, gauge, progress)
            assert got is not None, (kpi, scope, period, gauge, sorted(page))
            assert Decimal(repr(got)) == Decimal(want), (kpi, scope, period, gauge, got, want)
            compared += 1
    assert compared == 4 * len(EXPORTED)
    # Hand-checked anchors: November revenue of the company is 1200 + 700.5 + 2500, the
    # odd team's Q4 revenue 2500 + 100 (October counts in the quarter), its target 9000.
    assert page[("paceline_kpi_actual", series("default", "company", "revenue", "month"))] == 4400.5
    odd = series("default", f"team:{ODD_TEAM}", "revenue", "quarter")
    assert page[("paceline_kpi_actual", odd)] == 2600
    assert page[("paceline_kpi_target", odd)] == 9000
    # Only the current periods' company and team targets: no rep, no past or future period.
    kpi_series = {labels for (name, labels) in page if name == "paceline_kpi_target"}
    assert kpi_series == {series("default", sc, k, KINDS[p]) for k, sc, p, _ in EXPORTED}
    assert all(dict(labels).get("scope") != "rep:r1" for (_n, labels) in page)
    # The current key of each kind, the team names (escaped and parsed back intact).
    periods = {
        dict(labels)["period"]: dict(labels)["key"]
        for (name, labels) in page
        if name == "paceline_kpi_period_info"
    }
    assert periods == {"year": "2026", "quarter": "2026-Q4", "month": "2026-11", "week": "2026-W48"}
    teams = {
        dict(labels)["scope"]: dict(labels)["team"]
        for (name, labels) in page
        if name == "paceline_kpi_team_info"
    }
    assert teams == {"team:north": "North", f"team:{ODD_TEAM}": ODD_NAME}
    assert page[("paceline_kpi_exporter_targets", (("tenant", "default"),))] == len(EXPORTED)
    assert page[("paceline_kpi_exporter_targets_dropped", (("tenant", "default"),))] == 0
    # The escaping as the exposition format writes it (a backslash and a quote escaped).
    assert 'scope="team:süd\\"ost\\\\1"' in resp.text


async def test_off_by_default_with_the_catalog_message(clocked: Clocked) -> None:
    s, clock = clocked
    clock.set(TODAY)
    await _targets(s, EXPORTED[:1])
    settings = await _ok(await s.client.get("/v1/settings", headers=s.auth()))
    assert settings["kpi_exporter"] is False
    resp = await scrape(s)
    assert resp.status_code == 404, resp.text
    err = resp.json()["error"]
    assert err["code"] == "kpi_exporter_off"
    assert err["message"].startswith("本租户未开启 KPI 指标导出")  # the tenant's zh-CN
    assert "kpi_exporter" in err["message"]
    english = await scrape(s, **{"Accept-Language": "en-US,en;q=0.8"})
    assert english.json()["error"]["message"].startswith("The KPI exporter is off")
    await _enable(s)
    assert (await scrape(s)).status_code == 200
    # Off again: 404 again.
    await _ok(await s.client.put("/v1/settings", json={"kpi_exporter": False}, headers=s.auth()))
    assert (await scrape(s)).status_code == 404
    # Not a boolean: 422 naming the field.
    bad = await s.client.put("/v1/settings", json={"kpi_exporter": "maybe"}, headers=s.auth())
    assert bad.status_code == 422, bad.text
    assert [f["field"] for f in bad.json()["error"]["fields"]] == ["kpi_exporter"]


async def test_a_tenant_scrapes_its_own_series_only(clocked: Clocked) -> None:
    s, clock = clocked
    await _world(s, clock)
    await _enable(s)
    other = generate_key()
    async with s.db.transaction() as session:
        await tenant_repo.ensure_tenant(session, tenant_id="globex", name="Globex", now=s.now())
        await tenant_repo.add_key(
            session, tenant_id="globex", key=other, name="a", scopes=["admin"], now=s.now()
        )
    await _ok(
        await s.client.put(
            "/v1/org",
            json={"teams": [{"id": "west", "name": "West"}], "reps": []},
            headers=s.auth(other.plaintext),
        )
    )
    await _targets(s, [("revenue", "team:west", "2026-11", "777")], key=other.plaintext)
    # Globex has not opted in: 404, whatever default does.
    assert (await scrape(s, other.plaintext)).status_code == 404
    await _enable(s, other.plaintext)
    theirs = parse((await scrape(s, other.plaintext)).text)
    ours = parse((await scrape(s)).text)
    assert {dict(labels).get("tenant") for (_n, labels) in theirs} == {"globex"}
    assert {dict(labels).get("tenant") for (_n, labels) in ours} == {"default"}
    assert theirs[("paceline_kpi_target", series("globex", "team:west", "revenue", "month"))] == 777
    assert not [lb for (_n, lb) in ours if dict(lb).get("scope") == "team:west"]
    assert not [lb for (_n, lb) in theirs if dict(lb).get("scope") in {"company", "team:north"}]


async def test_the_cap_keeps_company_targets_first(clocked: Clocked) -> None:
    s, clock = clocked
    await _world(s, clock)
    await _enable(s)
    s.app.state.paceline.settings.kpi_exporter_max_targets = 3
    page = parse((await scrape(s)).text)
    exported = sorted(
        (dict(labels)["scope"], dict(labels)["period"], dict(labels)["kpi"])
        for (name, labels) in page
        if name == "paceline_kpi_target"
    )
    # Company first (year before month), then teams by period kind: the odd team's
    # quarter before north's month and week.
    assert exported == [
        ("company", "month", "revenue"),
        ("company", "year", "visits"),
        (f"team:{ODD_TEAM}", "quarter", "revenue"),
    ]
    assert page[("paceline_kpi_exporter_targets", (("tenant", "default"),))] == 3
    assert page[("paceline_kpi_exporter_targets_dropped", (("tenant", "default"),))] == 2


async def test_a_retired_custom_kpi_leaves_no_series_and_no_error(clocked: Clocked) -> None:
    """GET /v1/progress answers 404 for a retired KPI: its target exports nothing, the
    other targets still do."""
    s, clock = clocked
    clock.set(TODAY)
    kpi = {
        "key": "big_deals",
        "name_zh": "大单",
        "name_en": "Big deals",
        "unit": "count",
        "category": "result",
        "formula": 'count(deal where stage == "won" and amount >= 1000)',
    }
    await _ok(await s.client.post("/v1/kpis", json=kpi, headers=s.auth()), 201)
    await _targets(s, [("big_deals", "company", "2026-11", "5"), EXPORTED[0]])
    await _enable(s)
    before = parse((await scrape(s)).text)
    assert ("paceline_kpi_target", series("default", "company", "big_deals", "month")) in before
    await _ok(await s.client.delete("/v1/kpis/big_deals", headers=s.auth()))
    resp = await scrape(s)
    assert resp.status_code == 200, resp.text
    after = parse(resp.text)
    assert not [lb for (_n, lb) in after if dict(lb).get("kpi") == "big_deals"]
    assert after[("paceline_kpi_target", series("default", "company", "revenue", "month"))] == 5000
    assert after[("paceline_kpi_exporter_targets", (("tenant", "default"),))] == 1
