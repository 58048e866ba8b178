"""The review as one flat CSV table: one line per scope and KPI, for people: the header
(columns in :data:`CSV_HEADER`'s order, each ``reviews.csv.<column>`` of the catalogs), the
KPI's name, tier, status and met in the caller's language; numbers exact, as they are.

Cells are neutralised against formula (CSV) injection: a rep's name is free text from the
org chart (``PUT /v1/org``, ``PUT /v1/reps/{id}``), and a spreadsheet would run a name
like ``=HYPERLINK(...)`` as a formula. Text that starts like a formula gets a leading ``'``
(OWASP's advice); numbers are written as they are, so ``-40000.0000`` stays a number.
"""

from __future__ import annotations

from paceline.api.reviews.schemas import ReviewOut
from paceline.shared.i18n import Msg, render
from paceline.shared.web.csv_out import csv_lines, neutralise

CSV_HEADER = [
    "scope",
    "name",
    "kpi",
    "actual",
    "target",
    "baseline",
    "stretch",
    "attainment",
    "raw_attainment",
    "tier",
    "met",
    "status",
    "gap",
    "driver_quotes",
    "driver_win_rate",
    "driver_average_deal",
    "next_period",
    "next_baseline",
    "next_target",
    "next_stretch",
]


# A cell starting with one of these is a formula to Excel, LibreOffice or Google Sheets.
def _cell(v: object) -> str:
    """A cell: empty for None, true/false, numbers as written, text neutralised."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return str(neutralise(v))
    return str(v)


def header(locale: str) -> list[str]:
    """The column titles in ``locale``."""
    return [render(Msg(f"reviews.csv.{column}"), locale) for column in CSV_HEADER]


def csv_rows(out: ReviewOut, locale: str = "zh-CN") -> list[list[str]]:
    """The review as one flat table (one line per scope and KPI), header first, its words
    in ``locale``."""
    s = _cell

    def word(prefix: str, value: str | None) -> str:
        return "" if value is None else s(render(Msg(f"{prefix}.{value}"), locale))

    def met(value: bool | None) -> str:
        return "" if value is None else word("common", "yes" if value else "no")

    names = {k.kpi: k.names.get(locale) or k.kpi for k in out.kpis}
    misses = {(m.scope, m.kpi): m for m in out.misses}
    nexts = {(n.scope, n.kpi): n for n in out.suggestions}
    table = [header(locale)]
    for r in out.rows:
        m = misses.get((r.scope, r.kpi))
        eff = {d.driver: d.effect for d in m.drivers} if m else {}
        n = nexts.get((r.scope, r.kpi))
        table.append(
            [
                s(r.scope),
                s(r.name),
                s(names.get(r.kpi, r.kpi)),
                s(r.actual),
                s(r.target),
                s(r.baseline),
                s(r.stretch),
                s(r.attainment),
                s(r.raw_attainment),
                word("reviews.tier", r.tier),
                met(r.met),
                word("reviews.status", r.status),
                s(m.gap if m else None),
                s(eff.get("quotes")),
                s(eff.get("win_rate")),
                s(eff.get("average_deal")),
                s(out.next_period),
                s(n.baseline if n else None),
                s(n.target if n else None),
                s(n.stretch if n else None),
            ]
        )
    return table


def csv_text(out: ReviewOut, locale: str = "zh-CN") -> str:
    """:func:`csv_rows` written as CSV text (``\\n`` line ends), cells neutralised."""
    return csv_lines(csv_rows(out, locale))
