"""The words of bot messages, in the message's locale, and their layout per vendor.

Everything a person reads in a chat message is made here from the message catalogs
(domain ``delivery``, ``shared/i18n/locales/*/LC_MESSAGES/delivery.po``): a message is
first composed as neutral :class:`Message` parts (a title, items with a head and details,
the dashboard link, whom to mention), then laid out per vendor (:func:`layout`): WeCom
markdown with its three colours, DingTalk markdown, Slack mrkdwn, Feishu card markdown
(``lark_md``). The vendor's JSON around the text is made in :mod:`.formats`.

Alert titles come from the alert's ``title_code``/``title_params`` rendered in the
message's locale when the snapshot has them (else its ``title``); scopes are shown by
name (the snapshot's ``scope_name``, else the names the group message carries), never by
id when a name is known.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode

from paceline.shared.i18n import from_json, msg, render

SEVERITY_MARK: Final = {"critical": "🔴", "warning": "🟠", "info": "🔵"}
RESOLVED_MARK: Final = "🟢"
SEVERITY_RANK: Final = {"info": 0, "warning": 1, "critical": 2}
# WeCom markdown knows exactly three colours: info (green), comment (grey), warning
# (orange-red). Critical and warning alerts are orange-red, info grey, a resolved one green.
WECOM_COLOUR: Final = {"critical": "warning", "warning": "warning", "info": "comment"}
# Feishu card header templates (colours of the title bar).
FEISHU_TEMPLATE: Final = {
    "critical": "red",
    "warning": "orange",
    "info": "blue",
    "resolved": "green",
}

FEISHU_FONT: Final = {"critical": "red", "warning": "red", "info": "grey"}

# Bytes of body text a vendor accepts in one message (a margin below the documented size):
# WeCom markdown content 4,096 bytes; DingTalk markdown 20,000; Feishu the whole request
# 20 KB (the card's JSON around the text included); Slack a section's text 3,000 chars.
MAX_BYTES: Final = {"wecom": 3800, "dingtalk": 18_000, "feishu": 16_000, "slack": 2900}

KINDS: Final = ("lag", "anomaly", "data_quality", "system")
ACTIONS: Final = ("opened", "reopened", "escalated", "deescalated", "acknowledged", "resolved")


def t(code: str, locale: str, **params: Any) -> str:
    """The text of a ``delivery.*`` code in a locale."""
    return render(msg(f"delivery.{code}", **params), locale)


def _word(prefix: str, value: str, locale: str, known: tuple[str, ...]) -> str:
    return t(f"{prefix}.{value}", locale) if value in known else value


def severity_word(severity: str, locale: str) -> str:
    """A severity as a person reads it."""
    return _word("severity", severity, locale, tuple(SEVERITY_MARK))


def alert_title(alert: Mapping[str, Any], locale: str) -> str:
    """The alert's title in ``locale``: from its title code when it has one."""
    code = alert.get("title_code")
    if code:
        try:
            message = from_json({"code": code, "params": alert.get("title_params") or {}})
            text = render(message, locale)
        except (KeyError, ValueError, TypeError, IndexError):
            text = ""
        if text and text != code:
            return text
    return str(alert.get("title") or "")


def scope_name(
    scope: str | None, locale: str, names: Mapping[str, str], given: str | None = None
) -> str:
    """A scope by name: the snapshot's ``scope_name``, the message's names, else the id."""
    if given:
        return given
    if not scope or scope == "company":
        return t("scope.company", locale)
    return names.get(scope) or scope


def dashboard_link(
    base: str | None, *, tenant: str, alert: Mapping[str, Any] | None = None, kind: str = ""
) -> str | None:
    """The dashboard view of an alert (rep or team/company, its KPI and period), or the
    alert list (of a kind) when ``alert`` is None; None without a dashboard address."""
    if not base:
        return None
    query = "?" + urlencode({"tenant": tenant}) if tenant else ""
    root = base if base.endswith("/") else base + "/"
    if alert is None:
        view = "alerts"
        params = {"status": "open", **({"kind": kind} if kind else {})}
    else:
        detail = alert.get("detail") or {}
        scope = str(alert.get("scope") or "company")
        params = {
            k: str(detail[k]) for k in ("kpi", "period") if isinstance(detail.get(k), str | int)
        }
        if scope.startswith("rep:"):
            view, params = "rep", {"rep": scope[4:], **params}
        else:
            view, params = "overview", {"scope": scope, **params}
    return f"{root}{query}#/{view}?{urlencode(params)}"


@dataclass(slots=True)
class Item:
    """One alert in a message."""

    title: str
    severity: str
    action: str = ""  # the action word in the locale ("" for a digest line)
    resolved: bool = False
    changes: int = 1
    details: list[str] = field(default_factory=list)
    short: str = ""  # the alert's scope by name, for the compact tail
    link: str | None = None


@dataclass(slots=True)
class Message:
    """A message before layout."""

    title: str
    items: list[Item]
    severity: str = "info"  # the highest of its open alerts; "resolved" if all resolved
    link: str | None = None  # the button: the dashboard view
    mention: dict[str, list[str]] = field(default_factory=dict)  # mobiles, user_ids


def _group_name(labels: Mapping[str, str], locale: str, names: Mapping[str, str]) -> str:
    if not labels:
        return t("group.all", locale)
    parts = []
    for label, value in labels.items():
        if label == "team":
            shown = names.get(f"team:{value}") or value
        elif label == "scope":
            shown = scope_name(value, locale, names)
        elif label == "kind":
            shown = _word("kind", value, locale, KINDS)
        elif label == "severity":
            shown = severity_word(value, locale)
        elif label == "action":
            shown = _word("action", value, locale, ACTIONS)
        else:
            shown = value
        parts.append(shown)
    return " · ".join(parts)


def _item(
    entry: Mapping[str, Any],
    locale: str,
    names: Mapping[str, str],
    *,
    base: str | None,
    tenant: str,
) -> Item:
    alert = entry.get("alert", {})
    action = str(entry.get("event", {}).get("action", ""))
    severity = str(alert.get("severity", "info"))
    scope = scope_name(alert.get("scope"), locale, names, alert.get("scope_name"))
    details = [
        t(
            "item.detail",
            locale,
            kind=_word("kind", str(alert.get("kind")), locale, KINDS),
            severity=severity_word(severity, locale),
            scope=scope,
        )
    ]
    covers = entry.get("covers") or []
    if covers:
        covered = [scope_name(c.get("scope"), locale, names, c.get("scope_name")) for c in covers]
        details.append(t("item.covers", locale, count=len(covers), names=covered))
    return Item(
        title=alert_title(alert, locale),
        severity=severity,
        action=_word("action", action, locale, ACTIONS),
        resolved=action == "resolved" or alert.get("status") == "resolved",
        changes=int(entry.get("changes", 1)),
        details=details,
        short=scope,
        link=dashboard_link(base, tenant=tenant, alert=alert),
    )


def _message_severity(items: list[Item]) -> str:
    open_items = [i for i in items if not i.resolved]
    if items and not open_items:
        return "resolved"
    return max(
        (i.severity for i in open_items), key=lambda s: SEVERITY_RANK.get(s, 0), default="info"
    )


def compose(payload: Mapping[str, Any], *, dashboard_url: str | None = None) -> Message:
    """The parts of a message for a payload (a group of alerts, one alert, a digest or a
    ping), in the payload's locale; links to the dashboard at ``dashboard_url``."""
    data = payload.get("data", {})
    tenant = str(payload.get("tenant") or "")
    if "group" in data:
        g = data["group"]
        locale = str(g.get("locale") or "zh-CN")
        names = dict(g.get("names") or {})
        entries = list(g.get("alerts", []))
        items = [_item(e, locale, names, base=dashboard_url, tenant=tenant) for e in entries]
        labels = dict(g.get("labels") or {})
        what = _group_name(labels, locale, names)
        if len(items) == 1 and not entries[0].get("covers"):
            title = t("group.title_one", locale, what=what, title=items[0].title)
        else:
            title = t("group.title", locale, what=what, count=int(g.get("count", len(items))))
        if len(items) == 1:
            link = items[0].link
        else:
            link = dashboard_link(
                dashboard_url, tenant=tenant, kind=str(labels.get("kind", "")).strip("-")
            )
        mention = {k: list(v) for k, v in dict(g.get("mention") or {}).items() if v}
        return Message(
            title=title,
            items=items,
            severity=_message_severity(items),
            link=link,
            mention=mention,
        )
    if "alert" in data:
        locale = str(data.get("locale") or "zh-CN")
        item = _item(
            {"alert": data["alert"], "event": data.get("event", {})},
            locale,
            {},
            base=dashboard_url,
            tenant=tenant,
        )
        return Message(
            title=item.title, items=[item], severity=_message_severity([item]), link=item.link
        )
    locale = str(data.get("locale") or "zh-CN")
    if payload.get("type") == "ping":
        return Message(
            title=t("ping.title", locale),
            items=[Item(title="", severity="info", details=[t("ping.body", locale)])],
        )
    d = data.get("digest", {})
    title = alert_title(d, locale) or t("digest.title", locale)
    summary = [
        render(from_json(x), locale) if isinstance(x, dict) and "code" in x else str(x)
        for x in d.get("summary", [])
    ]
    return Message(
        title=f"📋 {title}",
        items=[Item(title="", severity="info", details=summary)],
        link=dashboard_link(dashboard_url, tenant=tenant),
    )


def head(item: Item, fmt: str, locale: str) -> str:
    """An alert's first line in a vendor's markup (colour where the vendor has it)."""
    if not item.title and not item.action:
        return ""
    mark = RESOLVED_MARK if item.resolved else SEVERITY_MARK.get(item.severity, "")
    action = item.action
    if fmt == "wecom" and action:
        colour = "info" if item.resolved else WECOM_COLOUR.get(item.severity, "comment")
        action = f'<font color="{colour}">{action}</font>'
    elif fmt == "feishu" and action:
        # Card markdown (lark_md) colours: green, red and grey.
        colour = "green" if item.resolved else FEISHU_FONT.get(item.severity, "grey")
        action = f"<font color='{colour}'>{action}</font>"
    line = t("item.head", locale, mark=mark, action=action, title=item.title)
    if item.changes > 1:
        line += t("item.changes", locale, count=item.changes)
    return line.strip()


def _link(text: str, url: str, fmt: str) -> str:
    if fmt == "slack":
        return f"<{url}|{text}>"
    return f"[{text}]({url})"


def layout(
    message: Message, fmt: str, locale: str = "zh-CN", *, reserve: int = 0
) -> tuple[str, str]:
    """(title, body) in the vendor's markup, within its size less ``reserve`` bytes;
    every alert at least named."""
    limit = MAX_BYTES.get(fmt, 16_000) - reserve

    def strong(text: str) -> str:
        if not text:
            return text
        return f"*{text}*" if fmt == "slack" else f"**{text}**"

    def quote(text: str) -> str:
        return f"> {text}" if fmt in ("wecom", "dingtalk", "slack") else text

    def tail(names: list[str]) -> str:
        return t("tail.more", locale, count=len(names), names=names)

    lines: list[str] = []
    size = 0
    shown = 0
    for n, item in enumerate(message.items):
        first = strong(head(item, fmt, locale))
        if first and item.link and len(message.items) > 1:
            first += " " + _link(t("link.item", locale), item.link, fmt)
        block = ([first] if first else []) + [quote(d) for d in item.details]
        if fmt == "dingtalk":
            block.append("")  # DingTalk markdown needs blank lines between paragraphs
        grown = size + len("\n".join(block).encode()) + 1
        # Full lines while the rest can still be named after them.
        rest_names = [i.short for i in message.items[n + 1 :]]
        if grown + (len(tail(rest_names).encode()) + 1 if rest_names else 0) > limit:
            break
        lines += block
        size = grown
        shown += 1
    rest = message.items[shown:]
    if rest:
        names: list[str] = []
        for item in rest:
            candidate = [*names, item.short]
            if size + len(tail(candidate).encode()) > limit:
                break
            names = candidate
        if names:
            lines.append(tail(names))
        if len(names) < len(rest):
            lines.append(t("tail.cut", locale, count=len(rest) - len(names)))
    return message.title, "\n".join(lines)


def mention_line(message: Message, fmt: str, locale: str) -> str:
    """The @-mention line in the vendor's syntax ("" when nobody or not supported)."""
    mobiles = message.mention.get("mobiles", [])
    ids = message.mention.get("user_ids", [])
    if fmt == "dingtalk":
        tags = [f"@{m}" for m in mobiles] + [f"@{u}" for u in ids]
    elif fmt == "wecom":
        tags = [f"<@{u}>" for u in ids]
    elif fmt == "feishu":
        tags = [f"<at id={u}></at>" for u in ids]
    elif fmt == "slack":
        tags = [f"<@{u}>" for u in ids]
    else:
        tags = []
    if not tags:
        return ""
    return t("mention.line", locale, who=" ".join(tags))
