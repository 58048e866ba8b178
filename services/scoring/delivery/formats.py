"""Payload formats: the standard signed JSON, and the group-bot formats.

* ``standard``: the Paceline JSON body, signed per Standard Webhooks (headers
  ``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256 of
  "id.timestamp.body">``) with the ``standardwebhooks`` library and the subscription's
  ``whsec_`` secret.
* ``slack``: an incoming webhook, ``{"text": ..., "blocks": [...]}`` (mrkdwn).
* ``wecom`` (企业微信 group bot): ``{"msgtype": "markdown", "markdown": {"content": ...}}``;
  the bot's key is in the URL; a 200 with ``errcode != 0`` is a failure.
* ``dingtalk`` (钉钉 custom robot): ``{"msgtype": "markdown", "markdown": {"title", "text"}}``;
  with a secret (``SEC...``) the URL is signed: ``timestamp`` (ms) and
  ``sign = urlencode(base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}")))``;
  ``errcode != 0`` is a failure.
* ``feishu`` (飞书/Lark custom bot): ``{"msg_type": "text", "content": {"text": ...}}``
  (plain text: a text message shows markdown literally),
  with a secret also ``timestamp`` (s) and ``sign = base64(HMAC-SHA256(key =
  "{timestamp}\\n{secret}", message = ""))`` in the body; ``code != 0`` is a failure.

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

from paceline.scoring.delivery.messages import compose, layout
from paceline.shared.delivery_options import VENDOR_LIMITS


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


def render(
    *,
    fmt: str,
    url: str,
    secret: str | None,
    message_id: str,
    payload: dict[str, Any],
    at: datetime,
    previous_secret: str | None = None,
) -> Request:
    """The HTTP request that delivers ``payload`` to a subscriber in its format
    (``previous_secret``: a rotated-away standard secret still in its overlap window)."""
    if fmt == "standard":
        body = orjson.dumps(payload)
        secrets = [secret, previous_secret]
        return Request(url, _standard_headers(message_id, body, secrets, at), body)
    locale = str(
        payload.get("data", {}).get("group", {}).get("locale")
        or payload.get("data", {}).get("locale")
        or "zh-CN"
    )
    message = compose(payload)
    title, body_text = layout(message, fmt, locale)
    extra_q: dict[str, str] = {}
    body_obj: dict[str, Any]
    if fmt == "slack":
        body_obj = {
            "text": f"{title}\n{body_text}",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": body_text[:2900] or "-"}},
            ],
        }
    elif fmt == "wecom":
        md = f"**{title}**\n{body_text}"
        body_obj = {"msgtype": "markdown", "markdown": {"content": md}}
    elif fmt == "dingtalk":
        md = f"#### {title}\n\n{body_text}"
        body_obj = {"msgtype": "markdown", "markdown": {"title": title[:100], "text": md}}
        if secret:
            ts = int(at.timestamp() * 1000)
            extra_q = {"timestamp": str(ts), "sign": dingtalk_sign(secret, ts)}
    elif fmt == "feishu":
        # A text message shows markdown literally: plain text only.
        body_obj = {"msg_type": "text", "content": {"text": f"{title}\n{body_text}"}}
        if secret:
            ts = int(at.timestamp())
            body_obj = {"timestamp": str(ts), "sign": feishu_sign(secret, ts), **body_obj}
    else:
        raise ValueError(f"unknown format {fmt!r}")
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
