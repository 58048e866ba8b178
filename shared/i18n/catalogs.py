"""The message catalogs: every ``locales/<locale>/LC_MESSAGES/*.po`` file, read once with
Babel and merged per locale (codes are unique across domains; the catalog test checks)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Final

from babel.messages.pofile import read_po

ROOT: Final = Path(__file__).parent / "locales"
_DIRS: Final = {"zh-CN": "zh_CN", "en": "en"}


def po_files(locale: str) -> list[Path]:
    """The catalog files of a locale, by domain."""
    return sorted((ROOT / _DIRS[locale] / "LC_MESSAGES").glob("*.po"))


@cache
def catalog(locale: str) -> dict[str, str]:
    """code → text of a locale (every domain)."""
    out: dict[str, str] = {}
    for path in po_files(locale):
        with path.open("rb") as f:
            po = read_po(f, locale=_DIRS[locale])
        for message in po:
            if message.id and isinstance(message.id, str) and message.string:
                out[message.id] = str(message.string)
    return out
