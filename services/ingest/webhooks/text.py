"""Words of the webhook connectors for people, zh-CN and en: a catalog keyed by code.

Quarantine reasons are stored in English (``reason``); what would fix an item is kept as
a code and its parameters and shown in both locales (``fix`` of ``GET /v1/quarantine``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

LOCALES: Final = ("zh-CN", "en")

CATALOG: Final[dict[str, dict[str, str]]] = {
    "credential_missing": {
        "zh-CN": "连接器缺少凭据 {credential}（{vendor} API）：配置后将自动读取完整记录并重试此项",
        "en": "set the connector's secret {credential} ({vendor} API): the whole record is "
        "then read through the API and this item is retried automatically",
    },
    "credential_rejected": {
        "zh-CN": "{vendor} API 拒绝了连接器的凭据 {credential}（HTTP {status}）："
        "更新后将自动重试此项",
        "en": "the {vendor} API refused the connector's secret {credential} (HTTP {status}): "
        "update it and this item is retried automatically",
    },
    "api_unreachable": {
        "zh-CN": "无法访问 {vendor} API（记录 {record}）：{why}",
        "en": "{vendor} API unreachable for {record}: {why}",
    },
    "api_status": {
        "zh-CN": "{vendor} API 对记录 {record} 返回 {status}",
        "en": "{vendor} API answered {status} for {record}",
    },
    "api_refused": {
        "zh-CN": "{vendor} API 拒绝读取记录 {record}（HTTP {status}），请检查凭据 {credential}",
        "en": "{vendor} API refused to read {record} (HTTP {status}): check the secret "
        "{credential}",
    },
    "api_unreadable": {
        "zh-CN": "{vendor} API 返回的记录 {record} 无法读取",
        "en": "{vendor} API sent an unreadable record {record}",
    },
    "api_rate_limited": {
        "zh-CN": "{vendor} API 限流（记录 {record}），{seconds} 秒后可再试；此项将在重放时处理",
        "en": "{vendor} API rate limit reached for {record} (retry after {seconds} s); "
        "the item waits for a replay",
    },
}


def render(code: str, locale: str, **params: str) -> str:
    """A catalog message in a locale, filled."""
    return CATALOG[code][locale].format(**params)


def both(code: str, params: Mapping[str, str]) -> dict[str, str]:
    """A message in every locale."""
    return {loc: render(code, loc, **params) for loc in LOCALES}
