"""Words of the sign-in pages: the ``auth`` message catalog (shared/i18n/locales/*/
LC_MESSAGES/auth.po), rendered with :mod:`paceline.shared.i18n`.

A refused sign-in answers a small HTML page in the caller's language (``Accept-Language``
when it names zh or en, else the tenant's ``locale``) with the reason's code in
``data-code`` (``not_configured``…; the catalog's code is ``auth.signin.<code>``), so
people read why and tests read the code.
"""

from __future__ import annotations

from html import escape
from typing import Final

from paceline.shared.i18n import LOCALES, Msg, msg, render

# The refusals people are told about (``data-code`` and ``auth.signin.<code>``).
REFUSALS: Final = (
    "not_configured",
    "unknown_user",
    "inactive_user",
    "email_unverified",
    "domain_refused",
    "linked_elsewhere",
    "expired_request",
    "provider_error",
    "token_refused",
)


def refusal(code: str) -> Msg:
    """The catalog message of a refusal's code."""
    return msg(f"auth.signin.{code}")


def message(code: str, locale: str) -> str:
    """The text of a refusal's ``code`` in ``locale``."""
    return render(refusal(code), locale)


def refusal_page(code: str, locale: str) -> str:
    """The page a refused sign-in answers."""
    lang = locale if locale in LOCALES else "zh-CN"
    title = escape(render(msg("auth.signin.title"), lang))
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>Paceline · {title}</title></head>"
        f'<body><main data-code="{escape(code)}"><h1>{title}</h1>'
        f"<p>{escape(message(code, lang))}</p>"
        f'<p><a href="/dashboard/">{escape(render(msg("auth.signin.back"), lang))}</a></p>'
        "</main></body></html>"
    )
