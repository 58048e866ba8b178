"""Role templates in the caller's language: names, 404, 409 and 422 texts from the catalogs
(zh-CN, the tenant's default; en through Accept-Language), codes beside them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from paceline.shared.clock import FixedClock
from tests.support import Stack, embedded_settings, running_stack

NOW = datetime.fromisoformat("2026-11-26T10:00:00+08:00")
EN = {"Accept-Language": "en"}


@pytest.fixture
async def s(tmp_path: Path) -> AsyncIterator[Stack]:
    """An embedded stack on a fixed clock."""
    async with running_stack(
        "embedded", embedded_settings(tmp_path / "data"), clock=FixedClock(NOW)
    ) as st:
        yield st


async def test_names_and_errors_in_the_callers_language(s: Stack) -> None:
    listed = await s.client.get("/v1/role-templates", headers=s.auth())
    assert [t["name"] for t in listed.json()] == ["客户经理", "渠道经理", "售前/售后"]
    english = await s.client.get("/v1/role-templates/account_manager", headers={**s.auth(), **EN})
    assert english.json()["name"] == "Account manager"
    missing = (await s.client.get("/v1/role-templates/nothing_here", headers=s.auth())).json()
    assert missing["error"]["message"] == "没有模板“nothing_here”"
    assert missing["error"]["message_code"] == "templates.not_found"
    assert missing["error"]["message_params"] == {"key": "nothing_here"}
    builtin = await s.client.delete("/v1/role-templates/presales", headers=s.auth())
    assert builtin.status_code == 409
    assert builtin.json()["error"]["message"] == "“presales”是内置模板，不能删除"
    body = {
        "name_zh": "猎手",
        "name_en": "Hunter",
        "items": [
            {"kpi": "revenue", "weight": "50"},
            {"kpi": "revenue", "weight": "30"},
            {"kpi": "happiness", "weight": "10"},
        ],
    }
    bad = (await s.client.put("/v1/role-templates/hunter", json=body, headers=s.auth())).json()
    assert bad["error"]["message"] == "模板无效"
    assert bad["error"]["message_code"] == "templates.errors.invalid"
    reasons = [(f["field"], f["reason"], f["reason_code"]) for f in bad["error"]["fields"]]
    assert reasons == [
        ("items[2].kpi", "未知的 KPI“happiness”", "targets.errors.unknown_kpi"),
        ("items", "有 KPI 出现了不止一次", "templates.errors.duplicate_kpi"),
        ("items", "权重合计为 90，而不是 100", "templates.errors.weights_sum"),
    ]
    bad_en = await s.client.put("/v1/role-templates/hunter", json=body, headers={**s.auth(), **EN})
    assert [f["reason"] for f in bad_en.json()["error"]["fields"]] == [
        "unknown KPI 'happiness'",
        "a KPI appears more than once",
        "weights sum to 90, not 100",
    ]
