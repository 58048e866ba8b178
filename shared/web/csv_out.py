"""CSV that no spreadsheet will run: every CSV the API writes goes through here.

A cell of text that starts like a formula (``=``, ``+``, ``-``, ``@``, tab, carriage
return) gets a leading ``'`` (OWASP "CSV injection"): a rep named ``=HYPERLINK(...)`` in
the org chart must not become a live formula in a manager's Excel. Numbers stay numbers:
``-40000.0000`` is written as it is, whether it arrives as a Decimal or as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


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
