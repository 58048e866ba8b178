"""CSV that no spreadsheet will run: every CSV the API writes goes through here.

A cell of text that starts like a formula (``=``, ``+``, ``-``, ``@``, tab, carriage
return) gets a leading ``'`` (OWASP "CSV injection"): a rep named ``=HYPERLINK(...)`` in
the org chart, or a rep id or event id sent by an ingest key, must not become a live
formula in a manager's Excel.

Numbers stay numbers (a choice: a BI tool reading ``'-40000`` would take it for text, and
a plain number runs nothing): ``-40000.0000`` or ``-1.5E+3`` is written as it is, whether
it arrives as a Decimal or as text. "Plain" is strict: digits with an optional sign,
point and exponent, nothing around them (``-1+2``, `` -1`` or ``-1\t`` are text, quoted).

Excel opens a CSV file as the machine's legacy code page (GBK on Chinese Windows) unless
it starts with a UTF-8 byte order mark: :func:`csv_response` is the one way a CSV answer
leaves the API, and decides the BOM (docs/API.md, "CSV and Excel"):

* ``excel=true`` — BOM; ``excel=false`` — none (the client said so);
* not given — a BOM for the files people open (statements, payroll, reviews, an import's
  rejected rows: ``for_people``) when the tenant's locale is zh-CN; never for the BI feeds
  (``/v1/facts``, ``/v1/exports/*``), which programs read and where a BOM would stick to
  the first column's name.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import Response

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
MEDIA_TYPE = "text/csv; charset=utf-8"

ExcelQuery = Annotated[
    bool | None,
    Query(
        description="CSV: true starts the file with a UTF-8 byte order mark so that Excel "
        "shows Chinese text intact, false never; not given: the default of docs/API.md "
        "(files for people in a zh-CN tenant have one, BI feeds never)"
    ),
]
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


def wants_bom(excel: bool | None, *, locale: str | None, for_people: bool) -> bool:
    """Whether a CSV answer starts with a UTF-8 BOM (rules in the module docstring)."""
    if excel is not None:
        return excel
    return for_people and (locale or "").replace("_", "-").lower() == "zh-cn"


def csv_response(
    text: str,
    *,
    excel: bool | None,
    locale: str | None,
    for_people: bool,
    filename: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A CSV answer (``text/csv; charset=utf-8``), with a BOM when :func:`wants_bom` says
    so and ``Content-Disposition: attachment`` when a file name is given."""
    out = dict(headers or {})
    if filename is not None:
        out["Content-Disposition"] = f'attachment; filename="{filename}"'
    body = BOM + text if wants_bom(excel, locale=locale, for_people=for_people) else text
    return Response(body.encode("utf-8"), media_type=MEDIA_TYPE, headers=out)
