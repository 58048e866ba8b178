"""Words of the sign-in pages, zh-CN and en: a catalog keyed by a stable code.

A refused sign-in answers a small HTML page in the tenant's language (its ``locale``)
with the reason's code in ``data-code``, so people read why and tests read the code.
"""

from __future__ import annotations

from html import escape
from typing import Final

LOCALES: Final = ("zh-CN", "en")

CATALOG: Final[dict[str, dict[str, str]]] = {
    "title": {"zh-CN": "无法登录", "en": "Sign-in failed"},
    "back": {"zh-CN": "返回仪表盘", "en": "Back to the dashboard"},
    "not_configured": {
        "zh-CN": "此租户尚未配置单点登录（OpenID Connect）。请使用 API 密钥，或联系管理员。",
        "en": "This tenant has no single sign-on (OpenID Connect) configured. Use an API "
        "key, or ask your administrator.",
    },
    "unknown_user": {
        "zh-CN": "此账号在 Paceline 中没有对应的用户。请联系管理员为您创建用户（使用同一邮箱）。",
        "en": "This account has no user in Paceline. Ask your administrator to create a "
        "user for you (with the same e-mail address).",
    },
    "inactive_user": {
        "zh-CN": "您的用户已停用。请联系管理员。",
        "en": "Your user is deactivated. Ask your administrator.",
    },
    "email_unverified": {
        "zh-CN": "身份提供方未确认此邮箱已验证，无法据此关联用户。",
        "en": "The identity provider did not confirm that this e-mail address is verified, "
        "so no user can be linked by it.",
    },
    "domain_refused": {
        "zh-CN": "此邮箱的域名不在允许登录的范围内。",
        "en": "This e-mail address's domain may not sign in here.",
    },
    "linked_elsewhere": {
        "zh-CN": "与此邮箱对应的用户已关联到另一个登录账号。",
        "en": "The user with this e-mail address is linked to another sign-in account.",
    },
    "expired_request": {
        "zh-CN": "登录请求已过期或不完整（可能在另一个窗口中开始）。请重新登录。",
        "en": "The sign-in request expired or is incomplete (perhaps started in another "
        "window). Please sign in again.",
    },
    "provider_error": {
        "zh-CN": "身份提供方没有完成登录。请稍后重试，或联系管理员。",
        "en": "The identity provider did not complete the sign-in. Try again later, or ask "
        "your administrator.",
    },
    "token_refused": {
        "zh-CN": "身份提供方返回的身份令牌未通过校验，登录被拒绝。",
        "en": "The identity token from the provider failed its checks; the sign-in is refused.",
    },
}


def message(code: str, locale: str) -> str:
    """The text of ``code`` in ``locale`` (English for an unknown locale)."""
    entry = CATALOG[code]
    return entry.get(locale) or entry["en"]


def refusal_page(code: str, locale: str) -> str:
    """The page a refused sign-in answers."""
    lang = locale if locale in LOCALES else "en"
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>Paceline · {escape(message('title', lang))}</title></head>"
        f'<body><main data-code="{escape(code)}"><h1>{escape(message("title", lang))}</h1>'
        f"<p>{escape(message(code, lang))}</p>"
        f'<p><a href="/dashboard/">{escape(message("back", lang))}</a></p></main></body></html>'
    )
