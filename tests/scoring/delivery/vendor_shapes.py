"""What each vendor documents for a bot message, checked on a received body.

Sources (docs/ALERTS.md, "Messages people act on"): WeCom group bot markdown (content at
most 4,096 bytes; colours info, comment, warning; ``<@userid>``), DingTalk custom robot
(markdown with ``at``; actionCard with title, text, singleTitle + singleURL or btns),
Feishu custom bot (interactive card: header title + template, elements div/lark_md,
action buttons with a url; request at most 20 KB; ``<at id=open_id>``), Slack incoming
webhook (at most 50 blocks; header text 150, section text 3,000, button text 75).
"""

from __future__ import annotations

import json
import re
from typing import Any

WECOM_COLOURS = {"info", "comment", "warning"}
FEISHU_TEMPLATES = {
    "blue",
    "wathet",
    "turquoise",
    "green",
    "yellow",
    "orange",
    "red",
    "carmine",
    "violet",
    "purple",
    "indigo",
    "grey",
    "default",
}


def check(vendor: str, body: dict[str, Any]) -> list[str]:
    """Problems of a body against the vendor's documented shape ([] when it conforms)."""
    problems: list[str] = []

    def need(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    if vendor == "wecom":
        need(body.get("msgtype") == "markdown", "wecom: msgtype markdown")
        content = body.get("markdown", {}).get("content", "")
        need(isinstance(content, str) and content != "", "wecom: markdown.content")
        need(len(content.encode()) <= 4096, "wecom: content over 4096 bytes")
        colours = set(re.findall(r'<font color="([^"]+)">', content))
        need(colours <= WECOM_COLOURS, f"wecom: colours {colours - WECOM_COLOURS}")
    elif vendor == "dingtalk":
        kind = body.get("msgtype")
        need(kind in ("markdown", "actionCard"), "dingtalk: msgtype")
        if kind == "markdown":
            md = body.get("markdown", {})
            need(bool(md.get("title")) and bool(md.get("text")), "dingtalk: markdown title/text")
            at = body.get("at")
            if at is not None:
                need(set(at) <= {"atMobiles", "atUserIds", "isAtAll"}, "dingtalk: at fields")
                for mobile in at.get("atMobiles", []):
                    need(f"@{mobile}" in md.get("text", ""), "dingtalk: @mobile not in text")
        elif kind == "actionCard":
            card = body.get("actionCard", {})
            need(bool(card.get("title")) and bool(card.get("text")), "dingtalk: card title/text")
            single = "singleTitle" in card and "singleURL" in card
            btns = isinstance(card.get("btns"), list) and all(
                {"title", "actionURL"} <= set(b) for b in card["btns"]
            )
            need(single or btns, "dingtalk: singleTitle+singleURL or btns")
            need("at" not in body, "dingtalk: actionCard takes no at")
        need(len(json.dumps(body, ensure_ascii=False).encode()) <= 20_000, "dingtalk: size")
    elif vendor == "feishu":
        need(body.get("msg_type") == "interactive", "feishu: msg_type interactive")
        card = body.get("card", {})
        header = card.get("header", {})
        need(header.get("title", {}).get("tag") == "plain_text", "feishu: header title")
        need(bool(header.get("title", {}).get("content")), "feishu: header content")
        need(header.get("template") in FEISHU_TEMPLATES, "feishu: header template")
        elements = card.get("elements", [])
        need(bool(elements), "feishu: elements")
        for e in elements:
            if e.get("tag") == "div":
                need(e.get("text", {}).get("tag") in ("lark_md", "plain_text"), "feishu: div")
            elif e.get("tag") == "action":
                for a in e.get("actions", []):
                    need(a.get("tag") == "button" and "url" in a, "feishu: button url")
            else:
                need(e.get("tag") in ("hr", "note", "markdown"), f"feishu: tag {e.get('tag')}")
        need(len(json.dumps(body, ensure_ascii=False).encode()) <= 20_000, "feishu: over 20 KB")
    elif vendor == "slack":
        blocks = body.get("blocks", [])
        need(isinstance(body.get("text"), str), "slack: text fallback")
        need(0 < len(blocks) <= 50, "slack: 1-50 blocks")
        for b in blocks:
            kind = b.get("type")
            if kind == "header":
                text = b["text"]
                need(text["type"] == "plain_text" and len(text["text"]) <= 150, "slack: header")
            elif kind == "section":
                text = b["text"]
                need(text["type"] == "mrkdwn" and 0 < len(text["text"]) <= 3000, "slack: section")
            elif kind == "context":
                need(0 < len(b["elements"]) <= 10, "slack: context")
            elif kind == "actions":
                for el in b["elements"]:
                    need(el["type"] == "button" and len(el["text"]["text"]) <= 75, "slack: button")
                    need(len(el.get("url", "")) <= 3000, "slack: button url")
            else:
                problems.append(f"slack: block {kind}")
    return problems


def text_of(vendor: str, body: dict[str, Any]) -> str:
    """Everything a person reads in a body, joined."""
    if vendor == "wecom":
        return str(body["markdown"]["content"])
    if vendor == "dingtalk":
        part = body.get("markdown") or body.get("actionCard") or {}
        return "\n".join(str(part.get(k, "")) for k in ("title", "text", "singleTitle"))
    if vendor == "feishu":
        card = body["card"]
        out = [card["header"]["title"]["content"]]
        for e in card["elements"]:
            if e.get("tag") == "div":
                out.append(e["text"]["content"])
            for a in e.get("actions", []):
                out.append(a["text"]["content"])
        return "\n".join(out)
    out = [str(body.get("text", ""))]
    for b in body.get("blocks", []):
        if "text" in b:
            out.append(str(b["text"]["text"]))
        for el in b.get("elements", []):
            out.append(str(el["text"]["text"] if isinstance(el.get("text"), dict) else el["text"]))
    return "\n".join(out)


def button_url(vendor: str, body: dict[str, Any]) -> str | None:
    """The dashboard button's URL (a markdown link for a DingTalk message that mentions)."""
    if vendor == "dingtalk":
        if body.get("msgtype") == "actionCard":
            return body["actionCard"].get("singleURL")
        found = re.findall(r"\]\((http[^)]+)\)\s*$", body["markdown"]["text"])
        return found[-1] if found else None
    if vendor == "feishu":
        for e in body["card"]["elements"]:
            for a in e.get("actions", []):
                return str(a["url"])
        return None
    if vendor == "slack":
        for b in body["blocks"]:
            if b["type"] == "actions":
                return str(b["elements"][0]["url"])
        return None
    for line in reversed(body["markdown"]["content"].split("\n")):
        m = re.fullmatch(r"\[[^\]]+\]\((http[^)]+)\)", line)
        if m:
            return m.group(1)
    return None
