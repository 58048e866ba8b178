"""Messages of the OData feed for people, zh-CN and en: a catalog keyed by code.

The locale is the request's ``Accept-Language`` when it names zh or en, else the tenant's
(``locale`` setting). Codes and parameters are stable; the words may change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from paceline.api.incentives.text import accept_language, locale_of

CATALOG: Final[dict[str, dict[str, str]]] = {
    "filter_syntax": {
        "zh-CN": "无法解析筛选条件（靠近 “{near}”）",
        "en": "cannot read the filter near '{near}'",
    },
    "filter_end": {"zh-CN": "筛选条件意外结束", "en": "the filter ends too early"},
    "filter_empty": {"zh-CN": "筛选条件为空", "en": "the filter is empty"},
    "filter_depth": {
        "zh-CN": "括号嵌套最多 {max} 层",
        "en": "at most {max} levels of parentheses",
    },
    "filter_paren": {"zh-CN": "缺少右括号", "en": "a closing parenthesis is missing"},
    "filter_property": {
        "zh-CN": "此处应为属性名，而不是 “{near}”",
        "en": "expected a property name, not '{near}'",
    },
    "filter_operator": {
        "zh-CN": "不支持 “{op}”：请用 eq、ne、gt、ge、lt、le 比较，并用 and 连接",
        "en": "'{op}' is not supported: compare with eq, ne, gt, ge, lt or le and join with and",
    },
    "filter_function": {
        "zh-CN": "不支持函数 “{name}(...)”",
        "en": "functions such as '{name}(...)' are not supported",
    },
    "filter_field": {
        "zh-CN": "不能按 “{name}” 筛选；可用：{allowed}",
        "en": "cannot filter on '{name}'; use one of {allowed}",
    },
    "filter_type": {
        "zh-CN": "“{value}” 不是 {name} 的类型 {type} 的值",
        "en": "'{value}' is not a {type} value for {name}",
    },
    "filter_null": {
        "zh-CN": "null 只能用 eq 或 ne 比较，不能用 {op}",
        "en": "null compares only with eq or ne, not {op}",
    },
    "filter_terms": {
        "zh-CN": "筛选条件最多 {max} 个比较",
        "en": "at most {max} comparisons in a filter",
    },
    "filter_long": {
        "zh-CN": "筛选条件最长 {max} 个字符",
        "en": "a filter has at most {max} characters",
    },
    "select_field": {
        "zh-CN": "{entity} 没有属性 “{name}”",
        "en": "{entity} has no property '{name}'",
    },
    "orderby_many": {"zh-CN": "最多按 {max} 个属性排序", "en": "order by at most {max} properties"},
    "orderby_syntax": {
        "zh-CN": "无法解析排序 “{near}”：写作 属性 [asc|desc]",
        "en": "cannot read '{near}': write property [asc|desc]",
    },
    "orderby_field": {
        "zh-CN": "不能按 “{name}” 排序；可用：{allowed}",
        "en": "cannot order by '{name}'; use one of {allowed}",
    },
    "orderby_facts": {
        "zh-CN": "Facts 只按键顺序（kpi、rep_id、day 升序）返回",
        "en": "Facts come only in key order (kpi, rep_id, day ascending)",
    },
    "not_count": {
        "zh-CN": "{option} 须为非负整数",
        "en": "{option} must be a whole number, 0 or more",
    },
    "too_large": {
        "zh-CN": "{option} 最大为 {max}；更多数据请跟随 @odata.nextLink",
        "en": "{option} is at most {max}; follow @odata.nextLink for more",
    },
    "count": {"zh-CN": "$count 须为 true 或 false", "en": "$count must be true or false"},
    "count_facts": {
        "zh-CN": "Facts 不支持 $count=true（需要读完全部行）；请跟随 @odata.nextLink",
        "en": "Facts do not serve $count=true (it reads every row); follow @odata.nextLink",
    },
    "format": {"zh-CN": "只提供 JSON（$format=json）", "en": "only JSON is served ($format=json)"},
    "bad_token": {
        "zh-CN": "$skiptoken 无效：请使用上一页 @odata.nextLink 中的链接",
        "en": "the skip token is not valid: use the @odata.nextLink of the previous page",
    },
    "unsupported": {"zh-CN": "不支持查询选项 {option}", "en": "the option {option} is not served"},
    "unknown": {"zh-CN": "未知的查询选项 {option}", "en": "unknown system query option {option}"},
    "repeated": {"zh-CN": "查询选项 {option} 重复", "en": "the option {option} is given twice"},
    "changed_since": {
        "zh-CN": "changed_since 须为带时区的时间，如 2026-11-01T00:00:00Z",
        "en": "changed_since must be a date-time with an offset, like 2026-11-01T00:00:00Z",
    },
    "no_set": {
        "zh-CN": "没有实体集 “{name}”；可用：{allowed}",
        "en": "no entity set '{name}'; the feed serves {allowed}",
    },
}


def translator(header: str | None, default: str) -> Callable[..., str]:
    """A function from a message code and its parameters to the text, in the locale of
    the request (``Accept-Language``) or else ``default`` (the tenant's)."""
    locale = locale_of(accept_language(header), default)

    def t(code: str, **params: object) -> str:
        return CATALOG[code][locale].format(**params)

    return t
