"""Payload formats: the standard signed JSON, and the group-bot formats.

* ``standard``: the Paceline JSON body, signed per Standard Webhooks (headers
  ``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256 of
  "id.timestamp.body">``) with the ``standardwebhooks`` library and the subscription's
  ``whsec_`` secret.
* ``slack``: an incoming webhook, ``{"text": ..., "blocks": [header, section (mrkdwn),
  context (the @-mention, ``<@U123>``), actions (a button to the dashboard view)]}``.
* ``wecom`` (企业微信 group bot): ``{"msgtype": "markdown", "markdown": {"content": ...}}``
  with ``<font color="warning|info|comment">`` per severity, a link to the dashboard view
  and ``<@userid>`` mentions; the bot's key is in the URL; a 200 with ``errcode != 0`` is
  a failure.
* ``dingtalk`` (钉钉 custom robot): ``{"msgtype": "actionCard", "actionCard": {"title",
  "text", "singleTitle", "singleURL"}}`` (the button opens the dashboard view); a message
  that @-mentions someone is ``{"msgtype": "markdown", ..., "at": {"atMobiles",
  "atUserIds"}}`` with ``@mobile`` in the text (DingTalk mentions only in text and
  markdown); with a secret (``SEC...``) the URL is signed: ``timestamp`` (ms) and
  ``sign = urlencode(base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}")))``;
  ``errcode != 0`` is a failure.
* ``feishu`` (飞书/Lark custom bot): ``{"msg_type": "interactive", "card": {"header":
  {"title", "template": colour}, "elements": [div (lark_md), div (``<at id=open_id>``),
  action (a button with the URL)]}}``; with a secret also ``timestamp`` (s) and ``sign =
  base64(HMAC-SHA256(key = "{timestamp}\\n{secret}", message = ""))`` in the body;
  ``code != 0`` is a failure.

The words and their layout come from :mod:`.messages`. A bot that answers "too fast"
(HTTP 429, WeCom 45009, DingTalk 130101, Feishu 11232) is retried after the time the
vendor blocks it (:func:`throttled_for`).

Bot formats carry every standard header too (``webhook-id`` for de-duplication), and
the standard format's signature when the subscription has a ``whsec_`` secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
from standardwebhooks.webhooks import Webhook

from paceline.scoring.delivery.messages import (
    FEISHU_TEMPLATE,
    compose,
    layout,
    mention_line,
    t,
)
from paceline.shared.delivery_options import VENDOR_LIMITS, DeliveryOptions, defaults_for


@dataclass(frozen=True, slots=True)
class Request:
    """An outbound HTTP request, ready to send."""

    url: str
    headers: dict[str, str]
    body: bytes


def _standard_headers(
    message_id: str, body: bytes, secrets: Sequence[str | None], at: datetime
) -> dict[str, str]:
    headers = {
        "content-type": "application/json",
        "user-agent": "Paceline-Webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
    }
    # One signature per secret in use (the new one first; during a rotation's overlap the
    # old one too), space-separated as Standard Webhooks specifies.
    signatures = [
        Webhook(secret).sign(message_id, at, body.decode())
        for secret in secrets
        if secret and secret.startswith("whsec_")
    ]
    if signatures:
        headers["webhook-signature"] = " ".join(signatures)
    return headers


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature of a timestamp (to be URL-encoded into ``sign``)."""
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's signature of a timestamp (the key is "timestamp\\nsecret", the message empty)."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in extra]
    query += list(extra.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _bot_body(fmt: str, payload: dict[str, Any], options: DeliveryOptions) -> dict[str, Any]:
    """The vendor's JSON for a payload: its native rich format, the dashboard button and
    the @-mention where the vendor has them (docs/ALERTS.md, "Messages people act on")."""
    message = compose(payload, dashboard_url=options.dashboard_url)
    locale = str(
        payload.get("data", {}).get("group", {}).get("locale")
        or payload.get("data", {}).get("locale")
        or "zh-CN"
    )
    mention = mention_line(message, fmt, locale)
    view = t("link.view", locale)
    link_line = f"[{view}]({message.link})" if message.link else ""
    if fmt == "slack":
        title, body = layout(message, fmt, locale)
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": True}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body[:3000] or "-"}},
        ]
        if mention:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": mention}]})
        if message.link:
            button = {"type": "plain_text", "text": view[:75], "emoji": True}
            blocks.append(
                {
                    "type": "actions",
                    "elements": [
                        {"type": "button", "text": button, "url": message.link, "style": "primary"}
                    ],
                }
            )
        text = "\n".join(x for x in (title, mention) if x)
        return {"text": text, "blocks": blocks}
    # The title, link and mention share the vendor's size with the body.
    reserve = len(f"{message.title}\n{link_line}\n{mention}\n".encode()) + 16
    if fmt == "wecom":
        title, body = layout(message, fmt, locale, reserve=reserve)
        md = "\n".join(x for x in (f"**{title}**", body, link_line, mention) if x)
        return {"msgtype": "markdown", "markdown": {"content": md}}
    if fmt == "dingtalk":
        title, body = layout(message, fmt, locale, reserve=reserve)
        md = "\n\n".join(x for x in (f"#### {title}", body.rstrip("\n"), mention) if x)
        who = message.mention
        if mention:
            # @-mentions need the markdown type (an actionCard carries no "at"): the link
            # goes in the text, and the text names each one mentioned (@mobile).
            at = {
                "atMobiles": list(who.get("mobiles", [])),
                "atUserIds": list(who.get("user_ids", [])),
                "isAtAll": False,
            }
            text = f"{md}\n\n{link_line}" if link_line else md
            return {
                "msgtype": "markdown",
                "markdown": {"title": title[:100], "text": text},
                "at": at,
            }
        if message.link:
            card = {
                "title": title[:100],
                "text": md,
                "btnOrientation": "0",
                "singleTitle": view,
                "singleURL": message.link,
            }
            return {"msgtype": "actionCard", "actionCard": card}
        return {"msgtype": "markdown", "markdown": {"title": title[:100], "text": md}}
    if fmt == "feishu":
        # The card's JSON around the text counts in the 20 KB a request may carry.
        title, body = layout(message, fmt, locale, reserve=reserve + 1500)
        elements: list[dict[str, Any]] = [
            {"tag": "div", "text": {"tag": "lark_md", "content": body or "-"}}
        ]
        if mention:
            elements.append({"tag": "div", "text": {"tag": "lark_md", "content": mention}})
        if message.link:
            elements.append(
                {
                    "tag": "action",
                    "actions": [
                        {
                            "tag": "button",
                            "text": {"tag": "plain_text", "content": view},
                            "type": "primary",
                            "url": message.link,
                        }
                    ],
                }
            )
        lark_card: dict[str, Any] = {
            "config": {"wide_screen_mode": True},
            "header": {
                "title": {"tag": "plain_text", "content": title},
                "template": FEISHU_TEMPLATE.get(message.severity, "blue"),
            },
            "elements": elements,
        }
        return {"msg_type": "interactive", "card": lark_card}
    raise ValueError(f"unknown format {fmt!r}")


def render(
    *,
    fmt: str,
    url: str,
    secret: str | None,
    message_id: str,
    payload: dict[str, Any],
    at: datetime,
    previous_secret: str | None = None,
    options: DeliveryOptions | None = None,
) -> Request:
    """The HTTP request that delivers ``payload`` to a subscriber in its format
    (``previous_secret``: a rotated-away standard secret still in its overlap window;
    ``options``: the subscription's, for the dashboard link)."""
    if fmt == "standard":
        body = orjson.dumps(payload)
        secrets = [secret, previous_secret]
        return Request(url, _standard_headers(message_id, body, secrets, at), body)
    body_obj = _bot_body(fmt, payload, options or defaults_for(fmt))
    extra_q: dict[str, str] = {}
    if fmt == "dingtalk" and secret:
        ts = int(at.timestamp() * 1000)
        extra_q = {"timestamp": str(ts), "sign": dingtalk_sign(secret, ts)}
    elif fmt == "feishu" and secret:
        ts = int(at.timestamp())
        body_obj = {"timestamp": str(ts), "sign": feishu_sign(secret, ts), **body_obj}
    body = orjson.dumps(body_obj)
    headers = _standard_headers(message_id, body, [secret], at)
    return Request(_with_query(url, extra_q) if extra_q else url, headers, body)


def accepted(fmt: str, status: int, text: str) -> tuple[bool, str | None]:
    """Whether a response means delivered (bots answer 200 with an error code inside)."""
    if not 200 <= status < 300:
        return False, f"HTTP {status}"
    if fmt in ("wecom", "dingtalk", "feishu"):
        try:
            data = orjson.loads(text) if text else {}
        except orjson.JSONDecodeError:
            return True, None
        if isinstance(data, dict):
            code = data.get("errcode", data.get("code", data.get("StatusCode", 0)))
            if code not in (0, None):
                return False, f"{fmt} error {code}: {data.get('errmsg') or data.get('msg')}"
    return True, None


def throttled_for(fmt: str, status: int, text: str) -> float | None:
    """Seconds a vendor blocks the bot when it answered "too fast" (None: not throttled)."""
    vendor = VENDOR_LIMITS.get(fmt)
    if vendor is None:
        return None
    if status == 429:
        return vendor.blocked_s
    try:
        data = orjson.loads(text) if text else {}
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, dict):
        code = data.get("errcode", data.get("code"))
        if code in vendor.throttle_codes:
            return vendor.blocked_s
    return None
