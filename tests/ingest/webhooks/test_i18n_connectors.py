"""The connector configuration's words in zh-CN (the tenant's locale) and in en
(Accept-Language): adapter and preset titles, setting descriptions, the 404 of an unknown
connector and the 422s naming a setting or a mapping field, all from the ingest catalog
with their codes and parameters for machines. On a pinned clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from paceline.shared.clock import Clock, FixedClock
from tests.support import Stack

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}
# Latin words a zh-CN text may hold: brand and product names, protocol names, and what a
# person types as it is (quoted setting names, paths, URLs).
_KEPT = {
    "HubSpot", "Pipedrive", "Salesforce", "Zoho", "CRM", "API", "REST", "OAuth", "HTTP",
    "Basic", "Webhook", "Webhooks", "Standard", "Client", "Secret", "Consumer", "Key", "ID",
    "IANA", "UTC", "CDC", "APL", "Neocrm", "Paceline", "Accounts", "Enabled", "GET", "v1",
    "connector", "adapters", "docs", "CONNECTORS", "md", "https", "www", "zohoapis", "com",
    "eu", "in", "au", "jp", "ca", "sa", "cn", "accounts", "zoho",
}  # fmt: skip


@pytest.fixture
def stack_clock() -> Clock | None:
    """The app's clock, pinned."""
    return FixedClock(NOW)


def _english_words(text: str) -> set[str]:
    unquoted = re.sub(r"“[^”]*”", "", text)
    return set(re.findall(r"[A-Za-z][A-Za-z0-9_]*", unquoted)) - _KEPT


async def _adapters(s: Stack, headers: dict[str, str]) -> dict[str, Any]:
    resp = await s.client.get("/v1/connector-adapters", headers={**s.auth(), **headers})
    assert resp.status_code == 200, resp.text
    return {a["name"]: a for a in resp.json()}


async def test_adapters_and_presets_read_chinese_for_the_tenant(embedded_stack: Stack) -> None:
    s = embedded_stack
    # The tenant's locale (zh-CN) when Accept-Language names neither language.
    adapters = await _adapters(s, {"Accept-Language": "fr"})
    generic = adapters["generic"]
    assert generic["title"] == "通用（Standard Webhooks）"
    assert generic["title_code"] == "webhooks.adapter.generic.title"
    # Vendors' brand names stay as they are.
    assert adapters["hubspot"]["title"] == "HubSpot"
    assert adapters["zoho"]["title"] == "Zoho CRM"
    assert adapters["hubspot"]["title_code"] == "webhooks.adapter.vendor"
    assert adapters["hubspot"]["title_params"] == {"vendor": "HubSpot"}
    presets = {p["name"]: p for p in generic["presets"]}
    jdy = presets["jiandaoyun-crm"]
    assert jdy["title"] == "简道云CRM（数据推送：每个表单一个推送，地址带 “?form=<object>”）"
    assert jdy["title_code"] == "webhooks.preset.jiandaoyun_crm.title"
    assert jdy["title_params"] == {"query": {"$code": "?form=<object>"}}
    assert (
        presets["kingdee-cosmic"]["title"]
        == "金蝶云苍穹 CRM（操作插件推送单据，Standard Webhooks 签名）"
    )
    assert jdy["notes"] == "按 docs/CONNECTORS.md 为每个表单设置字段别名（表单设置 → 字段别名）"
    options = {o["name"]: o for o in generic["options"]}
    assert options["signature"]["description"] == (
        "签名方式：“standard_webhooks”、“jiandaoyun”、“twenty”或“token”（默认 “standard_webhooks”）"
    )
    assert options["signature"]["description_code"] == "webhooks.adapter.generic.signature"
    assert (
        options["deleted_values"]["description"]
        == "“records” 格式：“deleted_path” 中表示已删除的取值"
    )
    # No English prose in any title, description or note (names and typed values aside).
    for adapter in adapters.values():
        texts = [adapter["title"]] + [o["description"] for o in adapter["options"]]
        for p in adapter["presets"]:
            texts += [p["title"], p["notes"], *p["objects"].values()]
        for text in texts:
            assert _english_words(text) == set(), text


async def test_adapters_read_english_when_asked(embedded_stack: Stack) -> None:
    adapters = await _adapters(embedded_stack, EN)
    generic = adapters["generic"]
    assert generic["title"] == "Generic (Standard Webhooks)"
    presets = {p["name"]: p for p in generic["presets"]}
    assert presets["jiandaoyun-crm"]["title"] == (
        "简道云CRM (数据推送, one push per form, '?form=<object>')"
    )
    options = {o["name"]: o for o in adapters["hubspot"]["options"]}
    assert options["api_base"]["description"] == (
        "the CRM API's base URL (default 'https://api.hubapi.com')"
    )
    assert options["require_v3"]["description"] == (
        "refuse requests without 'X-HubSpot-Signature-v3' ('true' or 'false')"
    )


async def test_an_unknown_connector_is_a_404_in_the_callers_language(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    zh = await s.client.get("/v1/connectors/crm404", headers={**s.auth(), **ZH})
    assert zh.status_code == 404
    error = zh.json()["error"]
    assert error["message"] == "来源 “crm404” 没有连接器"
    assert error["message_code"] == "webhooks.config.not_found"
    assert error["message_params"] == {"source": {"$code": "crm404"}}
    en = await s.client.get("/v1/connectors/crm404/mapping", headers={**s.auth(), **EN})
    assert en.status_code == 404
    assert en.json()["error"]["message"] == "no connector for source 'crm404'"
    rotate = await s.client.post(
        "/v1/connectors/crm404/rotate", json={"endpoint": True}, headers={**s.auth(), **ZH}
    )
    assert rotate.status_code == 404
    assert rotate.json()["error"]["message_code"] == "webhooks.config.not_found"


async def test_an_invalid_connector_names_the_setting(embedded_stack: Stack) -> None:
    s = embedded_stack
    body = {"settings": {"signature": "md5", "colour": "red"}}
    zh = await s.client.put("/v1/connectors/crm9", json=body, headers={**s.auth(), **ZH})
    assert zh.status_code == 422, zh.text
    error = zh.json()["error"]
    fields = {f["field"]: f for f in error["fields"]}
    assert fields["settings.colour"]["reason"] == "不是 “generic” 适配器的设置项"
    assert fields["settings.colour"]["reason_code"] == "webhooks.config.not_a_setting"
    assert fields["settings.signature"]["reason"] == (
        "须为 “standard_webhooks”、“jiandaoyun”、“twenty”或“token” 之一"
    )
    assert (
        error["message"]
        == "连接器配置无效：“settings.colour”：不是 “generic” 适配器的设置项（另有 1 处问题）"
    )
    assert error["message_code"] == "webhooks.config.invalid_more"
    en = await s.client.put("/v1/connectors/crm9", json=body, headers={**s.auth(), **EN})
    assert en.json()["error"]["message"] == (
        "the connector is not valid: 'settings.colour': not a setting of the 'generic' "
        "adapter (and 1 more)"
    )
    zone = await s.client.put(
        "/v1/connectors/crm9",
        json={"settings": {"format": "records", "version_tz": "Asia/Shang"}},
        headers={**s.auth(), **ZH},
    )
    assert zone.status_code == 422
    [tz] = zone.json()["error"]["fields"]
    assert tz["reason"] == "“Asia/Shang” 不是 IANA 时区（如 Asia/Shanghai）"


async def test_a_mapping_without_the_owner_field_is_refused_in_chinese(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    resp = await s.client.put("/v1/connectors/crm9", json={}, headers=s.auth())
    assert resp.status_code == 201, resp.text
    no_owner = {"objects": {"deal": {"type": "deal", "fields": {"stage": "s"}}}}
    zh = await s.client.put(
        "/v1/connectors/crm9/mapping", json=no_owner, headers={**s.auth(), **ZH}
    )
    assert zh.status_code == 422, zh.text
    [field] = zh.json()["error"]["fields"]
    assert "objects.deal" in field["field"]
    assert field["reason"] == "必须有 fields.rep_id：存放负责人的 CRM 字段"
    assert field["reason_code"] == "webhooks.mapping.rep_required"
    en = await s.client.put(
        "/v1/connectors/crm9/mapping", json=no_owner, headers={**s.auth(), **EN}
    )
    [field] = en.json()["error"]["fields"]
    assert field["reason"] == "fields.rep_id is required: the vendor field holding the owner"
