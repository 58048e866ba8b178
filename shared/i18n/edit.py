"""Add or change catalog entries of a domain in both locales (a developer's tool).

    python -m paceline.shared.i18n.edit <domain> entries.json

``entries.json`` maps each code to ``[zh-CN text, en text]`` (``{name}`` placeholders;
``{{``/``}}`` for a literal brace). Entries already in the domain's files are kept unless
named; the files are written sorted, without dates, so diffs show only what changed.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from paceline.shared.i18n.catalogs import ROOT

_DIRS = {"zh_CN": 0, "en": 1}
_FIXED = datetime(2026, 1, 1, tzinfo=UTC)  # a fixed header date: no churn in diffs


def update(domain: str, entries: dict[str, list[str]]) -> None:
    """Merge ``entries`` (code → [zh-CN, en]) into the domain's two .po files."""
    for folder, index in _DIRS.items():
        path = ROOT / folder / "LC_MESSAGES" / f"{domain}.po"
        texts: dict[str, str] = {}
        if path.exists():
            with path.open("rb") as f:
                texts = {str(m.id): str(m.string) for m in read_po(f) if m.id}
        texts.update({code: pair[index] for code, pair in entries.items()})
        out = Catalog(
            locale=folder, domain=domain, project="Paceline", version="1", charset="utf-8"
        )
        out.creation_date = out.revision_date = _FIXED
        out.fuzzy = False
        for code in sorted(texts):
            out.add(code, texts[code], flags=("python-brace-format",) if "{" in texts[code] else ())
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            write_po(f, out, width=0, sort_output=True, no_location=True)


def main(argv: list[str]) -> int:
    """The command line: a domain and a JSON file of entries."""
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    update(argv[0], orjson.loads(Path(argv[1]).read_bytes()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
