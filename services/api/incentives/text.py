"""Words of incentives for people, zh-CN and en: a catalog keyed by code, CLDR formats.

Messages are looked up by a stable code and filled with parameters; money, numbers and
percentages are formatted by Babel with the locale's CLDR data (¥38,000.00 in both
locales; 3.8万 style is not used for money on statements, where payroll wants the digits).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Final

from babel.numbers import format_currency, format_decimal, format_percent

LOCALES: Final = ("zh-CN", "en")
_BABEL: Final = {"zh-CN": "zh_Hans_CN", "en": "en"}

CATALOG: Final[dict[str, dict[str, str]]] = {
    "next_tier": {
        "zh-CN": "再完成 {more} {kpi}，即达 {at} 档：+{gain}",
        "en": "{more} more {kpi} reaches the {at} tier: +{gain}",
    },
    "what_if": {
        "zh-CN": "这些成交将使本月激励增加 {gain}（合计 {total}）",
        "en": "These deals would add {gain} to this month's earnings ({total} in all)",
    },
    # Statement page and CSV labels.
    "statement": {"zh-CN": "激励结算单", "en": "Incentive statement"},
    "rep": {"zh-CN": "销售", "en": "Rep"},
    "period": {"zh-CN": "期间", "en": "Period"},
    "status": {"zh-CN": "状态", "en": "Status"},
    "status.draft": {"zh-CN": "草稿", "en": "Draft"},
    "status.approved": {"zh-CN": "已审批", "en": "Approved"},
    "status.paid": {"zh-CN": "已发放", "en": "Paid"},
    "total": {"zh-CN": "合计", "en": "Total"},
    "component": {"zh-CN": "项目", "en": "Component"},
    "kind": {"zh-CN": "类型", "en": "Type"},
    "kind.commission": {"zh-CN": "提成", "en": "Commission"},
    "kind.bonus": {"zh-CN": "达成奖金", "en": "Attainment bonus"},
    "kind.spiff": {"zh-CN": "专项奖励", "en": "SPIFF"},
    "kind.pool": {"zh-CN": "团队奖金池", "en": "Team pool"},
    "kind.clawback": {"zh-CN": "追回", "en": "Clawback"},
    "kind.true_up": {"zh-CN": "补发", "en": "True-up"},
    "plan": {"zh-CN": "方案（版本）", "en": "Plan (version)"},
    "days": {"zh-CN": "天数", "en": "Days"},
    "basis": {"zh-CN": "依据", "en": "Basis"},
    "base": {"zh-CN": "基数", "en": "Base"},
    "attainment": {"zh-CN": "达成率", "en": "Attainment"},
    "rate": {"zh-CN": "比率", "en": "Rate"},
    "factor": {"zh-CN": "调节系数", "en": "Factor"},
    "amount": {"zh-CN": "金额", "en": "Amount"},
    "source": {"zh-CN": "来源月份", "en": "From month"},
    "generated": {"zh-CN": "生成", "en": "Generated"},
    "approved": {"zh-CN": "审批", "en": "Approved"},
    "paid": {"zh-CN": "发放", "en": "Paid"},
    "known": {"zh-CN": "数据截至（月结）", "en": "Figures as closed at"},
    "rounding": {
        "zh-CN": "每行金额按币种最小单位四舍五入；合计为各行之和。",
        "en": "Each line is rounded to the currency's minor unit, half up; the total is "
        "the sum of the lines.",
    },
    "scorecard": {"zh-CN": "综合得分", "en": "Scorecard"},
}


def locale_of(requested: str | None, default: str) -> str:
    """zh-CN or en: the requested locale if it is one of them, else the default."""
    for candidate in (requested, default):
        if candidate:
            low = candidate.lower()
            if low.startswith("zh"):
                return "zh-CN"
            if low.startswith("en"):
                return "en"
    return "zh-CN"


def accept_language(header: str | None) -> str | None:
    """The first language of an Accept-Language header that Paceline speaks."""
    if not header:
        return None
    for part in header.split(","):
        tag = part.split(";")[0].strip()
        if tag.lower().startswith(("zh", "en")):
            return tag
    return None


def label(code: str, locale: str) -> str:
    """A catalog entry in a locale."""
    return CATALOG[code][locale]


def money(amount: Decimal, currency: str, locale: str) -> str:
    """Money in the locale's format (¥4,560.00)."""
    return format_currency(amount, currency, locale=_BABEL[locale])


def number(value: Decimal, locale: str) -> str:
    """A number with the locale's grouping, at most two decimals."""
    return format_decimal(value, format="#,##0.##", locale=_BABEL[locale])


def percent(value: Decimal, locale: str) -> str:
    """A fraction as a percentage (1.2 → 120%)."""
    return format_percent(value, format="#,##0.#%", locale=_BABEL[locale])


def render(code: str, locale: str, **params: str) -> str:
    """A catalog message in a locale, filled."""
    return CATALOG[code][locale].format(**params)


def both(code: str, params: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """A message in every locale (``params``: per locale, already formatted)."""
    return {loc: render(code, loc, **params[loc]) for loc in LOCALES}
