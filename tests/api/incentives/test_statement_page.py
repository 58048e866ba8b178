"""The printable statement in both languages, from the catalog alone (pure: no stack).

Every kind of line and every status has its words (the page builds those codes from the
data, so the catalog test cannot see them), the zh-CN page has no English word but names
and codes, and the times are in the tenant's time zone.
"""

from __future__ import annotations

import re
from typing import Any, get_args
from zoneinfo import ZoneInfo

import pytest

from paceline.api.incentives.page import statement_html
from paceline.api.incentives.schemas import LineOut, StatementOut
from paceline.shared.i18n import L10n

KINDS = get_args(LineOut.model_fields["kind"].annotation)
STATUSES = get_args(StatementOut.model_fields["status"].annotation)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def statement(status: str) -> StatementOut:
    example: dict[str, Any] = StatementOut.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
    line = example["lines"][0]
    lines = [{**line, "kind": kind} for kind in KINDS]
    return StatementOut.model_validate(
        {
            **example,
            "status": status,
            "lines": lines,
            "approved_at": "2026-12-04T02:00:00Z",
            "approved_by": "user:li.na",
        }
    )


@pytest.mark.parametrize("status", STATUSES)
def test_every_kind_and_status_has_words_in_both_languages(status: str) -> None:
    for locale in ("zh-CN", "en"):
        page = statement_html(statement(status), locale=locale, tz=SHANGHAI)
        assert "incentives." not in page, page  # a code without text shows as itself


def test_the_zh_cn_page_reads_chinese() -> None:
    names = {"revenue": L10n("销售额", "Revenue")}
    page = statement_html(statement("approved"), locale="zh-CN", tz=SHANGHAI, kpi_names=names)
    assert '<dd id="status">已审批</dd>' in page
    assert "<td>销售额</td>" in page  # the KPI by name
    assert "客户经理提成方案（第 2 版）" in page  # the plan by name
    assert "2026年11月1日 至 2026年11月30日" in page  # the last day, not the exclusive end
    assert "user:li.na，2026年12月4日 10:00:00" in page  # 02:00 UTC is 10:00 in Shanghai
    body = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", body)
    # Ids and keys from the data (the rep's id, who generated and approved, the
    # component's key) are names and codes; nothing else is in Latin letters.
    for kept in ("r-001", "key:57d38affb5a0e361", "user:li.na", "revenue-commission"):
        text = text.replace(kept, "")
    assert re.findall(r"[A-Za-z]+", text) == [], text
