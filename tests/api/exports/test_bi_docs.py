"""The URL shapes docs/BI.md documents (its ``http`` list and its Power Query queries)
answer, as CSV with the documented header line."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from paceline.api.exports.schemas import PROGRESS_COLUMNS, SCORECARD_COLUMNS
from tests.api.dashboard.test_dashboard_api import dash  # noqa: F401  # the fixture
from tests.support import Stack

DOC = (Path(__file__).resolve().parents[3] / "docs" / "BI.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    """The fenced code blocks of one language."""
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.S)


def documented_urls() -> list[str]:
    """The ``GET /v1/...`` lines of the http block."""
    return [
        line.removeprefix("GET ").strip()
        for block in blocks("http")
        for line in block.splitlines()
        if line.startswith("GET /v1/")
    ]


def power_query_urls() -> list[str]:
    """Each Power Query's RelativePath with the fields of its Query record."""
    out = []
    for block in blocks("powerquery"):
        path = re.search(r'RelativePath = "([^"]+)"', block)
        query = re.search(r"Query = \[(.*?)\]", block, flags=re.S)
        assert path is not None
        assert query is not None
        fields = dict(re.findall(r'(\w+) = "([^"]*)"', query.group(1)))
        out.append(f"/{path.group(1)}?{urlencode(fields)}")
    return out


def expected_header(url: str) -> str:
    """The header line docs/BI.md promises for a URL."""
    parts = urlsplit(url)
    if parts.path == "/v1/exports/progress":
        return ",".join(PROGRESS_COLUMNS)
    if parts.path == "/v1/exports/scorecards":
        return ",".join(SCORECARD_COLUMNS)
    group_by = dict(parse_qsl(parts.query, keep_blank_values=True)).get("group_by", "rep,day")
    groups = group_by.split(",")
    named = [c for c, g in (("team", "team"), ("rep_id", "rep"), ("day", "day")) if g in groups]
    return ",".join(["kpi", *named, "value", "numerator", "denominator", "sample"])


def test_the_doc_lists_every_table_and_recipe() -> None:
    urls = documented_urls()
    assert len(urls) == 9
    assert {urlsplit(u).path for u in urls} == {
        "/v1/facts",
        "/v1/exports/progress",
        "/v1/exports/scorecards",
    }
    assert [urlsplit(u).path for u in power_query_urls()] == [
        "/v1/facts",
        "/v1/exports/progress",
        "/v1/exports/scorecards",
    ]
    assert ",".join(PROGRESS_COLUMNS) in DOC
    assert ",".join(SCORECARD_COLUMNS) in DOC


async def test_documented_urls_answer_with_the_documented_header(dash: Stack) -> None:  # noqa: F811
    for url in documented_urls() + power_query_urls():
        resp = await dash.client.get(url, headers=dash.auth())
        assert resp.status_code == 200, (url, resp.text)
        assert resp.headers["content-type"] == "text/csv; charset=utf-8", url
        lines = resp.text.splitlines()
        assert lines[0] == expected_header(url), url
        assert len(lines) > 1, url  # the stack has data for every documented table


async def test_the_power_query_paging_reads_the_cursor_header(dash: Stack) -> None:  # noqa: F811
    url = power_query_urls()[0]
    resp = await dash.client.get(url.replace("limit=5000", "limit=1"), headers=dash.auth())
    # The M code looks the header up case-insensitively (HTTP sends it in lower case).
    assert "x-next-cursor" in {k.lower() for k in resp.headers}
    cursor = resp.headers["x-next-cursor"]
    rows = 1
    while cursor:
        more = await dash.client.get(
            url.replace("limit=5000", "limit=1") + f"&cursor={cursor}", headers=dash.auth()
        )
        assert more.text.splitlines()[0] == expected_header(url)
        rows += len(more.text.splitlines()) - 1
        cursor = more.headers.get("x-next-cursor")
    whole = await dash.client.get(url, headers=dash.auth())
    assert rows == len(whole.text.splitlines()) - 1
