"""History imports: ``POST /v1/imports`` (ingest), ``GET /v1/imports`` (api), the CLI."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from paceline.cli.main import main as cli
from tests.support import Stack, stored_facts

CANONICAL_CSV = """event_id,type,occurred_at,rep_id,entity_id,version,stage,amount,customer_id
d1-v1,deal,2025-03-14T10:00:00+08:00,r1,d1,1,won,1200.50,c1
d2-v1,deal,2025-03-20T10:00:00+08:00,r2,d2,1,won,800,c2
v1,visit,2025-03-21T09:00:00+08:00,r1,,,,,c1
"""

CRM_CSV = """Deal ID,Owner,Stage,Amount,Won on,City
D1,r1,Closed Won,"¥1,200.50",14/03/2025,上海
D2,r2,Closed Won,"USD 100",15/03/2025,
D3,r1,Closed Lost,300,2025-03-16,
D4,r1,Closed Won,abc,16/03/2025,
D1,r1,Closed Won,"¥1,200.50",14/03/2025,上海
D5,,Closed Won,10,16/03/2025,
D6,r2,Won?,10,16/03/2025,
"""
CRM_MAPPING: dict[str, Any] = {
    "type": "deal",
    "columns": {
        "Deal ID": "entity_id",
        "Owner": "rep_id",
        "Stage": "stage",
        "Amount": "amount",
        "Won on": "occurred_at",
    },
    "values": {"stage": {"Closed Won": "won", "Closed Lost": "lost"}},
    "constants": {"version": 1},
    "date_formats": {"occurred_at": "%d/%m/%Y"},
}


def texts(problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Field and reason of each problem (each also has reason_code and reason_params)."""
    assert all("reason_code" in p and "reason_params" in p for p in problems), problems
    return [{"field": p["field"], "reason": p["reason"]} for p in problems]


async def _progress(s: Stack, kpi: str, scope: str, period: str = "2025-03") -> str:
    resp = await s.client.get(
        "/v1/progress",
        params={
            "kpi": kpi,
            "scope": scope,
            "period": period,
            "as_of": "2025-04-01T00:00:00+08:00",
            "knowledge": "latest",
        },  # imported history: received after as_of
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    value: str = resp.json()["actual"]
    return value


async def test_canonical_csv_needs_no_mapping(embedded_stack: Stack) -> None:
    s = embedded_stack
    resp = await s.client.post(
        "/v1/imports?name=history-2025",
        content=CANONICAL_CSV.encode(),
        headers={**s.auth(), "Content-Type": "text/csv", "X-Request-ID": "import-req-2025"},
    )
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert (out["rows_total"], out["rows_accepted"], out["rows_rejected"]) == (3, 3, 0)
    # Audited through the Auditor: the entry carries the request's id and the key.
    audit = await s.client.get("/v1/audit", params={"action": "imports.run"}, headers=s.auth())
    [entry] = audit.json()["items"]
    assert entry["target"] == f"import:{out['id']}"
    assert entry["request_id"] == "import-req-2025"
    assert entry["actor"].startswith("key:")
    assert entry["after"]["rows_accepted"] == 3
    assert out["source"] == "import:history-2025"
    assert out["status"] == "completed"
    assert out["warnings"] == []
    await s.wait_scored()
    assert await _progress(s, "revenue", "rep:r1") == "1200.5000"
    assert await _progress(s, "revenue", "company") == "2000.5000"
    assert await _progress(s, "visits", "rep:r1") == "1.0000"
    got = await s.client.get(f"/v1/imports/{out['id']}", headers=s.auth())
    assert got.status_code == 200
    assert got.json()["applied"] is True
    assert got.json()["rows_accepted"] == 3


async def test_mapping_report_and_reimport(stack: Stack) -> None:
    """Both run modes: the report, the stored rows, and a re-import that changes nothing."""
    s = stack
    body = {"name": "crm", "mapping": CRM_MAPPING, "content": CRM_CSV, "file_name": "deals.csv"}
    resp = await s.client.post("/v1/imports", json=body, headers=s.auth())
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert out["rows_total"] == 7
    assert (out["rows_accepted"], out["rows_duplicate"], out["rows_rejected"]) == (2, 1, 4)
    assert out["file_name"] == "deals.csv"
    assert out["warnings"] == ["column 'City' is not a canonical field: kept in attributes.City"]
    issues = {i["line"]: i for i in out["issues"]}
    assert sorted(issues) == [4, 5, 6, 7, 8]
    # "2025-03-16" is not day/month/year: the format is per field, strictly.
    assert texts(issues[4]["errors"]) == [
        {
            "field": "occurred_at",
            "reason": "occurred_at (column 'Won on'): '2025-03-16' does not match the format "
            "'%d/%m/%Y'",
        }
    ]
    assert issues[5]["status"] == "rejected"
    assert texts(issues[5]["errors"]) == [
        {"field": "amount", "reason": "amount (column 'Amount'): 'abc' is not a number"}
    ]
    assert issues[6] == {
        "line": 6,
        "status": "duplicate",
        "event_id": "deal:D1@i00000000000000000001",
        "errors": [
            {
                "field": "event_id",
                "reason": "repeats line 2",
                "reason_code": "imports.row.repeats",
                "reason_params": {"line": 2},
            }
        ],
        "row": {
            "Deal ID": "D1",
            "Owner": "r1",
            "Stage": "Closed Won",
            "Amount": "¥1,200.50",
            "Won on": "14/03/2025",
            "City": "上海",
        },
    }
    assert texts(issues[7]["errors"]) == [{"field": "rep_id", "reason": "is required"}]
    assert issues[8]["errors"][0]["field"] == "stage"
    assert "Won?" in issues[8]["row"]["Stage"]
    await s.wait_scored()
    # D1 in CNY (the ¥ mark), D2 in USD: without a USD rate it is not counted.
    assert await _progress(s, "revenue", "rep:r1") == "1200.5000"
    assert await _progress(s, "deals_won", "rep:r2") == "1.0000"
    facts_before = await stored_facts(s.db)
    # The same file again appends nothing: every row was imported before.
    again = await s.client.post("/v1/imports", json=body, headers=s.auth())
    assert again.status_code == 201
    a = again.json()
    assert (a["rows_accepted"], a["rows_unchanged"], a["rows_duplicate"]) == (0, 2, 1)
    await s.wait_scored()
    assert await stored_facts(s.db) == facts_before
    # The report is stored: JSON pages and CSV, one line per problem.
    rows = await s.client.get(
        f"/v1/imports/{out['id']}/rows", params={"status": "rejected"}, headers=s.auth()
    )
    assert [r["line"] for r in rows.json()["rows"]] == [4, 5, 7, 8]
    page = await s.client.get(
        f"/v1/imports/{out['id']}/rows", params={"limit": 2}, headers=s.auth()
    )
    assert [r["line"] for r in page.json()["rows"]] == [4, 5]
    assert page.json()["next_after_line"] == 5
    text = await s.client.get(
        f"/v1/imports/{out['id']}/rows", headers={**s.auth(), "Accept": "text/csv"}
    )
    lines = text.content.decode("utf-8-sig").splitlines()  # a BOM for Excel (zh-CN)
    assert lines[0] == "line,status,event_id,field,reason"
    assert lines[2] == "5,rejected,,amount,amount (column 'Amount'): 'abc' is not a number"
    assert lines[3] == "6,duplicate,deal:D1@i00000000000000000001,event_id,repeats line 2"
    listed = await s.client.get("/v1/imports", params={"name": "crm"}, headers=s.auth())
    assert [r["id"] for r in listed.json()] == [a["id"], out["id"]]
    assert all(r["applied"] for r in listed.json())


async def test_fields_without_offset_use_the_tenant_zone_and_amount_marks(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    content = (
        "Rep;When;Sum;Währung\n"
        "r1;2025-03-31 23:30;1.234,50;EUR\n"  # 23:30 in Shanghai: still March 31
        "r1;2025/04/01 00:10;€ 10,00;USD\n"  # € mark against a USD column: refused
    )
    mapping = {
        "type": "deal",
        "columns": {"Rep": "rep_id", "When": "occurred_at", "Sum": "amount", "Währung": "currency"},
        "constants": {"stage": "won"},
        "decimal_separator": ",",
        "delimiter": ";",
    }
    resp = await s.client.post(
        "/v1/imports",
        json={"name": "eu", "mapping": mapping, "content": content},
        headers=s.auth(),
    )
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert out["rows_accepted"] == 1
    assert out["issues"][0]["line"] == 3
    assert texts(out["issues"][0]["errors"]) == [
        {"field": "currency", "reason": "the currency column says USD but amount is in EUR"}
    ]
    await s.wait_scored()
    records = await s.client.get(
        "/v1/facts/records",
        params={"kpi": "deals_won", "from": "2025-03-31", "to": "2025-03-31", "scope": "rep:r1"},
        headers=s.auth(),
    )
    assert records.status_code == 200, records.text
    [record] = records.json()["records"]
    text = orjson.dumps(record).decode()
    assert '"amount":"1234.50"' in text
    assert '"currency":"EUR"' in text
    assert '"occurred_at":"2025-03-31T23:30:00+08:00"' in text


async def test_ndjson_import(embedded_stack: Stack) -> None:
    s = embedded_stack
    lines = [
        {"type": "visit", "occurred_at": "2025-03-03T10:00:00+08:00", "rep_id": "r1"},
        {"type": "visit", "occurred_at": "2025-03-04T10:00:00+08:00", "rep_id": "r1"},
        {"type": "visit", "occurred_at": "2025-03-04T10:00:00+08:00", "rep_id": "r1"},
        {"type": "visit", "occurred_at": "2025-03-04", "rep_id": "r2", "region": "east"},
    ]
    body = b"\n".join(orjson.dumps(x) for x in lines) + b"\nnot json\n"
    resp = await s.client.post(
        "/v1/imports?name=visits",
        content=body,
        headers={**s.auth(), "Content-Type": "application/x-ndjson"},
    )
    assert resp.status_code == 201, resp.text
    out = resp.json()
    # Line 3 repeats line 2 exactly (a digest of the row is its id); line 5 is not JSON.
    assert (out["rows_accepted"], out["rows_duplicate"], out["rows_rejected"]) == (3, 1, 1)
    assert out["issues"][0]["line"] == 3
    assert out["issues"][1]["line"] == 5
    assert out["issues"][1]["errors"][0]["field"] == "(row)"
    assert out["warnings"] == [
        "column 'region' is not a canonical field: kept in attributes.region"
    ]
    await s.wait_scored()
    assert await _progress(s, "visits", "company") == "3.0000"


async def test_bad_requests_name_the_problem(embedded_stack: Stack) -> None:
    s = embedded_stack
    bad_mapping = await s.client.post(
        "/v1/imports",
        json={
            "name": "x",
            "mapping": {"columns": {"Amt": "amountt"}, "timezone": "Mars/Olympus"},
            "content": "Amt\n1\n",
        },
        headers=s.auth(),
    )
    assert bad_mapping.status_code == 422
    fields = {f["field"] for f in bad_mapping.json()["error"]["fields"]}
    assert fields == {"mapping.columns.Amt", "mapping.timezone"}
    no_name = await s.client.post(
        "/v1/imports", content=b"a\n1\n", headers={**s.auth(), "Content-Type": "text/csv"}
    )
    assert no_name.status_code == 422
    assert texts(no_name.json()["error"]["fields"]) == [{"field": "name", "reason": "is required"}]
    bad_type = await s.client.post(
        "/v1/imports?name=x", content=b"a", headers={**s.auth(), "Content-Type": "image/png"}
    )
    assert bad_type.status_code == 415
    dup = await s.client.post(
        "/v1/imports?name=x",
        content=b"rep_id,rep_id\n1,2\n",
        headers={**s.auth(), "Content-Type": "text/csv"},
    )
    assert dup.status_code == 422
    assert dup.json()["error"]["fields"][0]["reason"] == "column 'rep_id' appears more than once"
    bad_name = await s.client.post(
        "/v1/imports?name=Bad Name",
        content=b"a\n",
        headers={**s.auth(), "Content-Type": "text/csv"},
    )
    assert bad_name.status_code == 422
    missing = await s.client.get("/v1/imports/999", headers=s.auth())
    assert missing.status_code == 404


@pytest.mark.parametrize("columns", [501, 40_000, 200_000])
async def test_a_wide_header_is_refused_at_once(embedded_stack: Stack, columns: int) -> None:
    """Issue 17, hole 2: a 40,000-column header took 38 s (a quadratic duplicate check on
    the event loop) and 200,000 columns never answered. Now: 413 naming ``content``."""
    s = embedded_stack
    header = ",".join(f"c{i}" for i in range(columns)).encode()
    resp = await s.client.post(
        "/v1/imports?name=wide",
        content=header + b"\n" + b"1," * (columns - 1) + b"1\n",
        headers={**s.auth(), "Content-Type": "text/csv"},
    )
    assert resp.status_code == 413, resp.text
    error = resp.json()["error"]
    assert error["code"] == "payload_too_large"
    assert texts(error["fields"]) == [
        {"field": "content", "reason": f"the header has {columns:,} columns; at most 500"}
    ]
    runs = await s.client.get("/v1/imports", headers=s.auth())
    assert runs.json() == []  # refused before a run exists


async def test_repeated_columns_are_found_in_linear_time_and_long_cells_named(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    header = ",".join([*(f"c{i}" for i in range(499)), "c7"])
    dup = await s.client.post(
        "/v1/imports?name=dup",
        content=header.encode() + b"\n",
        headers={**s.auth(), "Content-Type": "text/csv"},
    )
    assert dup.status_code == 422, dup.text
    assert texts(dup.json()["error"]["fields"]) == [
        {"field": "content", "reason": "column 'c7' appears more than once"}
    ]
    long_name = await s.client.post(
        "/v1/imports?name=long",
        content=b"x" * 201 + b"\n1\n",
        headers={**s.auth(), "Content-Type": "text/csv"},
    )
    assert long_name.status_code == 422, long_name.text
    assert long_name.json()["error"]["fields"][0]["reason"].endswith(
        "is longer than 200 characters"
    )
    long_cell = await s.client.post(
        "/v1/imports?name=cells&type=visit",
        content=(
            "event_id,occurred_at,rep_id,customer_id\n"
            f"v1,2025-03-21T09:00:00+08:00,r1,{'x' * 10_001}\n"
            "v2,2025-03-21T09:00:00+08:00,r1,c1\n"
        ).encode(),
        headers={**s.auth(), "Content-Type": "text/csv"},
    )
    assert long_cell.status_code == 201, long_cell.text
    run = long_cell.json()
    assert (run["rows_accepted"], run["rows_rejected"]) == (1, 1)
    assert texts(run["issues"][0]["errors"]) == [
        {
            "field": "(row)",
            "reason": "line 2 has a cell longer than 10,000 characters (column 'customer_id')",
        }
    ]


def _invoke(args: list[str], env: dict[str, str]) -> Any:
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


async def test_cli_import_prints_the_report_and_is_idempotent(
    embedded_stack: Stack, tmp_path: Any
) -> None:
    """``paceline import`` appends to the same embedded log the running stack scores."""
    s = embedded_stack
    path = tmp_path / "deals.csv"
    path.write_text(CRM_CSV, encoding="utf-8")
    mapping = tmp_path / "mapping.json"
    mapping.write_text(orjson.dumps(CRM_MAPPING).decode(), encoding="utf-8")
    env = {"PACELINE_DATA_DIR": str(s.settings.data_dir), "PACELINE_EMBEDDED_PARTITIONS": "3"}
    args = ["import", str(path), "--name", "crm-cli", "--mapping", str(mapping)]
    result = await asyncio.to_thread(_invoke, args, env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].endswith(
        "completed; 7 rows: 2 appended, 0 already imported, 1 repeated in the file, 4 rejected"
    )
    # The CLI writes the report in zh-CN (the default locale), for Chinese operators.
    assert "warning: 列“City”不是标准字段：已保存在 attributes.City 中" in lines
    assert "line 5: rejected: amount: amount（列“Amount”）：“abc”不是数字" in lines
    assert "line 6: duplicate: event_id: 与第 2 行重复" in lines
    assert "line 7: rejected: rep_id: 必填" in lines
    await s.wait_scored()
    assert await _progress(s, "revenue", "rep:r1") == "1200.5000"
    again = await asyncio.to_thread(_invoke, [*args, "--wait", "--timeout", "60"], env)
    assert again.exit_code == 0, again.output
    assert "0 appended, 2 already imported" in again.output.splitlines()[0]
    listed = await s.client.get("/v1/imports", params={"name": "crm-cli"}, headers=s.auth())
    assert [r["created_by"] for r in listed.json()] == ["cli", "cli"]
    audit = await s.client.get("/v1/audit", params={"action": "imports.run"}, headers=s.auth())
    entries = audit.json()["items"]
    assert [(e["actor"], e["request_id"]) for e in entries] == [("cli", None), ("cli", None)]


# Issue 16: what Chinese Excel saves as "CSV" is GBK, with amounts written the Chinese way.
GBK_CSV = (
    "商机编号,负责人,阶段,金额,成交日期,城市\n"
    "D1,r1,赢单,5万,2025-03-10,上海\n"
    "D2,r1,赢单,1.2亿,2025-03-11,北京\n"
    'D3,r2,赢单,"￥5,000",2025-03-12,深圳\n'  # GBK has the full-width ￥, not ¥
    'D4,r2,赢单,"5,000.00",2025-03-13,广州\n'
    "D5,r2,赢单,3.5万元,2025-03-14,杭州\n"
    "D6,r2,赢单,五万,2025-03-15,苏州\n"
)
GBK_MAPPING: dict[str, Any] = {
    "type": "deal",
    "columns": {
        "商机编号": "entity_id",
        "负责人": "rep_id",
        "阶段": "stage",
        "金额": "amount",
        "成交日期": "occurred_at",
        "城市": "attributes.city",
    },
    "values": {"stage": {"赢单": "won", "输单": "lost"}},
    "constants": {"version": 1, "currency": "CNY"},
}


@pytest.mark.parametrize(
    ("charset", "declared"),
    [("gbk", "query"), ("gb18030", "content-type"), ("gbk", "json"), ("gbk", "undeclared")],
)
async def test_gbk_csv_and_chinese_amounts(
    embedded_stack: Stack, charset: str, declared: str
) -> None:
    """A GBK file (declared in the query, the Content-Type or the JSON body, or detected
    because it is not UTF-8) reads with its Chinese intact; 万/亿/￥ amounts are exact, and
    an amount that cannot be read rejects its row, naming the column."""
    s = embedded_stack
    raw = GBK_CSV.encode(charset)
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    if declared == "json":
        import base64

        resp = await s.client.post(
            "/v1/imports",
            json={
                "name": "excel",
                "mapping": GBK_MAPPING,
                "content_base64": base64.b64encode(raw).decode(),
                "charset": charset,
            },
            headers=s.auth(),
        )
    else:
        # A file body takes no mapping: the same file with canonical headers.
        header = "entity_id,rep_id,stage,amount,occurred_at,城市"
        canonical = GBK_CSV.replace(GBK_CSV.splitlines()[0], header).replace("赢单", "won")
        raw = canonical.encode(charset)
        content_type = "text/csv" + ("; charset=" + charset if declared == "content-type" else "")
        query = "&charset=" + charset if declared == "query" else ""
        resp = await s.client.post(
            f"/v1/imports?name=excel&type=deal{query}",
            content=raw,
            headers={**s.auth(), "Content-Type": content_type},
        )
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert (out["rows_accepted"], out["rows_rejected"]) == (5, 1), out
    [issue] = out["issues"]
    assert issue["line"] == 7
    column = "金额" if declared == "json" else "amount"
    label = "amount" if column == "amount" else "amount (column '金额')"
    assert texts(issue["errors"]) == [
        {"field": "amount", "reason": f"{label}: '五万' is not a number"}
    ]
    assert issue["row"]["城市"] == "苏州"  # the Chinese text intact in the report
    detected = [w for w in out["warnings"] if "not UTF-8" in w]
    assert len(detected) == (1 if declared == "undeclared" else 0)
    await s.wait_scored()
    # 50,000 + 120,000,000 exactly; 5,000 + 5,000.00 + 35,000.
    assert await _progress(s, "revenue", "rep:r1") == "120050000.0000"
    assert await _progress(s, "revenue", "rep:r2") == "45000.0000"
    records = await s.client.get(
        "/v1/facts/records",
        params={"kpi": "deals_won", "from": "2025-03-10", "to": "2025-03-10", "scope": "rep:r1"},
        headers=s.auth(),
    )
    assert "上海" in records.text


async def test_a_utf8_bom_and_bad_charsets(embedded_stack: Stack) -> None:
    """A UTF-8 BOM is dropped (Excel's "CSV UTF-8"); an unknown or wrong charset is a 422
    naming ``charset`` or ``content``, never a 500."""
    s = embedded_stack
    bom = "\ufeffrep_id,occurred_at,城市\nr1,2025-03-03T10:00:00+08:00,上海\n".encode()
    resp = await s.client.post(
        "/v1/imports?name=bom&type=visit",
        content=bom,
        headers={**s.auth(), "Content-Type": "text/csv"},
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["rows_accepted"] == 1
    assert resp.json()["warnings"] == [
        "column '城市' is not a canonical field: kept in attributes.城市"
    ]
    unknown = await s.client.post(
        "/v1/imports?name=x&type=visit&charset=ebcdic",
        content=b"rep_id\nr1\n",
        headers={**s.auth(), "Content-Type": "text/csv"},
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["fields"][0]["field"] == "charset"
    wrong = await s.client.post(
        "/v1/imports?name=x&type=visit",
        content="rep_id\n上海\n".encode("gbk"),
        headers={**s.auth(), "Content-Type": "text/csv; charset=utf-8"},
    )
    assert wrong.status_code == 422
    assert wrong.json()["error"]["fields"][0]["field"] == "content"
    both = await s.client.post(
        "/v1/imports",
        json={"name": "x", "content": "a\n", "content_base64": "YQo="},
        headers=s.auth(),
    )
    assert both.status_code == 422
    not_b64 = await s.client.post(
        "/v1/imports",
        json={"name": "x", "content_base64": "***"},
        headers=s.auth(),
    )
    assert not_b64.status_code == 422
    assert texts(not_b64.json()["error"]["fields"]) == [
        {"field": "content_base64", "reason": "is not valid base64"}
    ]


def test_chinese_amounts_parse_exactly() -> None:
    from decimal import Decimal

    from paceline.shared.money import parse_amount

    assert parse_amount("5万") == (Decimal("50000"), None)
    assert parse_amount("1.2亿") == (Decimal("120000000"), None)
    assert parse_amount("￥1.2亿") == (Decimal("120000000"), "CNY")
    assert parse_amount("3.5万元") == (Decimal("35000"), "CNY")
    assert parse_amount("¥5,000") == (Decimal("5000"), "CNY")
    assert parse_amount("5,000.00") == (Decimal("5000"), None)
    assert parse_amount("(3万)") == (Decimal("-30000"), None)
    assert parse_amount("1,234.5万") == (Decimal("12345000"), None)
    for bad in ("五万", "万", "5万万", "abc"):
        with pytest.raises(ValueError, match="is not a number"):
            parse_amount(bad)


async def test_cli_imports_a_gbk_file(embedded_stack: Stack, tmp_path: Any) -> None:
    """``paceline import`` detects GBK in the pass that hashes the file (or takes
    ``--charset``) and refuses a wrong declaration by name."""
    s = embedded_stack
    path = tmp_path / "商机.csv"
    path.write_bytes(GBK_CSV.encode("gbk"))
    mapping = tmp_path / "mapping.json"
    mapping.write_text(orjson.dumps(GBK_MAPPING).decode(), encoding="utf-8")
    env = {"PACELINE_DATA_DIR": str(s.settings.data_dir), "PACELINE_EMBEDDED_PARTITIONS": "3"}
    args = ["import", str(path), "--name", "excel-cli", "--mapping", str(mapping)]
    result = await asyncio.to_thread(_invoke, args, env)
    assert result.exit_code == 0, result.output
    assert "5 appended" in result.output.splitlines()[0]
    assert any(line.startswith("warning: 文件不是 UTF-8") for line in result.output.splitlines())
    assert "line 7: rejected: amount: amount（列“金额”）：“五万”不是数字" in (
        result.output.splitlines()
    )
    await s.wait_scored()
    assert await _progress(s, "revenue", "rep:r1") == "120050000.0000"
    declared = await asyncio.to_thread(_invoke, [*args, "--charset", "gbk"], env)
    assert declared.exit_code == 0, declared.output
    assert "warning: 文件不是 UTF-8" not in declared.output
    assert "0 appended, 5 already imported" in declared.output.splitlines()[0]
    wrong = await asyncio.to_thread(_invoke, [*args, "--charset", "utf-8"], env)
    assert wrong.exit_code != 0
    assert "the file is not utf-8" in wrong.output
