"""Words for people, zh-CN and en, from message catalogs; numbers, money, dates and
lists formatted per locale with Babel's CLDR data.

Text is made in two steps. Code that has something to say builds a :class:`Msg` — a
stable ``code`` (``alerts.lag.behind``) and its parameters — and keeps it as data
(stored in a row, carried in an error, put in a JSON answer as ``code``/``params`` for
machines). Where a person reads it, :func:`render` looks the code up in the locale's
catalog and fills it, each parameter formatted for the locale:

===================  ==========================================  ======================
Python value         zh-CN                                        en
===================  ==========================================  ======================
``int``, ``Decimal`` ``1,995,583.33`` (at most two decimals)       ``1,995,583.33``
``Pct(0.853)``       ``85%``                                      ``85%``
``Money(a, "CNY")``  ``¥199.56万`` (prose; ``Money(..., exact=True)``  ``CN¥1,995,583.33``
                     gives ``¥1,995,583.33``)
``date``             ``2026年11月3日``                            ``Nov 3, 2026``
``L10n(zh, en)``     the zh-CN text (names of KPIs, words)        the en text
``Msg``              rendered in the same locale                  rendered likewise
``list``             ``张伟、李娜和王芳``                          ``a, b, and c``
``OneOf(list)``      ``'a'、'b'或'c'``                            ``'a', 'b', or 'c'``
``Code("kpi")``      ``“kpi”`` (typed as it is: fields, values)    ``'kpi'``
``str``              as is (names of people and teams, ids)       as is
===================  ==========================================  ======================

Catalogs are gettext ``.po`` files under ``locales/<locale>/LC_MESSAGES/<domain>.po``
(one domain per area: ``alerts``, ``planning``, ``errors`` …), read with Babel; the
``msgid`` is the code, the ``msgstr`` the text with ``{name}`` placeholders (str.format).
tests/shared/test_i18n.py checks that both locales hold the same codes with the same
placeholders and that every code the source uses exists. docs/I18N.md says how to add one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

import orjson
from babel.dates import format_date, format_datetime
from babel.lists import format_list
from babel.numbers import (
    format_compact_currency,
    format_currency,
    format_decimal,
    format_percent,
)

from paceline.shared.i18n.catalogs import catalog

LOCALES: Final = ("zh-CN", "en")
DEFAULT_LOCALE: Final = "zh-CN"
_BABEL: Final = {"zh-CN": "zh_Hans_CN", "en": "en"}
# Amounts from this size are written with 万/亿 in zh-CN prose (¥12.5万), as Chinese
# readers expect; below it, and on statements and exports, the exact digits.
_WAN: Final = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class Pct:
    """A fraction shown as a percentage (0.853 → 85%)."""

    value: Decimal | float | int


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of a currency; ``exact`` keeps every digit (statements, payroll)."""

    amount: Decimal
    currency: str
    exact: bool = False


@dataclass(frozen=True, slots=True)
class L10n:
    """A word or name that exists in both languages (a KPI's name)."""

    zh: str
    en: str

    def get(self, locale: str) -> str:
        """The text in a locale."""
        return self.zh if locale == "zh-CN" else self.en


@dataclass(frozen=True, slots=True)
class Code:
    """Something typed as it is (a field, a property, a value): quoted, “kpi” / 'kpi'."""

    text: str


@dataclass(frozen=True, slots=True)
class OneOf:
    """Choices, joined with the locale's "or" ('a'、'b'或'c'; 'a', 'b', or 'c')."""

    values: Sequence[Any]


@dataclass(frozen=True, slots=True)
class Msg:
    """A message: a catalog code and its parameters, rendered where a person reads it."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def render(self, locale: str) -> str:
        """The text in a locale."""
        return render(self, locale)

    def __str__(self) -> str:  # logs and exceptions read English
        return render(self, "en")


def msg(code: str, /, **params: Any) -> Msg:
    """A message with a code of the catalogs and its parameters."""
    return Msg(code, params)


def babel_locale(locale: str) -> str:
    """Babel's name of a Paceline locale."""
    return _BABEL.get(locale, _BABEL[DEFAULT_LOCALE])


def fmt_number(value: Decimal | float | int, locale: str) -> str:
    """A number with the locale's grouping, at most two decimals."""
    return format_decimal(value, format="#,##0.##", locale=babel_locale(locale))


def fmt_percent(value: Decimal | float | int, locale: str) -> str:
    """A fraction as a whole percentage (0.853 → 85%; 1.2 → 120%)."""
    return format_percent(value, format="#,##0%", locale=babel_locale(locale))


def fmt_money(money: Money, locale: str) -> str:
    """Money: ¥199.56万 in zh-CN prose from ten thousand up, else every digit."""
    amount = Decimal(money.amount)
    if locale == "zh-CN" and not money.exact and abs(amount) >= _WAN:
        return format_compact_currency(
            amount, money.currency, locale=babel_locale(locale), fraction_digits=2
        )
    return format_currency(amount, money.currency, locale=babel_locale(locale))


def fmt_date(value: date, locale: str) -> str:
    """A day (2026年11月3日, Nov 3, 2026); a datetime with its time of day."""
    if isinstance(value, datetime):
        return format_datetime(value, "medium", tzinfo=value.tzinfo, locale=babel_locale(locale))
    return format_date(value, "medium", locale=babel_locale(locale))


def fmt(value: Any, locale: str) -> str:
    """A parameter as a person reads it in ``locale`` (table in the module docstring)."""
    if isinstance(value, Msg):
        return render(value, locale)
    if isinstance(value, L10n):
        return value.get(locale)
    if isinstance(value, Pct):
        return fmt_percent(value.value, locale)
    if isinstance(value, Money):
        return fmt_money(value, locale)
    if isinstance(value, bool):
        return render(Msg("common.yes" if value else "common.no"), locale)
    if isinstance(value, int | Decimal | float):
        return fmt_number(value, locale)
    if isinstance(value, date):
        return fmt_date(value, locale)
    if isinstance(value, Code):
        return f"“{value.text}”" if locale == "zh-CN" else f"'{value.text}'"
    if isinstance(value, OneOf):
        return format_list(
            [fmt(v, locale) for v in value.values], style="or", locale=babel_locale(locale)
        )
    if isinstance(value, Sequence) and not isinstance(value, str):
        return format_list([fmt(v, locale) for v in value], locale=babel_locale(locale))
    return str(value)


def render(message: Msg, locale: str) -> str:
    """A message's text in ``locale`` (zh-CN or en), its parameters formatted."""
    locale = locale if locale in LOCALES else DEFAULT_LOCALE
    text = catalog(locale).get(message.code)
    if text is None:
        # A code without text is a bug the catalog test catches; never fail a request
        # for it: the code itself is shown.
        return message.code
    return text.format_map({k: fmt(v, locale) for k, v in message.params.items()})


def both(message: Msg) -> dict[str, str]:
    """A message in every locale, {"zh-CN": ..., "en": ...}."""
    return {loc: render(message, loc) for loc in LOCALES}


# JSON: a Msg is stored and answered as {"code", "params"}; parameters that need the
# locale keep their kind so a later render formats them the same way.


def _param_json(value: Any) -> Any:
    if isinstance(value, Msg):
        return {"$msg": value.code, "params": params_json(value.params)}
    if isinstance(value, L10n):
        return {"$l10n": {"zh-CN": value.zh, "en": value.en}}
    if isinstance(value, Pct):
        return {"$pct": str(value.value)}
    if isinstance(value, Money):
        out: dict[str, Any] = {"$money": str(value.amount), "currency": value.currency}
        if value.exact:
            out["exact"] = True
        return out
    if isinstance(value, OneOf):
        return {"$or": [_param_json(v) for v in value.values]}
    if isinstance(value, Code):
        return {"$code": value.text}
    if isinstance(value, Decimal):
        return {"$num": str(value)}
    if isinstance(value, float):
        return {"$num": repr(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_param_json(v) for v in value]
    return value


def params_json(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as JSON-ready data that :func:`from_json` reads back."""
    return {k: _param_json(v) for k, v in params.items()}


def to_json(message: Msg) -> dict[str, Any]:
    """``{"code": ..., "params": {...}}`` for a row or a machine."""
    return {"code": message.code, "params": params_json(message.params)}


def _param_of(value: Any) -> Any:
    if isinstance(value, list):
        return [_param_of(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$msg" in value:
        return Msg(str(value["$msg"]), {k: _param_of(v) for k, v in value["params"].items()})
    if "$l10n" in value:
        return L10n(zh=str(value["$l10n"]["zh-CN"]), en=str(value["$l10n"]["en"]))
    if "$code" in value:
        return Code(str(value["$code"]))
    if "$or" in value:
        return OneOf([_param_of(v) for v in value["$or"]])
    if "$pct" in value:
        return Pct(Decimal(value["$pct"]))
    if "$money" in value:
        return Money(Decimal(value["$money"]), str(value["currency"]), bool(value.get("exact")))
    if "$num" in value:
        return Decimal(value["$num"])
    if "$datetime" in value:
        return datetime.fromisoformat(value["$datetime"])
    if "$date" in value:
        return date.fromisoformat(value["$date"])
    return value


def from_json(data: Mapping[str, Any]) -> Msg:
    """The message :func:`to_json` wrote."""
    return Msg(
        str(data["code"]), {k: _param_of(v) for k, v in dict(data.get("params") or {}).items()}
    )


def stored(message: Msg) -> str:
    """A message as a text column keeps it: JSON of its code and parameters."""
    return orjson.dumps(to_json(message)).decode()


def read_stored(text: str, *, plain: str) -> Msg:
    """A message a text column keeps (:func:`stored`); text of an older row (no JSON) as
    the message ``plain`` (a code whose text is ``{text}``), shown as it was written."""
    if text.startswith("{"):
        try:
            data = orjson.loads(text)
            if isinstance(data, dict) and isinstance(data.get("code"), str):
                return from_json(data)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            pass
    return Msg(plain, {"text": text})


def locale_of(requested: str | None, default: str | None = None) -> str:
    """zh-CN or en: the first of ``requested`` (an Accept-Language header or a tag) and
    ``default`` (the tenant's) that names one of them, else zh-CN."""
    for candidate in (requested, default):
        if not candidate:
            continue
        for part in candidate.split(","):
            tag = part.split(";")[0].strip().lower()
            if tag.startswith("zh"):
                return "zh-CN"
            if tag.startswith("en"):
                return "en"
    return DEFAULT_LOCALE


class Invalid(ValueError):
    """A validator's refusal with a catalog message: pydantic keeps the exception in the
    error's ``ctx``, and the error handler renders its message in the caller's locale."""

    def __init__(self, code: str, /, **params: Any) -> None:
        self.msg = Msg(code, params)
        super().__init__(str(self.msg))
