"""The message catalogs: both locales complete and consistent, every code the source uses
defined, and parameters formatted per locale (Babel's CLDR data)."""

from __future__ import annotations

import ast
import string
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from paceline.shared.i18n import (
    L10n,
    Money,
    Pct,
    from_json,
    locale_of,
    msg,
    render,
    to_json,
)
from paceline.shared.i18n.catalogs import catalog, po_files
from paceline.shared.i18n.validation import PYDANTIC_TYPES

ROOT = Path(__file__).resolve().parents[2]
# Functions whose first argument is a catalog code.
_CODE_TAKERS = {"msg", "Msg", "Invalid"}


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_locales_have_the_same_codes_and_placeholders() -> None:
    zh, en = catalog("zh-CN"), catalog("en")
    assert zh, "no catalog was read"
    assert set(zh) == set(en), (sorted(set(zh) - set(en)), sorted(set(en) - set(zh)))
    wrong = {c for c in zh if _placeholders(zh[c]) != _placeholders(en[c])}
    assert not wrong, sorted(wrong)


def test_every_text_is_filled_and_no_code_is_in_two_domains() -> None:
    for locale in ("zh-CN", "en"):
        seen: Counter[str] = Counter()
        for path in po_files(locale):
            with path.open("rb") as f:
                for m in read_po(f):
                    if m.id:
                        seen[str(m.id)] += 1
                        assert str(m.string).strip(), f"{path.name}: {m.id} has no text"
        assert [c for c, n in seen.items() if n > 1] == []


def test_zh_cn_texts_are_chinese() -> None:
    """A zh-CN text that is only Latin letters is an untranslated copy (unless it is only
    placeholders and punctuation, or a word kept as is, like an acronym)."""
    zh = catalog("zh-CN")
    latin_only = [
        code
        for code, text in zh.items()
        if any(ch.isalpha() and ch.isascii() for ch in _strip(text))
        and not any("\u4e00" <= ch <= "\u9fff" for ch in text)
        and not set(_strip(text).replace("：", " ").split()) <= _KEPT
    ]
    assert latin_only == []


_KEPT = {"SPIFF", "KPI", "HTTP", "API", "URL", "JSON", "OData"}


def _strip(text: str) -> str:
    out = []
    for literal, _, _, _ in string.Formatter().parse(text):
        out.append(literal)
    return "".join(out)


def _codes_in_source() -> dict[str, str]:
    found: dict[str, str] = {}
    for folder in ("services", "shared"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                first = node.args[0]
                if (
                    name in _CODE_TAKERS
                    and isinstance(first, ast.Constant)
                    and isinstance(first.value, str)
                    and "." in first.value
                ):
                    found[first.value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def test_every_code_the_source_names_is_in_the_catalogs() -> None:
    codes = _codes_in_source()
    assert len(codes) > 10
    known = catalog("en")
    missing = {c: where for c, where in codes.items() if c not in known}
    assert missing == {}


def test_every_pydantic_error_type_we_translate_has_its_text() -> None:
    known = catalog("en")
    assert [t for t in PYDANTIC_TYPES if f"errors.validation.{t}" not in known] == []


@pytest.mark.parametrize(
    ("value", "zh", "en"),
    [
        (Decimal("1995583.33"), "1,995,583.33", "1,995,583.33"),
        (12, "12", "12"),
        (Pct(Decimal("0.853")), "85%", "85%"),
        (Money(Decimal("1995583.33"), "CNY"), "¥199.56万", "CN¥1,995,583.33"),
        (Money(Decimal("9999.5"), "CNY"), "¥9,999.50", "CN¥9,999.50"),
        (Money(Decimal("1995583.33"), "CNY", exact=True), "¥1,995,583.33", "CN¥1,995,583.33"),
        (date(2026, 11, 3), "2026年11月3日", "Nov 3, 2026"),
        (L10n("收入", "Revenue"), "收入", "Revenue"),
        (["张伟", "李娜", "王芳"], "张伟、李娜和王芳", "张伟, 李娜, and 王芳"),
    ],
)
def test_parameters_are_formatted_per_locale(value: object, zh: str, en: str) -> None:
    message = msg("errors.validation.value_error", reason=value)
    assert render(message, "zh-CN") == zh
    assert render(message, "en") == en
    # Stored as JSON and read back, a message renders the same.
    assert render(from_json(to_json(message)), "zh-CN") == zh
    assert render(from_json(to_json(message)), "en") == en


def test_nested_messages_and_unknown_codes() -> None:
    inner = msg("errors.validation.string_too_long", max_length=5)
    outer = msg("errors.field_reason", field="name", reason=inner)
    assert render(outer, "zh-CN") == "name：最多 5 个字符"
    assert render(outer, "en") == "name: String should have at most 5 characters"
    assert render(msg("no.such.code"), "en") == "no.such.code"


@pytest.mark.parametrize(
    ("header", "default", "expected"),
    [
        ("en-US,en;q=0.9", "zh-CN", "en"),
        ("zh-TW", "en", "zh-CN"),
        ("fr-FR", "en", "en"),
        (None, None, "zh-CN"),
        ("de, en;q=0.5", "zh-CN", "en"),
    ],
)
def test_locale_of(header: str | None, default: str | None, expected: str) -> None:
    assert locale_of(header, default) == expected
