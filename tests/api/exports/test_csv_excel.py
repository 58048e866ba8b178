"""CSV exports open in Excel with Chinese text intact (issue 16, item 5; docs/API.md,
"CSV and Excel"): a UTF-8 BOM with ``excel=true``, by default on the files people open in
a zh-CN tenant, never by default on the BI feeds; Chinese names round-trip through
``csv`` read as utf-8-sig."""

from __future__ import annotations

import csv
import io

from tests.support import Stack

BOM = b"\xef\xbb\xbf"
ORG = {
    "teams": [{"id": "north", "name": "华北区"}],
    "reps": [
        {"id": "r1", "name": "李娜", "team_id": "north"},
        {"id": "r2", "name": "王斌", "team_id": "north"},
    ],
    "effective_from": "2026-01-01",
}


async def _review(s: Stack, **params: str) -> bytes:
    resp = await s.client.get(
        "/v1/reviews",
        params={"team": "north", "period": "2026-11", "format": "csv", **params},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "text/csv; charset=utf-8"
    return resp.content


async def _facts(s: Stack, **params: str) -> bytes:
    resp = await s.client.get(
        "/v1/facts",
        params={"kpi": "visits", "from": "2026-11-01", "to": "2026-11-30", "format": "csv"}
        | params,
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    return resp.content


async def test_the_bom_follows_the_rule_and_chinese_names_round_trip(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    assert (await s.client.put("/v1/org", json=ORG, headers=s.auth())).status_code == 200
    # a zh-CN tenant (the default): the review (for people) has a BOM unless refused
    review = await _review(s)
    assert review.startswith(BOM)
    rows = list(csv.DictReader(io.StringIO(review.decode("utf-8-sig"))))
    # The review is for people: its columns are titled in the tenant's language.
    assert {r["姓名"] for r in rows if r["范围"].startswith("rep:")} == {"李娜", "王斌"}
    assert next(iter(rows[0])) == "范围"  # the BOM is not glued to the first column's name
    assert not (await _review(s, excel="false")).startswith(BOM)
    # the BI feed: none by default, one when asked for
    assert (await _facts(s)).startswith(b"kpi,")
    with_bom = await _facts(s, excel="true")
    assert with_bom.startswith(BOM + b"kpi,")
    # an English tenant: none by default, one when asked for
    resp = await s.client.put("/v1/settings", json={"locale": "en"}, headers=s.auth())
    assert resp.status_code == 200, resp.text
    assert not (await _review(s)).startswith(BOM)
    asked = await _review(s, excel="true")
    assert asked.startswith(BOM)
    rows = list(csv.DictReader(io.StringIO(asked.decode("utf-8-sig"))))
    assert "李娜" in {r["Name"] for r in rows}


async def test_an_imports_rejected_rows_for_a_chinese_file(embedded_stack: Stack) -> None:
    s = embedded_stack
    key = await s.client.post(
        "/v1/keys", json={"name": "crm", "scopes": ["ingest"]}, headers=s.auth()
    )
    assert key.status_code == 201, key.text
    headers = s.auth(key.json()["key"])
    file = "event_id,type,occurred_at,rep_id\nv-1,visit,不是时间,李娜\n"
    imported = await s.client.post(
        "/v1/imports?name=gbk-visits&type=visit",
        content=file.encode("gbk"),
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert imported.status_code == 201, imported.text
    run = imported.json()
    assert run["rows_rejected"] == 1
    assert any("GB18030" in w for w in run["warnings"])  # detected, not declared
    resp = await s.client.get(
        f"/v1/imports/{run['id']}/rows", params={"format": "csv"}, headers=s.auth()
    )
    assert resp.content.startswith(BOM)
    [row] = list(csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert (row["line"], row["field"]) == ("2", "occurred_at")
    assert "不是时间" in row["reason"]
