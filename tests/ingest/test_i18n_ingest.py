"""The ingest service's words in zh-CN (the tenant's locale) and in en (Accept-Language):
event reasons naming the field, the 422 of a request without a valid event, quarantine
reasons and what would fix them, import rejections, all from the catalogs (domain
``ingest``), with their codes and parameters for machines. On a pinned clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from paceline.ingest.webhooks import reasons
from paceline.shared.clock import Clock, FixedClock
from paceline.shared.i18n import msg, render
from tests.ingest.webhooks.support import post_webhook, put_connector
from tests.support import Stack

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}


@pytest.fixture
def stack_clock() -> Clock | None:
    """The app's clock, pinned (events a year ahead are refused relative to it)."""
    return FixedClock(NOW)


def _visit(event_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "visit",
        "occurred_at": "2026-11-25T09:30:00+08:00",
        "rep_id": "r-zhang",
        **fields,
    }


async def _post(stack: Stack, body: Any, headers: dict[str, str]) -> Any:
    return await stack.client.post("/v1/events", json=body, headers={**stack.auth(), **headers})


async def test_a_bad_event_field_is_named_in_chinese_by_default(embedded_stack: Stack) -> None:
    s = embedded_stack
    # No Accept-Language: the tenant's locale (zh-CN).
    resp = await s.client.post(
        "/v1/events",
        json=[_visit("v-ok"), _visit("v-bad", duration_min="-5", currency="XYZ")],
        headers=s.auth(),
    )
    assert resp.status_code == 202, resp.text
    bad = resp.json()["results"][1]
    assert bad["status"] == "rejected"
    errors = {e["field"]: e for e in bad["errors"]}
    assert errors["duration_min"]["reason"] == "不能为负数"
    assert errors["duration_min"]["reason_code"] == "events.decimal.negative"
    assert errors["currency"]["reason"] == "XYZ 不是 ISO 4217 货币代码（如 CNY、USD）"
    assert errors["currency"]["reason_code"] == "events.currency.unknown"
    assert errors["currency"]["reason_params"] == {"value": "XYZ"}
    # The same request in English.
    en = await _post(s, [_visit("v-bad2", duration_min="-5")], EN)
    assert en.status_code == 422, en.text
    field = en.json()["error"]["fields"][0]
    assert field == {
        "field": "duration_min",
        "reason": "must not be negative",
        "reason_code": "events.decimal.negative",
        "reason_params": {},
    }


async def test_a_request_without_a_valid_event_answers_422_in_chinese(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    wrong = _visit("v-1", stage="won")  # a deal's field on a visit
    resp = await _post(s, [wrong, _visit("v-2", occurred_at="2028-01-01T00:00:00+08:00")], ZH)
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["message_code"] == "events.none_valid"
    assert error["message"] == (
        "请求中没有有效的事件：[0].stage：不是 visit 事件的字段（仅属于 deal 事件）"
        "和[1].occurred_at：时间晚于一年以后"
    )
    reasons_by_field = {f["field"]: f["reason"] for f in error["fields"]}
    assert reasons_by_field["[1].occurred_at"] == "时间晚于一年以后"
    # A body that is not JSON: the error handler's words, in the caller's language.
    broken = await s.client.post(
        "/v1/events",
        content=b"[{",
        headers={**s.auth(), "Content-Type": "application/json", **ZH},
    )
    assert broken.status_code == 400
    assert broken.json()["error"]["message"].startswith("请求体不是有效的 JSON：")


async def test_an_unknown_field_warning_is_chinese_with_its_code(embedded_stack: Stack) -> None:
    s = embedded_stack
    resp = await _post(s, _visit("v-3", region="华东"), ZH)
    assert resp.status_code == 202, resp.text
    result = resp.json()["results"][0]
    assert result["warnings"] == ["未知字段 region 已保存在 attributes 中"]
    assert result["warning_codes"] == [
        {"code": "events.unknown_field", "params": {"name": "region"}}
    ]


async def test_quarantine_reasons_are_stored_as_codes_and_read_in_each_language(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    token = "rec-token-zh-1"
    out = await put_connector(
        s,
        "crm8",
        settings={
            "signature": "token",
            "format": "records",
            "items_path": "records",
            "object_type": "deal",
            "record_id_path": "id",
            "version_path": "updated",
        },
        secrets={"secret": token},
        mapping={
            "objects": {
                "deal": {
                    "type": "deal",
                    "fields": {"rep_id": "owner", "stage": "stage", "amount": "amount"},
                    "values": {"stage": {"open": ["open"], "won": ["won"]}},
                }
            },
            "owners": {"u1": "r-zhang"},
            "unknown_owner": "quarantine",
            "default_currency": "CNY",
        },
    )
    body = orjson.dumps(
        {
            "records": [
                {"id": "d-1", "owner": "u9", "stage": "won", "updated": "2026-11-20T02:00:00Z"},
                {"id": "d-2", "owner": "u1", "stage": "签约", "updated": "2026-11-20T03:00:00Z"},
            ]
        }
    )
    resp = await post_webhook(
        s, "crm8", out["endpoint_id"], body, {"X-Paceline-Token": token, **ZH}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["quarantined"] == 2, resp.json()
    by_code = {r["reason_code"]: r for r in resp.json()["results"]}
    owner = by_code["webhooks.map.unknown_owner"]
    assert owner["reason"] == "deal d-1：负责人“u9”不在映射的 owners 中"
    assert owner["reason_params"] == {"object": "deal", "id": "d-1", "owner": "u9"}
    # The rows keep the code and parameters; GET renders them per reader.
    zh = await s.client.get("/v1/quarantine", headers={**s.auth(), **ZH})
    kept = {i["record_id"]: i for i in zh.json()["items"]}
    assert kept["d-1"]["reason_code"] == "unknown_owner"
    assert kept["d-1"]["reason"] == "deal d-1：负责人“u9”不在映射的 owners 中"
    assert kept["d-1"]["reason_message_code"] == "webhooks.map.unknown_owner"
    assert kept["d-2"]["reason"] == (
        "deal d-2：“stage”中的 stage 值“签约”未知；请将其加入 values.stage"
    )
    en = await s.client.get("/v1/quarantine", headers={**s.auth(), **EN})
    kept_en = {i["record_id"]: i for i in en.json()["items"]}
    assert kept_en["d-1"]["reason"] == "deal d-1: owner 'u9' is not in the mapping's owners"
    # Not found, in Chinese.
    missing = await s.client.get("/v1/quarantine/999999", headers={**s.auth(), **ZH})
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "没有隔离项 999999"


def test_stored_reasons_round_trip_and_older_text_reads_as_is() -> None:
    why = [
        msg("webhooks.map.no_owner", object="deal", id="7", path="owner"),
        msg("webhooks.fix.credential_missing", vendor="HubSpot", credential="access_token"),
    ]
    back = reasons.read(reasons.stored(why))
    assert render(back, "zh-CN") == (
        "deal 7：“owner”中没有负责人；连接器缺少凭据 access_token（HubSpot API）："
        "配置后将自动读取完整记录并重试此项"
    )
    assert render(back, "en").startswith("deal 7: no owner in 'owner'; set the connector's")
    old = reasons.read("owner 10002 is not in the mapping's owners")
    assert render(old, "zh-CN") == "owner 10002 is not in the mapping's owners"
    huge = [msg("webhooks.reason.text", text="x" * 3000)] * 3
    assert len(reasons.stored(huge)) <= reasons.MAX_STORED


async def test_import_rejections_are_chinese_with_codes(embedded_stack: Stack) -> None:
    s = embedded_stack
    content = (
        "event_id,type,occurred_at,rep_id,amount,stage,金额备注\n"
        "D1,deal,2026-03-14T10:00:00+08:00,r-zhang,¥12.5万,won,首单\n"
        "D2,deal,2026-03-15T10:00:00+08:00,r-zhang,abc,won,\n"
        "D1,deal,2026-03-14T10:00:00+08:00,r-zhang,¥12.5万,won,首单\n"
    )
    resp = await s.client.post(
        "/v1/imports",
        params={"name": "zh-history"},
        content=content.encode(),
        headers={**s.auth(), "Content-Type": "text/csv"},
    )
    assert resp.status_code == 201, resp.text
    run = resp.json()
    assert (run["rows_accepted"], run["rows_rejected"], run["rows_duplicate"]) == (1, 1, 1)
    assert run["warnings"] == ["列“金额备注”不是标准字段：已保存在 attributes.金额备注 中"]
    assert run["warning_codes"][0]["code"] == "imports.column.kept"
    rejected, repeated = run["issues"]
    assert rejected["errors"] == [
        {
            "field": "amount",
            "reason": "amount：“abc”不是数字",
            "reason_code": "imports.cell.problem",
            "reason_params": {
                "label": "amount",
                "reason": {"$msg": "money.not_a_number", "params": {"text": "abc"}},
            },
        }
    ]
    assert repeated["errors"][0]["reason"] == "与第 2 行重复"
    # English on request, from the same stored codes.
    again = await s.client.post(
        "/v1/imports",
        params={"name": "zh-history-2"},
        content=content.encode(),
        headers={**s.auth(), "Content-Type": "text/csv", **EN},
    )
    assert again.json()["issues"][0]["errors"][0]["reason"] == "amount: 'abc' is not a number"
    # A request error, in Chinese.
    bad = await s.client.post(
        "/v1/imports", content=b"a,b\n", headers={**s.auth(), "Content-Type": "text/csv", **ZH}
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["message"] == "请为导入命名"
