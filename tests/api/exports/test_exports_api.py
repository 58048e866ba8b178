"""BI exports: progress and scorecards as JSON and CSV, stable columns, cursor pages.

Every exported row must equal what the single-item API answers (``GET /v1/progress``,
``GET /v1/scorecards``) at the same ``as_of``, and paging must visit every row once.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from paceline.api.exports.schemas import PROGRESS_COLUMNS, SCORECARD_COLUMNS
from tests.api.dashboard.test_dashboard_api import TARGETS, dash  # noqa: F401  # the fixture
from tests.support import Stack

pytestmark = pytest.mark.dates


async def _pages(s: Stack, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Follow next_cursor to the end; every page's rows."""
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        resp = await s.client.get(
            path, params=params | ({"cursor": cursor} if cursor else {}), headers=s.auth()
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        rows.extend(body["rows"])
        cursor = body["next_cursor"]
        if cursor is None:
            assert "x-next-cursor" not in resp.headers
            return rows
        assert resp.headers["x-next-cursor"] == cursor
        assert 'rel="next"' in resp.headers["link"]


async def test_progress_export_rows_equal_the_progress_api(dash: Stack) -> None:  # noqa: F811
    first = await dash.client.get(
        "/v1/exports/progress", params={"period": "2026-11"}, headers=dash.auth()
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["columns"] == list(PROGRESS_COLUMNS)
    as_of = body["as_of"]
    rows = await _pages(
        dash, "/v1/exports/progress", {"period": "2026-11", "limit": 2, "as_of": as_of}
    )
    expected = [(k, s) for k, s, p, *_ in TARGETS if p == "2026-11"]
    assert [(r["kpi"], r["scope"]) for r in rows] == expected
    for row in rows:
        assert list(row) == list(PROGRESS_COLUMNS)
        single = (
            await dash.client.get(
                "/v1/progress",
                params={
                    "kpi": row["kpi"],
                    "scope": row["scope"],
                    "period": "2026-11",
                    "as_of": as_of,
                },
                headers=dash.auth(),
            )
        ).json()
        for column in PROGRESS_COLUMNS:
            if column == "period":
                assert row[column] == single["period"]["key"]
            elif column == "as_of":
                assert row[column] is not None
            elif column == "closed_months":  # a list: space-separated in a cell
                assert row[column] == (" ".join(single[column]) or None)
            else:
                assert row[column] == single[column], column
    revenue = rows[0]
    assert (revenue["actual"], revenue["target"], revenue["sample"]) == (
        "22000.0000",
        "40000.0000",
        3,
    )
    # Filters.
    only = await _pages(
        dash, "/v1/exports/progress", {"period": "2026-11", "kpi": "revenue", "scope": "rep:r1"}
    )
    assert [(r["kpi"], r["scope"]) for r in only] == [("revenue", "rep:r1")]


async def test_progress_export_as_csv_has_the_stable_header(dash: Stack) -> None:  # noqa: F811
    resp = await dash.client.get(
        "/v1/exports/progress",
        params={"period": "2026-11", "format": "csv", "limit": 3},
        headers=dash.auth(),
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/csv; charset=utf-8"
    lines = resp.text.splitlines()
    assert lines[0] == ",".join(PROGRESS_COLUMNS)
    table = list(csv.DictReader(io.StringIO(resp.text)))
    assert len(table) == 3
    assert table[0]["kpi"] == "revenue"
    assert table[0]["actual"] == "22000.0000"
    assert table[0]["status"] in {"ahead", "on_track", "behind", "at_risk"}
    # The next page via the Link header, as a BI tool follows it; the same instant.
    link = resp.headers["link"]
    next_url = link[link.index("<") + 1 : link.index(">")]
    assert "as_of=" in next_url
    more = await dash.client.get(next_url, headers=dash.auth() | {"Accept": "text/csv"})
    rest = list(csv.DictReader(io.StringIO(more.text)))
    assert [(r["kpi"], r["scope"]) for r in rest] == [
        ("visits", "company"),
        ("win_rate", "company"),
    ]
    # Accept: text/csv alone works too.
    accepted = await dash.client.get(
        "/v1/exports/progress",
        params={"period": "2026-11"},
        headers=dash.auth() | {"Accept": "text/csv"},
    )
    assert accepted.text.splitlines()[0] == ",".join(PROGRESS_COLUMNS)


async def test_scorecard_export_rows_equal_the_scorecards_api(dash: Stack) -> None:  # noqa: F811
    rows = await _pages(dash, "/v1/exports/scorecards", {"period": "2026-11", "limit": 1})
    assert [r["rep_id"] for r in rows] == ["r1"] * 5 + ["r2"] * 5
    for row in rows:
        assert list(row) == list(SCORECARD_COLUMNS)
    for rep in ("r1", "r2"):
        card = (
            await dash.client.get(
                "/v1/scorecards",
                params={"scope": f"rep:{rep}", "period": "2026-11", "as_of": rows[0]["as_of"]},
                headers=dash.auth(),
            )
        ).json()
        mine = [r for r in rows if r["rep_id"] == rep]
        assert [r["kpi"] for r in mine] == [i["kpi"] for i in card["items"]]
        for row, item in zip(mine, card["items"], strict=True):
            for column in ("weight", "actual", "target", "attainment", "tier", "status", "sample"):
                assert row[column] == item[column], (rep, column)
            assert row["score"] == card["score"]
            assert row["score_tier"] == card["tier"]
            assert row["template"] == card["template"] == "account_manager"
    r1 = {r["kpi"]: r for r in rows if r["rep_id"] == "r1"}
    assert r1["revenue"]["actual"] == "15000.0000"
    assert r1["revenue"]["attainment"] == "0.7500"
    assert r1["revenue"]["rep_name"] == "Ann"
    assert r1["revenue"]["team"] == "north"
    # One team's reps only, as CSV.
    resp = await dash.client.get(
        "/v1/exports/scorecards",
        params={"period": "2026-11", "team": "south", "format": "csv"},
        headers=dash.auth(),
    )
    table = list(csv.DictReader(io.StringIO(resp.text)))
    assert resp.text.splitlines()[0] == ",".join(SCORECARD_COLUMNS)
    assert {r["rep_id"] for r in table} == {"r2"}
    assert len(table) == 5


async def test_exports_refuse_bad_input_by_field(dash: Stack) -> None:  # noqa: F811
    for path, params, field in [
        ("/v1/exports/progress", {"period": "2026-13"}, "period"),
        ("/v1/exports/progress", {"period": "2026-11", "cursor": "nonsense!"}, "cursor"),
        # A well-formed cursor that is not ours (a string where a target id goes).
        ("/v1/exports/progress", {"period": "2026-11", "cursor": "WyJ4Il0"}, "cursor"),
        ("/v1/exports/scorecards", {"period": "2026-11", "limit": "0"}, "limit"),
        ("/v1/exports/progress", {"period": "2026-11", "format": "xml"}, "format"),
    ]:
        resp = await dash.client.get(path, params=params, headers=dash.auth())
        assert resp.status_code == 422, (path, params)
        assert field in resp.json()["error"]["fields"][0]["field"], resp.text
    assert (await dash.client.get("/v1/exports/progress?period=2026")).status_code == 401


async def test_csv_cells_that_look_like_formulas_are_neutralised(dash: Stack) -> None:  # noqa: F811
    # A rep's name is free text from the CRM or the org chart: it must not become a live
    # formula in a manager's spreadsheet. Numbers (also negative ones) stay numbers.
    evil = '=HYPERLINK("http://evil.example","x")'
    resp = await dash.client.put(
        "/v1/reps/r2",
        json={"id": "r2", "name": evil, "team_id": "south", "role": "account_manager"},
        headers=dash.auth(),
    )
    assert resp.status_code == 200, resp.text
    csv_resp = await dash.client.get(
        "/v1/exports/scorecards",
        params={"period": "2026-11", "team": "south", "format": "csv"},
        headers=dash.auth(),
    )
    table = list(csv.DictReader(io.StringIO(csv_resp.text)))
    assert {r["rep_name"] for r in table} == {"'" + evil}
    json_resp = await dash.client.get(
        "/v1/exports/scorecards",
        params={"period": "2026-11", "team": "south"},
        headers=dash.auth(),
    )
    assert {r["rep_name"] for r in json_resp.json()["rows"]} == {evil}  # JSON is data, as is
