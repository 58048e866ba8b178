"""A statement as a printable page, zh-CN or en (every text from the catalog)."""

from __future__ import annotations

import base64
import hashlib
from decimal import Decimal
from html import escape
from typing import Final

from paceline.api.incentives import text
from paceline.api.incentives.schemas import StatementOut

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


def statement_html(s: StatementOut, *, locale: str) -> str:
    """The statement as a self-contained HTML page (print-friendly, no scripts)."""

    def t(code: str) -> str:
        return escape(text.label(code, locale))

    def money(value: object) -> str:
        return escape(text.money(Decimal(str(value)), s.currency, locale))

    rows = []
    for ln in s.lines:
        days = f"{ln.start} – {ln.end}" if ln.start and ln.end else ""
        att = "" if ln.attainment is None else escape(text.percent(ln.attainment, locale))
        rows.append(
            "<tr>"
            f"<td>{t('kind.' + ln.kind)}</td>"
            f"<td>{escape(ln.component)}</td>"
            f"<td>{escape(ln.plan)} v{ln.version}</td>"
            f"<td>{escape(days)}</td>"
            f"<td>{escape(ln.basis)}</td>"
            f"<td class=n>{'' if ln.base is None else escape(text.number(ln.base, locale))}</td>"
            f"<td class=n>{att}</td>"
            f"<td class=n>{'' if ln.rate is None else escape(str(ln.rate.normalize()))}</td>"
            f"<td class=n>{escape(str(ln.factor.normalize()))}</td>"
            f"<td>{escape(ln.source_period or '')}</td>"
            f"<td class=n>{money(ln.amount)}</td>"
            "</tr>"
        )
    who = escape(s.name or s.rep)
    status = t("status." + s.status)
    approved = f"{escape(s.approved_by or '')} {s.approved_at or ''}"
    paid = f"{escape(s.paid_by or '')} {s.paid_at or ''}"
    return f"""<!doctype html>
<html lang="{escape(locale)}"><head><meta charset="utf-8">
<title>{t("statement")} {escape(s.period)} {who}</title>
<style>
{STYLE}</style></head><body>
<h1>{t("statement")}</h1>
<dl>
<dt>{t("rep")}</dt><dd id="rep">{who} ({escape(s.rep)})</dd>
<dt>{t("period")}</dt><dd id="period">{escape(s.period)}</dd>
<dt>{t("status")}</dt><dd id="status">{status}</dd>
<dt>{t("known")}</dt><dd>{s.known_at.isoformat()}</dd>
<dt>{t("generated")}</dt><dd>{escape(s.generated_by)} {s.generated_at.isoformat()}</dd>
<dt>{t("approved")}</dt><dd>{approved}</dd>
<dt>{t("paid")}</dt><dd>{paid}</dd>
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
