"""CSV that no spreadsheet will run: every CSV the API writes goes through here.

A cell of text that starts like a formula (``=``, ``+``, ``-``, ``@``, tab, carriage
return) gets a leading ``'`` (OWASP "CSV injection"): a rep named ``=HYPERLINK(...)`` in
the org chart, or a rep id or event id sent by an ingest key, must not become a live
formula in a manager's Excel.

Numbers stay numbers (a choice: a BI tool reading ``'-40000`` would take it for text, and
a plain number runs nothing): ``-40000.0000`` or ``-1.5E+3`` is written as it is, whether
it arrives as a Decimal or as text. "Plain" is strict: digits with an optional sign,
point and exponent, nothing around them (``-1+2``, `` -1`` or ``-1\t`` are text, quoted).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _is_number(text: str) -> bool:
    return _PLAIN_NUMBER.fullmatch(text) is not None


def neutralise(value: Any) -> Any:
    """Text that starts like a formula (and is not a plain number) with a leading ``'``;
    anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _is_number(value):
        return f"'{value}"
    return value


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """A header line of ``columns``, then one line per row (keys not in ``columns`` are
    left out), every cell neutralised; ``\\n`` line ends."""
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({k: neutralise(v) for k, v in row.items()})
    return buf.getvalue()


def csv_lines(rows: Iterable[Sequence[Any]]) -> str:
    """Rows of cells (the first one the header) as CSV text, every cell neutralised."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
    return buf.getvalue()
