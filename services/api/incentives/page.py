"""A statement as a printable page, zh-CN or en: every word from the ``incentives``
catalog, money with every digit (payroll reads it), dates and percentages per locale,
KPIs and plans by name."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from html import escape
from typing import Any, Final

from paceline.api.incentives.schemas import StatementOut
from paceline.shared.i18n import (
    L10n,
    Money,
    Msg,
    fmt_date,
    fmt_money,
    fmt_number,
    fmt_percent,
    msg,
    render,
)

STYLE: Final = (
    'body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:2em;color:#111}\n'
    "table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:4px 6px}\n"
    ".n{text-align:right;white-space:nowrap}th{background:#eee}\n"
    "@media print{body{margin:0}}\n"
)
# The page's own Content-Security-Policy: no scripts, no requests, only its one stylesheet
# (by hash: the server-wide policy has no 'unsafe-inline').
POLICY: Final = (
    "default-src 'none'; "
    f"style-src 'sha256-{base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()}'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _plain(value: Decimal) -> str:
    """A rate or factor with every digit it has and none it lacks (0.025, 500; never 5E+2)."""
    return escape(format(value.normalize(), "f"))


def statement_html(
    s: StatementOut,
    *,
    locale: str,
    tz: tzinfo,
    kpi_names: Mapping[str, L10n] | None = None,
) -> str:
    """The statement as a self-contained HTML page (print-friendly, no scripts); times in
    the tenant's time zone ``tz``; ``kpi_names``: the KPIs' names by key."""
    names = kpi_names or {}
    plan_names = {(p.plan, p.version): p.names for p in s.plans}

    def say(message: Msg) -> str:
        return escape(render(message, locale))

    def t(label: str) -> str:
        return say(Msg(f"incentives.page.{label}"))

    def money(value: object) -> str:
        return escape(fmt_money(Money(Decimal(str(value)), s.currency, exact=True), locale))

    def when(at: datetime | None) -> str:
        return "" if at is None else escape(fmt_date(at.astimezone(tz), locale))

    def by_at(who: str | None, at: datetime | None) -> str:
        if at is None:
            return escape(who or "")
        return say(msg("incentives.page.by_at", who=who or "", at=at.astimezone(tz)))

    def basis(key: str) -> str:
        if key == "scorecard":
            return t("scorecard")
        name = names.get(key)
        return escape(key if name is None else name.get(locale))

    def plan(key: str, version: int) -> str:
        found = plan_names.get((key, version))
        name: Any = key if found is None else L10n(found["zh-CN"], found["en"])
        return say(msg("incentives.page.plan_version", name=name, version=version))

    def days(start: date | None, end: date | None) -> str:
        if start is None or end is None:
            return ""
        # A line's end is exclusive; people read the last day.
        last = max(start, end - timedelta(days=1))
        return say(msg("incentives.page.day_range", start=start, end=last))

    rows = []
    for ln in s.lines:
        att = "" if ln.attainment is None else escape(fmt_percent(ln.attainment, locale))
        base = "" if ln.base is None else escape(fmt_number(ln.base, locale))
        rows.append(
            "<tr>"
            f"<td>{say(Msg(f'incentives.kind.{ln.kind}'))}</td>"
            f"<td>{escape(ln.component)}</td>"
            f"<td>{plan(ln.plan, ln.version)}</td>"
            f"<td>{days(ln.start, ln.end)}</td>"
            f"<td>{basis(ln.basis)}</td>"
            f"<td class=n>{base}</td>"
            f"<td class=n>{att}</td>"
            f"<td class=n>{'' if ln.rate is None else _plain(ln.rate)}</td>"
            f"<td class=n>{_plain(ln.factor)}</td>"
            f"<td>{escape(ln.source_period or '')}</td>"
            f"<td class=n>{money(ln.amount)}</td>"
            "</tr>"
        )
    who = escape(s.name or s.rep)
    who_id = say(msg("incentives.page.who", name=s.name or s.rep, id=s.rep))
    status = say(Msg(f"incentives.status.{s.status}"))
    return f"""<!doctype html>
<html lang="{escape(locale)}"><head><meta charset="utf-8">
<title>{t("statement")} {escape(s.period)} {who}</title>
<style>
{STYLE}</style></head><body>
<h1>{t("statement")}</h1>
<dl>
<dt>{t("rep")}</dt><dd id="rep">{who_id}</dd>
<dt>{t("period")}</dt><dd id="period">{escape(s.period)}</dd>
<dt>{t("status")}</dt><dd id="status">{status}</dd>
<dt>{t("known")}</dt><dd>{when(s.known_at)}</dd>
<dt>{t("generated")}</dt><dd>{by_at(s.generated_by, s.generated_at)}</dd>
<dt>{t("approved")}</dt><dd>{by_at(s.approved_by, s.approved_at)}</dd>
<dt>{t("paid")}</dt><dd>{by_at(s.paid_by, s.paid_at)}</dd>
</dl>
<table><thead><tr>
<th>{t("kind")}</th><th>{t("component")}</th><th>{t("plan")}</th><th>{t("days")}</th>
<th>{t("basis")}</th><th>{t("base")}</th><th>{t("attainment")}</th><th>{t("rate")}</th>
<th>{t("factor")}</th><th>{t("source")}</th><th>{t("amount")}</th>
</tr></thead><tbody>
{"".join(rows)}
</tbody><tfoot><tr><th colspan=10>{t("total")}</th>
<th class=n id="total">{money(s.total)}</th></tr></tfoot>
</table>
<p>{t("rounding")}</p>
</body></html>
"""
