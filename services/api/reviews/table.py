"""The review as one flat CSV table: one line per scope and KPI, with a stable header."""

from __future__ import annotations

import csv
import io

from paceline.api.reviews.schemas import ReviewOut

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


def _text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def csv_rows(out: ReviewOut) -> list[list[str]]:
    """The review as one flat table (one line per scope and KPI), header first."""
    s = _text
    misses = {(m.scope, m.kpi): m for m in out.misses}
    nexts = {(n.scope, n.kpi): n for n in out.suggestions}
    table = [CSV_HEADER]
    for r in out.rows:
        m = misses.get((r.scope, r.kpi))
        eff = {d.driver: d.effect for d in m.drivers} if m else {}
        n = nexts.get((r.scope, r.kpi))
        table.append(
            [
                r.scope,
                s(r.name),
                r.kpi,
                s(r.actual),
                s(r.target),
                s(r.baseline),
                s(r.stretch),
                s(r.attainment),
                s(r.raw_attainment),
                s(r.tier),
                s(r.met),
                r.status,
                s(m.gap if m else None),
                s(eff.get("quotes")),
                s(eff.get("win_rate")),
                s(eff.get("average_deal")),
                out.next_period,
                s(n.baseline if n else None),
                s(n.target if n else None),
                s(n.stretch if n else None),
            ]
        )
    return table


def csv_text(out: ReviewOut) -> str:
    """:func:`csv_rows` written as CSV text (``\\n`` line ends)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(csv_rows(out))
    return buf.getvalue()
