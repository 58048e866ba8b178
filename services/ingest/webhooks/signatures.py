"""Signature and credential checks of the CRMs' webhook requests (pure functions).

Every check compares in constant time and raises :class:`SignatureError` with a reason
that names what was wrong (missing, stale, mismatch) and never the secret or the expected
value. Time comes from the caller's clock.

===================  =========================================================================
scheme               what is checked
===================  =========================================================================
HubSpot v3           ``X-HubSpot-Signature-v3`` = base64(HMAC-SHA256(client secret,
                     method + uri + body + timestamp)), ``X-HubSpot-Request-Timestamp`` (ms)
                     within 5 minutes; the URI with HubSpot's listed escapes decoded
HubSpot v2 / v1      ``X-HubSpot-Signature`` = hex(SHA-256(secret + method + uri + body)) /
                     hex(SHA-256(secret + body)), chosen by ``X-HubSpot-Signature-Version``;
                     they carry no timestamp, so replays are only made harmless by event ids
Standard Webhooks    ``webhook-id``, ``webhook-timestamp`` (s, within 5 minutes),
                     ``webhook-signature`` = ``v1,<base64 HMAC-SHA256(id.timestamp.body)>``
                     (several, space-separated); signing by the ``standardwebhooks`` library;
                     Svix's default names ``svix-id``/``svix-timestamp``/``svix-signature``
                     are the same scheme
HTTP Basic           ``Authorization: Basic base64(user:password)`` (Pipedrive)
简道云 (Jiandaoyun)   ``X-JDY-Signature`` = hex(SHA-1("{nonce}:{body}:{secret}:{timestamp}")),
                     ``nonce`` and ``timestamp`` (s, within 5 minutes) in the query string
Twenty CRM           ``X-Twenty-Webhook-Signature`` = hex(HMAC-SHA256(secret,
                     "{timestamp}:{body}")), ``X-Twenty-Webhook-Timestamp`` (ms, within 5 min)
static token         a shared token in a header, the query or the payload (Zoho's ``token``)
===================  =========================================================================
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

from standardwebhooks import Webhook

from paceline.shared.i18n import Msg, msg

WINDOW: Final = timedelta(minutes=5)
MINUTE: Final = timedelta(minutes=1)

# HubSpot v3: "decode the URL-encoded characters" it lists before signing the URI.
_HUBSPOT_DECODE: Final[dict[str, str]] = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


class SignatureError(Exception):
    """The request's credentials or signature do not check out."""

    def __init__(self, reason: Msg) -> None:
        super().__init__(str(reason))
        self.reason = reason


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _fresh(at: datetime, now: datetime, *, what: str, window: timedelta = WINDOW) -> None:
    if at < now - window:
        raise SignatureError(msg("webhooks.sig.stale", what=what, minutes=window // MINUTE))
    if at > now + window:
        raise SignatureError(msg("webhooks.sig.future", what=what, minutes=window // MINUTE))


def _epoch(text: str | None, *, per_second: int = 1) -> datetime | None:
    """A Unix time given as ASCII digits, or None if it is not one (or out of range)."""
    # "²".isdigit() holds and int() refuses it; years past 9999 make datetime raise.
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > 16:
        return None
    try:
        return datetime.fromtimestamp(int(text) / per_second, tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name.lower())
    return value.strip() if value is not None and value.strip() else None


# -- HubSpot -----------------------------------------------------------------------------


def hubspot_v3_uri(uri: str) -> str:
    """The URI as HubSpot signs it: the listed URL-encoded characters decoded."""
    out = uri
    for encoded, plain in _HUBSPOT_DECODE.items():
        out = out.replace(encoded, plain).replace(encoded.lower(), plain)
    return out


def hubspot_v3_signature(secret: str, *, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """base64(HMAC-SHA256(secret, method + uri + body + timestamp))."""
    source = method.upper().encode() + hubspot_v3_uri(uri).encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), source, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def hubspot_v2_signature(secret: str, *, method: str, uri: str, body: bytes) -> str:
    """hex(SHA-256(secret + method + uri + body))."""
    return hashlib.sha256(
        secret.encode() + method.upper().encode() + uri.encode() + body
    ).hexdigest()


def hubspot_v1_signature(secret: str, *, body: bytes) -> str:
    """hex(SHA-256(secret + body))."""
    return hashlib.sha256(secret.encode() + body).hexdigest()


def verify_hubspot(
    headers: Mapping[str, str],
    *,
    method: str,
    uri: str,
    body: bytes,
    secret: str,
    now: datetime,
    allow_legacy: bool = True,
) -> str:
    """Check a HubSpot request (v3 when present, else v2/v1 if allowed); the scheme used."""
    v3 = _header(headers, "X-HubSpot-Signature-v3")
    if v3 is not None:
        ts = _header(headers, "X-HubSpot-Request-Timestamp")
        sent = _epoch(ts, per_second=1000)
        if ts is None or sent is None:
            raise SignatureError(
                msg("webhooks.sig.not_milliseconds", header="X-HubSpot-Request-Timestamp")
            )
        _fresh(sent, now, what="X-HubSpot-Request-Timestamp")
        expected = hubspot_v3_signature(secret, method=method, uri=uri, body=body, timestamp=ts)
        if not _same(v3, expected):
            raise SignatureError(msg("webhooks.sig.mismatch", what="X-HubSpot-Signature-v3"))
        return "v3"
    legacy = _header(headers, "X-HubSpot-Signature")
    if legacy is None:
        raise SignatureError(
            msg("webhooks.sig.required", what="X-HubSpot-Signature-v3 / X-HubSpot-Signature")
        )
    if not allow_legacy:
        raise SignatureError(msg("webhooks.sig.v3_required"))
    version = (_header(headers, "X-HubSpot-Signature-Version") or "v1").lower()
    if version == "v2":
        expected = hubspot_v2_signature(secret, method=method, uri=uri, body=body)
    elif version == "v1":
        expected = hubspot_v1_signature(secret, body=body)
    else:
        raise SignatureError(msg("webhooks.sig.hubspot_version", version=version[:20]))
    if not _same(legacy.lower(), expected):
        raise SignatureError(msg("webhooks.sig.mismatch", what=f"X-HubSpot-Signature ({version})"))
    return version


# -- Standard Webhooks -------------------------------------------------------------------


def standard_webhook_headers(
    secret: str, *, msg_id: str, at: datetime, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers for a body (used by senders and tests)."""
    signature = Webhook(secret).sign(msg_id, at, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def standard_webhook_prefix(headers: Mapping[str, str]) -> str:
    """``webhook`` (the specification's names), or ``svix`` when a request carries Svix's
    default names (``svix-id``, ``svix-timestamp``, ``svix-signature``) and no ``webhook-id``.

    Svix signs the same content either way; only its paid tiers send the ``webhook-``
    names (https://docs.svix.com/receiving/verifying-payloads/how-manual).
    """
    if _header(headers, "webhook-id") is None and _header(headers, "svix-id") is not None:
        return "svix"
    return "webhook"


def standard_webhook_id(headers: Mapping[str, str]) -> str | None:
    """The message id under either header name."""
    return _header(headers, f"{standard_webhook_prefix(headers)}-id")


def verify_standard_webhook(
    headers: Mapping[str, str], *, body: bytes, secret: str, now: datetime
) -> str:
    """Check Standard Webhooks headers (or Svix's ``svix-*`` names); the message id.

    The library's ``verify`` reads the wall clock; the window is checked here against the
    injected clock, and the library's ``sign`` computes the expected signature.
    """
    prefix = standard_webhook_prefix(headers)
    msg_id = _header(headers, f"{prefix}-id")
    ts = _header(headers, f"{prefix}-timestamp")
    given = _header(headers, f"{prefix}-signature")
    if msg_id is None or ts is None or given is None:
        raise SignatureError(
            msg(
                "webhooks.sig.required",
                what="webhook-id, webhook-timestamp, webhook-signature "
                "(svix-id, svix-timestamp, svix-signature)",
            )
        )
    at = _epoch(ts)
    if at is None:
        raise SignatureError(msg("webhooks.sig.not_seconds", header=f"{prefix}-timestamp"))
    _fresh(at, now, what=f"{prefix}-timestamp")
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise SignatureError(msg("webhooks.sig.not_utf8")) from None
    try:
        expected = Webhook(secret).sign(msg_id, at, text).split(",", 1)[1]
        expected_bytes = base64.b64decode(expected)
    except (ValueError, binascii.Error):
        raise SignatureError(msg("webhooks.sig.bad_whsec")) from None
    for candidate in given.split():
        version, _, sig = candidate.partition(",")
        if version != "v1" or not sig:
            continue
        try:
            sig_bytes = base64.b64decode(sig, validate=True)
        except (ValueError, binascii.Error):
            continue
        if hmac.compare_digest(expected_bytes, sig_bytes):
            return msg_id
    raise SignatureError(msg("webhooks.sig.mismatch", what=f"{prefix}-signature"))


# -- HTTP Basic, tokens, Jiandaoyun --------------------------------------------------------


def verify_basic_auth(authorization: str | None, *, username: str, password: str) -> None:
    """Check ``Authorization: Basic`` credentials."""
    if not authorization or not authorization.lower().startswith("basic "):
        raise SignatureError(msg("webhooks.sig.required", what="HTTP Basic"))
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise SignatureError(msg("webhooks.sig.basic_base64")) from None
    user, sep, pwd = decoded.partition(":")
    ok_user = _same(user, username)
    ok_pwd = _same(pwd, password)
    if not sep or not (ok_user and ok_pwd):
        raise SignatureError(msg("webhooks.sig.mismatch", what="HTTP Basic"))


def verify_token(given: str | None, *, expected: str, what: str = "token") -> None:
    """Check a static shared token."""
    if not given:
        raise SignatureError(msg("webhooks.sig.required", what=what))
    if not _same(given, expected):
        raise SignatureError(msg("webhooks.sig.mismatch", what=what))


def jiandaoyun_signature(*, nonce: str, body: bytes, secret: str, timestamp: str) -> str:
    """hex(SHA-1("{nonce}:{payload}:{secret}:{timestamp}"))."""
    content = b":".join([nonce.encode(), body, secret.encode(), timestamp.encode()])
    return hashlib.sha1(content, usedforsecurity=False).hexdigest()


def verify_jiandaoyun(
    headers: Mapping[str, str],
    query: Mapping[str, str],
    *,
    body: bytes,
    secret: str,
    now: datetime,
) -> None:
    """Check a 简道云 data-push request (X-JDY-Signature, nonce and timestamp)."""
    given = _header(headers, "X-JDY-Signature")
    nonce = query.get("nonce")
    ts = query.get("timestamp")
    sent = _epoch(ts)
    if given is None or not nonce or not ts or sent is None:
        raise SignatureError(msg("webhooks.sig.required", what="X-JDY-Signature, nonce, timestamp"))
    _fresh(sent, now, what="timestamp")
    expected = jiandaoyun_signature(nonce=nonce, body=body, secret=secret, timestamp=ts)
    if not _same(given.lower(), expected):
        raise SignatureError(msg("webhooks.sig.mismatch", what="X-JDY-Signature"))


# -- Twenty CRM ----------------------------------------------------------------------------


def twenty_signature(secret: str, *, timestamp: str, body: bytes) -> str:
    """hex(HMAC-SHA256(secret, "{timestamp}:{body}"))."""
    message = timestamp.encode() + b":" + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_twenty(headers: Mapping[str, str], *, body: bytes, secret: str, now: datetime) -> None:
    """Check a Twenty CRM webhook (``X-Twenty-Webhook-Signature`` and ``-Timestamp``).

    Twenty signs ``{timestamp}:{JSON.stringify(payload)}`` and posts that same JSON, with
    the timestamp in milliseconds (``Date.now()``); a timestamp of 11 digits or fewer is
    read as seconds. https://docs.twenty.com/developers/extend/webhooks
    """
    given = _header(headers, "X-Twenty-Webhook-Signature")
    ts = _header(headers, "X-Twenty-Webhook-Timestamp")
    if given is None or ts is None:
        raise SignatureError(
            msg(
                "webhooks.sig.required",
                what="X-Twenty-Webhook-Signature, X-Twenty-Webhook-Timestamp",
            )
        )
    sent = _epoch(ts, per_second=1000 if len(ts) > 11 else 1)
    if sent is None:
        raise SignatureError(
            msg("webhooks.sig.not_milliseconds", header="X-Twenty-Webhook-Timestamp")
        )
    _fresh(sent, now, what="X-Twenty-Webhook-Timestamp")
    if not _same(given.lower(), twenty_signature(secret, timestamp=ts, body=body)):
        raise SignatureError(msg("webhooks.sig.mismatch", what="X-Twenty-Webhook-Signature"))
