"""The review's CSV: one line per scope and KPI, and no cell a spreadsheet would run."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal

import pytest

from paceline.api.reviews.schemas import (
    AttainmentRow,
    DriverOut,
    MissOut,
    NextTarget,
    ReviewKpi,
    ReviewOut,
)
from paceline.api.reviews.table import CSV_HEADER, csv_rows, csv_text, header, neutralise
from tests.support import Stack

D = Decimal


def _review(name: str | None) -> ReviewOut:
    row = AttainmentRow(
        scope="rep:r1",
        name=name,
        kpi="revenue",
        actual=D("60000.0000"),
        target=D("100000.0000"),
        baseline=None,
        stretch=None,
        attainment=D("0.6000"),
        raw_attainment=D("0.6000"),
        tier="below_baseline",
        met=False,
        status="scored",
        sample=12,
    )
    miss = MissOut(
        scope="rep:r1",
        kpi="revenue",
        gap=D("-40000.0000"),
        formula="revenue = quotes x win rate x average deal",
        formula_code="reviews.formula.revenue",
        drivers=[
            DriverOut(driver="quotes", planned=None, actual=None, effect=D("-25000.0000")),
            DriverOut(driver="win_rate", planned=None, actual=None, effect=D("45000.0000")),
            DriverOut(driver="average_deal", planned=None, actual=None, effect=D("-60000.0000")),
        ],
        planned_from={},
        largest="average_deal",
    )
    nxt = NextTarget(
        scope="rep:r1",
        kpi="revenue",
        period="2026-12",
        baseline=D("50000"),
        target=D("70000"),
        stretch=None,
        steps=[],
        flags=[],
        reasoning={},
    )
    return ReviewOut(
        team="north",
        period="2026-11",
        next_period="2026-12",
        as_of=datetime.fromisoformat("2026-12-01T00:00:00+08:00"),
        members=[{"rep_id": "r1", "name": name}],
        kpis=[
            ReviewKpi(
                kpi="revenue",
                names={"zh-CN": "销售额", "en": "Revenue"},
                unit="currency",
                direction="higher",
                category="result",
            )
        ],
        rows=[row],
        distribution=[],
        findings=[],
        misses=[miss],
        suggestions=[nxt],
    )


def test_one_line_per_row() -> None:
    title, line = csv_rows(_review("Ann"), "en")
    assert title == header("en")
    assert title[:4] == ["Scope", "Name", "KPI", "Actual"]
    assert dict(zip(CSV_HEADER, line, strict=True)) == {
        "scope": "rep:r1",
        "name": "Ann",
        "kpi": "Revenue",
        "actual": "60000.0000",
        "target": "100000.0000",
        "baseline": "",
        "stretch": "",
        "attainment": "0.6000",
        "raw_attainment": "0.6000",
        "tier": "below baseline",
        "met": "no",
        "status": "scored",
        "gap": "-40000.0000",  # a negative number stays a number
        "driver_quotes": "-25000.0000",
        "driver_win_rate": "45000.0000",
        "driver_average_deal": "-60000.0000",
        "next_period": "2026-12",
        "next_baseline": "50000",
        "next_target": "70000",
        "next_stretch": "",
    }


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Ann", "Ann"),
        ("O'Neil = 1", "O'Neil = 1"),
        ("", ""),
    ],
)
def test_neutralise(text: str, cell: str) -> None:
    assert neutralise(text) == cell


def test_the_table_in_chinese() -> None:
    title, line = csv_rows(_review("王芳"))  # zh-CN unless told
    row = dict(zip(CSV_HEADER, line, strict=True))
    assert title[:4] == ["范围", "姓名", "指标", "实际"]
    assert (row["name"], row["kpi"], row["tier"], row["met"], row["status"]) == (
        "王芳",
        "销售额",
        "低于保底目标",
        "否",
        "已评分",
    )


def test_a_formula_in_a_name_is_written_as_text() -> None:
    text = csv_text(_review('=HYPERLINK("http://evil.example","x")'), "en")
    _title, line = list(csv.reader(io.StringIO(text)))
    row = dict(zip(CSV_HEADER, line, strict=True))
    assert row["name"] == '\'=HYPERLINK("http://evil.example","x")'
    assert (row["gap"], row["driver_average_deal"]) == ("-40000.0000", "-60000.0000")


async def test_the_api_neutralises_a_name(embedded_stack: Stack) -> None:
    s = embedded_stack
    org = {
        "teams": [{"id": "north", "name": "North"}],
        "reps": [{"id": "r1", "name": "=1+2", "team_id": "north"}],
        "effective_from": "2026-01-01",
    }
    assert (await s.client.put("/v1/org", json=org, headers=s.auth())).status_code == 200
    resp = await s.client.get(
        "/v1/reviews",
        params={"team": "north", "period": "2026-11", "format": "csv"},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    text = resp.content.decode("utf-8-sig")  # a zh-CN tenant: Excel's BOM first
    names = {r["姓名"] for r in csv.DictReader(io.StringIO(text)) if r["范围"] == "rep:r1"}
    assert names == {"'=1+2"}
