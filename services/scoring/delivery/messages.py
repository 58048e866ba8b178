"""The words of bot messages, per locale, and their layout per vendor.

Everything a person reads in a chat message is made here, so that the message catalogs
(issue 15, item 1) can replace :data:`TEXT` without touching the dispatcher. A message
is first composed as neutral :class:`Message` parts (a title, items with a head and
details), then laid out per vendor: WeCom and DingTalk markdown, Slack mrkdwn, Feishu
plain text (a ``text`` message shows markdown literally, so it gets none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITY_MARK = {"critical": "🔴", "warning": "🟠", "info": "🔵"}

# code -> locale -> text (str.format parameters). zh-CN and en complete.
TEXT: dict[str, dict[str, str]] = {
    "group.title": {"zh-CN": "{what}：{count} 条告警变化", "en": "{what}: {count} alert changes"},
    "group.title.one": {"zh-CN": "{what}：{title}", "en": "{what}: {title}"},
    "group.all": {"zh-CN": "全部告警", "en": "All alerts"},
    "label.team": {"zh-CN": "团队 {value}", "en": "team {value}"},
    "label.kind": {"zh-CN": "{value}", "en": "{value}"},
    "label.type": {"zh-CN": "{value}", "en": "{value}"},
    "label.severity": {"zh-CN": "{value}", "en": "{value}"},
    "label.scope": {"zh-CN": "{value}", "en": "{value}"},
    "label.action": {"zh-CN": "{value}", "en": "{value}"},
    "kind.lag": {"zh-CN": "进度落后", "en": "lag"},
    "kind.anomaly": {"zh-CN": "异常", "en": "anomaly"},
    "kind.data_quality": {"zh-CN": "数据质量", "en": "data quality"},
    "kind.system": {"zh-CN": "系统", "en": "system"},
    "severity.critical": {"zh-CN": "严重", "en": "critical"},
    "severity.warning": {"zh-CN": "警告", "en": "warning"},
    "severity.info": {"zh-CN": "提示", "en": "info"},
    "action.opened": {"zh-CN": "新增", "en": "opened"},
    "action.reopened": {"zh-CN": "再次出现", "en": "reopened"},
    "action.escalated": {"zh-CN": "升级", "en": "escalated"},
    "action.deescalated": {"zh-CN": "降级", "en": "de-escalated"},
    "action.acknowledged": {"zh-CN": "已确认", "en": "acknowledged"},
    "action.resolved": {"zh-CN": "已恢复", "en": "resolved"},
    "item.changes": {"zh-CN": "（{count} 次变化）", "en": " ({count} changes)"},
    "item.covers": {
        "zh-CN": "同时覆盖 {count} 条：{names}",
        "en": "also covers {count}: {names}",
    },
    "tail.more": {"zh-CN": "另有 {count} 条：{names}", "en": "{count} more: {names}"},
    "tail.cut": {
        "zh-CN": "……以及另外 {count} 条（见告警列表）",
        "en": "…and {count} more (see the alert list)",
    },
}

# Bytes the vendor accepts in one message body text (a margin below the documented size).
MAX_BYTES = {"wecom": 3800, "dingtalk": 18_000, "feishu": 30_000, "slack": 2900}


def t(code: str, locale: str, **params: Any) -> str:
    """The text of a code in a locale (en when the locale has none)."""
    entry = TEXT[code]
    text = entry.get(locale) or entry["en"]
    return text.format(**params)


def _word(prefix: str, value: str, locale: str) -> str:
    code = f"{prefix}.{value}"
    return t(code, locale) if code in TEXT else value


@dataclass(slots=True)
class Item:
    """One alert in a message: a head line and its details."""

    head: str
    severity: str
    details: list[str] = field(default_factory=list)
    short: str = ""  # the alert's scope, for the compact tail


@dataclass(slots=True)
class Message:
    """A message before layout."""

    title: str
    items: list[Item]


def _group_name(labels: dict[str, str], locale: str) -> str:
    if not labels:
        return t("group.all", locale)
    parts = []
    for label, value in labels.items():
        shown = _word(label, value, locale) if label in ("kind", "severity", "action") else value
        parts.append(t(f"label.{label}", locale, value=shown))
    return " · ".join(parts)


def _item(entry: dict[str, Any], locale: str) -> Item:
    alert = entry.get("alert", {})
    action = str(entry.get("event", {}).get("action", ""))
    severity = str(alert.get("severity", "info"))
    head = f"{SEVERITY_MARK.get(severity, '')} [{_word('action', action, locale)}] " + str(
        alert.get("title", "")
    )
    if int(entry.get("changes", 1)) > 1:
        head += t("item.changes", locale, count=entry["changes"])
    details = [
        f"{_word('kind', str(alert.get('kind')), locale)}/{alert.get('type')} · "
        f"{_word('severity', severity, locale)} · {alert.get('scope')}"
    ]
    covers = entry.get("covers") or []
    if covers:
        names = ", ".join(str(c.get("scope")) for c in covers)
        details.append(t("item.covers", locale, count=len(covers), names=names))
    return Item(
        head=head.strip(), severity=severity, details=details, short=str(alert.get("scope"))
    )


def compose(payload: dict[str, Any]) -> Message:
    """The parts of a message for a payload (a group of alerts, one alert, or a digest)."""
    data = payload.get("data", {})
    if "group" in data:
        g = data["group"]
        locale = str(g.get("locale") or "zh-CN")
        items = [_item(e, locale) for e in g.get("alerts", [])]
        what = _group_name(dict(g.get("labels") or {}), locale)
        if len(items) == 1 and not g.get("alerts", [{}])[0].get("covers"):
            title = t("group.title.one", locale, what=what, title=g["alerts"][0]["alert"]["title"])
        else:
            title = t("group.title", locale, what=what, count=int(g.get("count", len(items))))
        return Message(title=title, items=items)
    if "alert" in data:
        locale = str(data.get("locale") or "en")
        item = _item({"alert": data["alert"], "event": data.get("event", {})}, locale)
        detail = data["alert"].get("detail") or {}
        item.details += [f"{k}: {detail[k]}" for k in list(detail)[:8] if k != "events"]
        return Message(
            title=item.head, items=[Item(head="", severity=item.severity, details=item.details)]
        )
    d = data.get("digest", {})
    title = f"📋 {d.get('title', payload.get('type', 'digest'))}"
    return Message(
        title=title,
        items=[Item(head="", severity="info", details=[str(x) for x in d.get("summary", [])])],
    )


def layout(message: Message, fmt: str, locale: str = "zh-CN") -> tuple[str, str]:
    """(title, body) in the vendor's markup, within its size; every alert at least named."""
    limit = MAX_BYTES.get(fmt, 30_000)

    def strong(text: str) -> str:
        if not text:
            return text
        if fmt in ("wecom", "dingtalk"):
            return f"**{text}**"
        if fmt == "slack":
            return f"*{text}*"
        return text  # feishu text: no markup

    def quote(text: str) -> str:
        return f"> {text}" if fmt in ("wecom", "dingtalk", "slack") else f"  {text}"

    def tail_size(items: list[Item]) -> int:
        names = ", ".join(i.short for i in items)
        return len(t("tail.more", locale, count=len(items), names=names).encode()) + 1

    lines: list[str] = []
    size = 0
    shown = 0
    for n, item in enumerate(message.items):
        block = ([strong(item.head)] if item.head else []) + [quote(d) for d in item.details]
        if fmt == "dingtalk":
            block.append("")  # DingTalk markdown needs blank lines between paragraphs
        grown = size + len("\n".join(block).encode()) + 1
        # Full lines while the rest can still be named after them.
        if grown + tail_size(message.items[n + 1 :]) > limit:
            break
        lines += block
        size = grown
        shown += 1
    rest = message.items[shown:]
    if rest:
        names: list[str] = []
        for item in rest:
            candidate = [*names, item.short]
            tail = t("tail.more", locale, count=len(candidate), names=", ".join(candidate))
            if size + len(tail.encode()) > limit:
                break
            names = candidate
        if names:
            lines.append(t("tail.more", locale, count=len(names), names=", ".join(names)))
        if len(names) < len(rest):
            lines.append(t("tail.cut", locale, count=len(rest) - len(names)))
    return message.title, "\n".join(lines)
