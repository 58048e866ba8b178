"""Words of the KPI exporter for people, zh-CN and en (a catalog keyed by code)."""

from __future__ import annotations

from typing import Final

CATALOG: Final[dict[str, dict[str, str]]] = {
    "exporter_off": {
        "zh-CN": "本租户未开启 KPI 指标导出。管理员可以用 PUT /v1/settings "
        '{"kpi_exporter": true} 开启（见 docs/OPERATIONS.md）。',
        "en": "The KPI exporter is off for this tenant. An admin turns it on with "
        'PUT /v1/settings {"kpi_exporter": true} (see docs/OPERATIONS.md).',
    },
}


def message(code: str, locale: str) -> str:
    """A catalog message in a locale (zh-CN or en)."""
    return CATALOG[code]["en" if locale == "en" else "zh-CN"]
