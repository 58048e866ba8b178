"""Reads at scale (issue 3): progress, facts export (and scorecards) vs plain SQL aggregates.

Data: tenant ``bench``, 5 teams x 100 reps, two years of facts (2025-01-01..2026-12-31) for
every built-in KPI (:mod:`bench.readsdata`), inserted directly (COPY on PostgreSQL, one
``executemany`` transaction on SQLite), then ``VACUUM ANALYZE`` / ``ANALYZE``. The org
chart goes in through the org service, targets through the targets service.

Each measured call runs the real service function in its own read transaction
(``Database.transaction(write=False)``, as the API's request dependency does), timed with
``time.perf_counter`` around the whole ``async with`` block. Its baseline is one plain SQL
aggregate returning the same number, run the same way (same engine, pool, driver and
transaction wrapper). Before timing, each case asserts that the product's answer equals
the baseline's.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sqlite3
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import httpx
from sqlalchemy import Date, TextClause, bindparam, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from bench import harness
from bench.readsdata import (
    TENANT,
    Data,
    Scale,
    add_changes,
    generate,
    rep_id,
    rep_team,
    team_id,
)
from paceline.api.facts.service import export_facts
from paceline.api.org.schemas import OrgIn, RepIn, TeamIn
from paceline.api.org.service import replace_org
from paceline.api.progress.schemas import ProgressOut
from paceline.api.progress.service import progress
from paceline.api.targets.schemas import TargetIn
from paceline.api.targets.service import create_target
from paceline.shared.auth import generate_key
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.base import UTCDateTime
from paceline.shared.db.context import tenant_calendar
from paceline.shared.db.migrate import upgrade
from paceline.shared.db.models import Tenant
from paceline.shared.db.session import Database
from paceline.shared.kpi.catalog import BUILTIN_BY_KEY
from paceline.shared.money import SCALE
from paceline.shared.readmodel.progress import kpi_or_404, parse_period_or_422
from paceline.shared.readmodel.scopes import parse_scope

TITLE = "Reads at scale: progress and facts export"

ABOUT = """\
**Data.** One tenant, 5 teams x 100 reps (`--quick`: 5 x 20), two years of history
(2025-01-01..2026-12-31) of every built-in KPI with realistic sparsity (0-3 visits per rep
and working day, a few deals won or lost a month, payments, complaints, surveys,
trainings): about 0.71 M rows in `kpi_facts` and 0.83 M in `kpi_fact_members` (the notes
give the exact counts), inserted directly (this benchmark measures reads, not ingest),
then analysed. The org chart and targets go in through the services.
Read as of 2026-11-20 18:00 Asia/Shanghai, so periods are part-way through and progress
computes expected, pace, projection and status against a target.

**Change log** (issue 13, bitemporal facts). The fact rows come with the change log the
scoring service would have written for them (`kpi_fact_changes`,
`kpi_fact_member_changes`; about 1.2 changes per fact row, 1.1 per member row): each row
is split into 1 change (60% of rows), 2 (30%) or 3 (10%) that sum to it. Counts split
their records, sums keep their records in the first change and later ones correct the
amount, member rows split their record count (most have one record, so one change).
Knowledge times (`known_at`): the first change on the fact's day between 09:00 and 23:00
local (10% of rows: one to three days late), later ones 1 + Exp(mean 10) days after the
day (at most 90). A read as known at 2026-11-20 18:00 therefore subtracts the late events
and corrections still to come for the weeks before it, and a span that runs past it (the
quarter and month exports) also every day after it, as the data runs to the end of 2026.
The notes give the row counts.

**Product.** The real service function (`paceline.api.progress.service.progress`,
`paceline.api.facts.service.export_facts`) with a real session, each call in its own read
transaction as the API's request dependency opens it; the tenant row is passed in (the API
loads it once per request through the key). Rows marked *HTTP* go through the whole app
instead (`paceline.cli.stack.build_app`, api part only, `httpx.ASGITransport`, API key
auth, JSON): request handling on top of the same calls.

**Baseline.** One plain SQL aggregate returning the same number over the same rows on the
same database, e.g. `SELECT SUM(value) FROM kpi_facts WHERE tenant_id=? AND kpi=? AND
day >= ? AND day < ? [AND rep_id=? | AND rep_id IN (team members)]`, run through the same
engine, pool, driver and transaction wrapper. Calls are interleaved (product, baseline,
product, ...) after a warm-up. Each case first asserts that the product's value equals the
baseline's. **Ratio = product median / baseline median: lower is better; it is the
product's overhead factor** (queries it needs beyond the aggregate: KPI and target look-ups,
calendar, team tree, pace maths, response model).

Scopes: `rep:rep-001` (an average rep), `team:team-1` (100 reps) and the company (500
reps). Periods: month `2026-11`, quarter `2026-Q4`, year `2026`. KPIs: `revenue` (sum),
`win_rate` (ratio of two counts), `new_customers` (distinct customers). The facts export is
`export_facts` for revenue grouped by team over a quarter (5 rows), and for visits grouped
by rep and day over a month (the first page of 1000, the BI tools' default grouping).

The cases above are **current reads**: `progress(..., as_of=...)` without `known`, the
facts export without `known`, and through HTTP `as_of` with `knowledge=latest`: the
figures with everything known now (the same statements as before the change log).
**As-of reads** (their own table) read what was known at the as-of moment
(`known=as_of`, the API's default when a caller names `as_of`): progress of `revenue`
(sum) and `new_customers` (distinct) for the rep, the team and the company over the month
and the year, both exports above, and one HTTP progress call. Their baseline is the same
plain SQL computed directly from the two tables: the facts minus the changes known after
the moment (`SUM(kpi_facts) - SUM(kpi_fact_changes WHERE known_at > :known)`; for distinct
members, the member rows and the negated later member changes, grouped per (rep, day,
member), counting the members whose sum stays above zero; for the exports, the same union
grouped per team or per (rep, day)).

**Scorecards** (`paceline.api.scorecards`, measured when the module exists): a rep's, a
team's and the company's scorecard for the month with the built-in `account_manager`
template (revenue, new_customers, visits, win_rate, crm_active_days, with targets), and a
team's leaderboard (100 reps) ranked by revenue. Baseline: one `UNION ALL` statement that
aggregates the same five KPIs' measures for the scope (per rep for the leaderboard); the
check compares every KPI's actual (the leaderboard: every rep's revenue and the order).
"""

AS_OF = datetime(2026, 11, 20, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
END = date(2026, 11, 21)  # the first day not counted at AS_OF (tenant-local)
# When the org chart and the targets were set: before the periods (versions in force at AS_OF).
PLANNED_AT = datetime(2025, 12, 1, tzinfo=UTC)
PERIODS = {"month": ("2026-11", date(2026, 11, 1)), "quarter": ("2026-Q4", date(2026, 10, 1))}
PERIODS["year"] = ("2026", date(2026, 1, 1))
SCOPES = {"rep": "rep:rep-001", "team": "team:team-1", "company": "company"}
KPIS = {"revenue": "sum", "win_rate": "ratio", "new_customers": "distinct"}
# The built-in account_manager role template (the reps' role): what a scorecard reads.
TEMPLATE_KPIS = ("revenue", "new_customers", "visits", "win_rate", "crm_active_days")
_Q = Decimal("0.0001")
# Result rows of a baseline statement (tuples of plain values).
Rows = Sequence[Any]


@dataclass(frozen=True, slots=True)
class Plan:
    """How long to measure."""

    scale: Scale
    calls: int
    warmup: int
    budget_s: float  # per case: stop early after this long...
    min_calls: int  # ...once at least this many calls are timed


def plan(quick: bool) -> Plan:
    """The default run (issue 3's scale), or a short smoke-test run."""
    if quick:
        return Plan(Scale(teams=5, reps_per_team=20), calls=30, warmup=2, budget_s=1, min_calls=20)
    return Plan(Scale(), calls=200, warmup=5, budget_s=3.0, min_calls=50)


@dataclass
class Case:
    """One measured call and its baseline."""

    key: str
    label: str
    table: str
    product: Callable[[], Awaitable[Any]]
    baseline_sql: TextClause
    params: dict[str, Any]
    check: Callable[[Any, Rows], None]


# -- setup -------------------------------------------------------------------------------


def _asyncpg_args(url: str) -> dict[str, Any]:
    u = make_url(url)
    return {"host": u.host, "port": u.port, "user": u.username, "database": u.database}


async def _create_pg_database(server_url: str, name: str) -> str:
    conn = await asyncpg.connect(**_asyncpg_args(server_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def _load_pg(url: str, data: Data) -> None:
    conn = await asyncpg.connect(**_asyncpg_args(url))
    try:
        await conn.copy_records_to_table(
            "kpi_facts",
            records=data.facts,
            columns=["tenant_id", "kpi", "measure", "rep_id", "day", "value", "n"],
        )
        await conn.copy_records_to_table(
            "kpi_fact_members",
            records=data.members,
            columns=["tenant_id", "kpi", "measure", "rep_id", "day", "member", "n"],
        )
        await conn.copy_records_to_table(
            "kpi_fact_changes",
            records=data.changes,
            columns=["tenant_id", "kpi", "measure", "rep_id", "day", "known_at", "value", "n"],
        )
        await conn.copy_records_to_table(
            "kpi_fact_member_changes",
            records=data.member_changes,
            columns=["tenant_id", "kpi", "measure", "rep_id", "day", "member", "known_at", "n"],
        )
        await conn.execute(
            "VACUUM ANALYZE kpi_facts, kpi_fact_members, kpi_fact_changes, "
            "kpi_fact_member_changes, rep_memberships, reps, teams, targets, target_versions"
        )
    finally:
        await conn.close()


def _load_sqlite(path: Path, data: Data) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        with conn:
            conn.executemany(
                "INSERT INTO kpi_facts (tenant_id, kpi, measure, rep_id, day, value, n) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                ((t, k, m, r, d.isoformat(), v, n) for t, k, m, r, d, v, n in data.facts),
            )
            conn.executemany(
                "INSERT INTO kpi_fact_members (tenant_id, kpi, measure, rep_id, day, member, n) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                ((t, k, m, r, d.isoformat(), mem, n) for t, k, m, r, d, mem, n in data.members),
            )
            # Knowledge times as UTCDateTime stores them on SQLite: naive UTC text.
            conn.executemany(
                "INSERT INTO kpi_fact_changes "
                "(tenant_id, kpi, measure, rep_id, day, known_at, value, n) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (t, k, m, r, d.isoformat(), _sqlite_time(w), v, n)
                    for t, k, m, r, d, w, v, n in data.changes
                ),
            )
            conn.executemany(
                "INSERT INTO kpi_fact_member_changes "
                "(tenant_id, kpi, measure, rep_id, day, member, known_at, n) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (t, k, m, r, d.isoformat(), mem, _sqlite_time(w), n)
                    for t, k, m, r, d, mem, w, n in data.member_changes
                ),
            )
        conn.execute("ANALYZE")
    finally:
        conn.close()


def _sqlite_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _monthly(data: Data) -> dict[tuple[str, str, tuple[int, int]], int]:
    """Units per (kpi, rep, month) of measure 0 (and member rows for distinct KPIs)."""
    out: dict[tuple[str, str, tuple[int, int]], int] = defaultdict(int)
    for _t, kpi, measure, rep, day, value, _n in data.facts:
        if measure == 0:
            out[(kpi, rep, (day.year, day.month))] += value
    for _t, kpi, measure, rep, day, _member, _n in data.members:
        if kpi == "new_customers" and measure == 0:
            out[(kpi, rep, (day.year, day.month))] += 1
    return out


def _targets(data: Data) -> list[TargetIn]:
    """Targets for the measured scopes and periods, every team, and every rep's month."""
    scale = data.scale
    monthly = _monthly(data)
    months = {"2026-11": [11], "2026-Q4": [10, 11, 12], "2026": list(range(1, 13))}
    reps_of: dict[str, list[str]] = defaultdict(list)
    for i in range(scale.reps):
        reps_of[rep_team(scale, i)].append(rep_id(i))
    all_reps = [rep_id(i) for i in range(scale.reps)]

    def last_year(kpi: str, reps: list[str], period: str) -> int:
        return sum(monthly.get((kpi, r, (2025, m)), 0) for r in reps for m in months[period])

    wanted: list[tuple[str, list[str]]] = [("company", all_reps), ("rep:rep-001", ["rep-001"])]
    wanted += [(f"team:{t}", reps) for t, reps in sorted(reps_of.items())]
    out: list[TargetIn] = []
    for scope, reps in wanted:
        for period in months:
            for kpi in TEMPLATE_KPIS:
                out.append(_target(kpi, scope, period, last_year(kpi, reps, period)))
    # Every rep's monthly targets, as a sales org sets them (and leaderboards read them).
    for r in all_reps[1:]:
        for kpi in TEMPLATE_KPIS:
            out.append(_target(kpi, f"rep:{r}", "2026-11", last_year(kpi, [r], "2026-11")))
    return out


def _target(kpi: str, scope: str, period: str, last_year_units: int) -> TargetIn:
    if kpi == "win_rate":
        value = Decimal("0.6")
    elif kpi == "crm_active_days":
        value = Decimal("0.9")
    elif kpi == "new_customers":
        value = Decimal(max(1, round(last_year_units * 1.1)))
    elif kpi == "visits":
        value = Decimal(max(1, round(last_year_units / SCALE * 1.1)))
    else:
        value = (Decimal(last_year_units) / SCALE * Decimal("1.15")).quantize(Decimal("0.01"))
        value = max(value, Decimal(1000))
    return TargetIn(
        kpi=kpi,
        scope=scope,
        period=period,
        target=value,
        baseline=(value * Decimal("0.85")).quantize(Decimal("0.0001")),
        stretch=(value * Decimal("1.2")).quantize(Decimal("0.0001")),
        reason="bench",
    )


async def setup(url: str, data: Data, *, sqlite_path: Path | None) -> None:
    """Migrate, load org, targets and facts, analyse."""
    await asyncio.to_thread(upgrade, url)
    scale = data.scale
    db = Database(url)
    try:
        now = PLANNED_AT
        async with db.transaction() as session:
            tenant = await tenant_repo.ensure_tenant(
                session, tenant_id=TENANT, name="Bench Co", now=now
            )
            org = OrgIn(
                teams=[TeamIn(id=team_id(t), name=f"Team {t + 1}") for t in range(scale.teams)],
                reps=[
                    RepIn(
                        id=rep_id(i),
                        name=f"Rep {i + 1}",
                        team_id=rep_team(scale, i),
                        role="account_manager",
                    )
                    for i in range(scale.reps)
                ],
            )
            await replace_org(session, tenant_id=TENANT, org=org, today=now.date(), now=now)
            for body in _targets(data):
                await create_target(session, tenant=tenant, body=body, author="bench", now=now)
    finally:
        await db.dispose()
    if sqlite_path is None:
        await _load_pg(url, data)
    else:
        await asyncio.to_thread(_load_sqlite, sqlite_path, data)


# -- cases -------------------------------------------------------------------------------


def _sql(body: str) -> TextClause:
    return text(body).bindparams(bindparam("start", type_=Date), bindparam("end", type_=Date))


def _scope_sql(scope_kind: str) -> str:
    if scope_kind == "rep":
        return " AND rep_id = :rep"
    if scope_kind == "team":
        return """
          AND rep_id IN (SELECT rep_id FROM rep_memberships
                         WHERE tenant_id = :tenant AND team_id = :team)"""
    return ""


def _baseline_for(kpi: str, scope_kind: str) -> TextClause:
    where = "tenant_id = :tenant AND kpi = :kpi AND day >= :start AND day < :end"
    scope = _scope_sql(scope_kind)
    if KPIS[kpi] == "sum":
        return _sql(f"""
            SELECT SUM(value) FROM kpi_facts
            WHERE {where} AND measure = 0{scope}""")  # noqa: S608 - module constants, bound values
    if KPIS[kpi] == "ratio":
        return _sql(f"""
            SELECT measure, SUM(value) FROM kpi_facts
            WHERE {where} AND measure IN (0, 1){scope}
            GROUP BY measure""")  # noqa: S608 - module constants, bound values
    return _sql(f"""
        SELECT COUNT(DISTINCT member) FROM kpi_fact_members
        WHERE {where} AND measure = 0 AND n > 0{scope}""")  # noqa: S608 - module constants, bound values


def _sql_known(body: str) -> TextClause:
    return _sql(body).bindparams(bindparam("known", type_=UTCDateTime()))


def _asof_baseline_for(kpi: str, scope_kind: str) -> TextClause:
    """Measure 0 of a sum or distinct KPI as known at ``:known``: the fact rows minus the
    changes known after it."""
    where = "tenant_id = :tenant AND kpi = :kpi AND measure = 0 AND day >= :start AND day < :end"
    scope = _scope_sql(scope_kind)
    if KPIS[kpi] == "sum":
        return _sql_known(f"""
            SELECT (SELECT COALESCE(SUM(value), 0) FROM kpi_facts WHERE {where}{scope})
                 - (SELECT COALESCE(SUM(value), 0) FROM kpi_fact_changes
                    WHERE {where}{scope} AND known_at > :known)""")  # noqa: S608 - module constants, bound values
    if KPIS[kpi] != "distinct":
        raise ValueError(f"no as-of baseline for {kpi!r}")
    return _sql_known(f"""
        SELECT COUNT(DISTINCT member) FROM (
            SELECT rep_id, day, member FROM (
                SELECT rep_id, day, member, n FROM kpi_fact_members WHERE {where}{scope}
                UNION ALL
                SELECT rep_id, day, member, -n FROM kpi_fact_member_changes
                WHERE {where}{scope} AND known_at > :known
            ) AS u
            GROUP BY rep_id, day, member
            HAVING SUM(n) > 0
        ) AS live""")  # noqa: S608 - module constants, bound values


class Mismatch(AssertionError):
    """The product's answer differs from the baseline's: the figures would be worthless."""


def _expect(condition: object, message: str) -> None:
    # Not ``assert``: the check must hold under ``python -O`` too.
    if not condition:
        raise Mismatch(message)


def _check_progress(kpi: str) -> Callable[[Any, Rows], None]:
    def check(out: Any, rows: Rows) -> None:
        actual = Decimal(str(out.actual)) if out.actual is not None else None
        if KPIS[kpi] == "sum":
            want = (Decimal(int(rows[0][0] or 0)) / SCALE).quantize(_Q)
            _expect(actual == want, f"{kpi}: product {actual} != SQL {want}")
        elif KPIS[kpi] == "ratio":
            by = {int(m): int(v) for m, v in rows}
            won, closed = by.get(0, 0) // SCALE, by.get(1, 0) // SCALE
            ratio = (Decimal(won) / Decimal(closed)).quantize(_Q) if closed else None
            got = (Decimal(str(out.numerator)), Decimal(str(out.denominator)), actual)
            expected = (Decimal(won), Decimal(closed), ratio)
            _expect(got == expected, f"{kpi}: product {got} != SQL {expected}")
        else:
            want = Decimal(int(rows[0][0] or 0))
            _expect(actual == want, f"{kpi}: product {actual} != SQL {want}")
        # A target is in force, so the call includes expected, pace and status.
        _expect(out.target_id is not None, f"{kpi}: no target found")
        _expect(out.status != "no_target", f"{kpi}: status {out.status}")

    return check


def _check_export_team(out: Any, rows: Rows) -> None:
    page, _cursor = out
    got = {r["team"]: Decimal(r["value"]) for r in page}
    want = {t: (Decimal(int(v)) / SCALE).quantize(_Q) for t, v in rows}
    _expect(got == want, f"export by team: product {got} != SQL {want}")


def _check_export_rep_day(out: Any, rows: Rows) -> None:
    page, _cursor = out
    got = [(r["rep_id"], r["day"], Decimal(r["value"])) for r in page]
    want = [(r, _iso(d), Decimal(int(v) // SCALE)) for r, d, v in rows]
    _expect(got == want, f"export by rep,day: first difference {_first_diff(got, want)}")


def _iso(day: date | str) -> str:
    return day if isinstance(day, str) else day.isoformat()


def _first_diff(a: Sequence[Any], b: Sequence[Any]) -> str:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"row {i}: {x} != {y}"
    return f"lengths {len(a)} != {len(b)}"


def _check_http_progress(kpi: str) -> Callable[[Any, Rows], None]:
    inner = _check_progress(kpi)

    class _Out:
        def __init__(self, body: dict[str, Any]) -> None:
            self.__dict__.update(body)

    def check(out: Any, rows: Rows) -> None:
        _expect(out.status_code == 200, out.text)
        inner(_Out(out.json()), rows)

    return check


def _check_http_export(out: Any, rows: Rows) -> None:
    _expect(out.status_code == 200, out.text)
    _check_export_team((out.json()["rows"], None), rows)


async def _progress(
    session: AsyncSession,
    tenant: Tenant,
    kpi: str,
    scope: str,
    period_key: str,
    *,
    known: datetime | None = None,
) -> ProgressOut:
    """What ``GET /v1/progress`` does: resolve the parameters (as its dependencies do),
    then the progress service (``known``: as known then; None: everything known now)."""
    return await progress(
        session,
        tenant=tenant,
        kpi=await kpi_or_404(session, tenant.id, kpi),
        scope=parse_scope(scope),
        period=parse_period_or_422(period_key, tenant),
        as_of=AS_OF,
        known=known,
    )


def service_cases(db: Database, tenant: Tenant, table: str) -> list[Case]:
    """Progress and export through the service functions."""
    cases: list[Case] = []
    for kpi in KPIS:
        for scope_kind, scope in SCOPES.items():
            for period_kind, (period_key, start) in PERIODS.items():

                async def call(
                    kpi: str = kpi, scope: str = scope, period_key: str = period_key
                ) -> Any:
                    async with db.transaction(write=False) as session:
                        return await _progress(session, tenant, kpi, scope, period_key)

                cases.append(
                    Case(
                        key=f"progress.{kpi}.{scope_kind}.{period_kind}",
                        label=f"progress {kpi} ({KPIS[kpi]}) · {scope_kind} · {period_kind}",
                        table=table,
                        product=call,
                        baseline_sql=_baseline_for(kpi, scope_kind),
                        params=_params(kpi, start, END),
                        check=_check_progress(kpi),
                    )
                )
    # The seasonal pace reads a year of daily history on top (tenant option pace_method).
    seasonal = _tenant_copy(tenant, options={**(tenant.options or {}), "pace_method": "seasonal"})

    async def call_seasonal() -> Any:
        async with db.transaction(write=False) as session:
            return await _progress(
                session, seasonal, "revenue", SCOPES["team"], PERIODS["month"][0]
            )

    cases.append(
        Case(
            key="progress.revenue.team.month.seasonal",
            label="progress revenue (sum) · team · month, seasonal pace",
            table=table,
            product=call_seasonal,
            baseline_sql=_baseline_for("revenue", "team"),
            params=_params("revenue", PERIODS["month"][1], END),
            check=_check_progress("revenue"),
        )
    )
    q_start, q_end = date(2026, 10, 1), date(2027, 1, 1)

    async def export_team() -> Any:
        async with db.transaction(write=False) as session:
            return await export_facts(
                session,
                tenant=tenant,
                kpi=BUILTIN_BY_KEY["revenue"],
                scope=parse_scope("company"),
                start=q_start,
                end=q_end,
                group_by=["team"],
                cursor=None,
                limit=1000,
                calendar=await tenant_calendar(session, tenant=tenant),
            )

    cases.append(
        Case(
            key="export.revenue.team.quarter",
            label="facts export revenue · group_by team · quarter",
            table=table,
            product=export_team,
            baseline_sql=_export_team_sql(),
            params=_params("revenue", q_start, q_end),
            check=_check_export_team,
        )
    )
    m_start, m_end = date(2026, 11, 1), date(2026, 12, 1)

    async def export_rep_day() -> Any:
        async with db.transaction(write=False) as session:
            return await export_facts(
                session,
                tenant=tenant,
                kpi=BUILTIN_BY_KEY["visits"],
                scope=parse_scope("company"),
                start=m_start,
                end=m_end,
                group_by=["rep", "day"],
                cursor=None,
                limit=1000,
                calendar=await tenant_calendar(session, tenant=tenant),
            )

    cases.append(
        Case(
            key="export.visits.rep_day.month.page1",
            label="facts export visits · group_by rep,day · month, first page of 1000",
            table=table,
            product=export_rep_day,
            baseline_sql=_sql(
                "SELECT rep_id, day, SUM(value) FROM kpi_facts WHERE tenant_id = :tenant "
                "AND kpi = :kpi AND day >= :start AND day < :end "
                "GROUP BY rep_id, day ORDER BY rep_id, day LIMIT 1000"
            ),
            params=_params("visits", m_start, m_end),
            check=_check_export_rep_day,
        )
    )
    return cases


# The as-of reads: what was known at AS_OF (issue 13's change log subtracted).
ASOF_KPIS = ("revenue", "new_customers")
ASOF_PERIODS = ("month", "year")


def asof_cases(db: Database, tenant: Tenant, table: str) -> list[Case]:
    """Progress and export as known at the as-of moment, through the service functions."""
    cases: list[Case] = []
    for kpi in ASOF_KPIS:
        for scope_kind, scope in SCOPES.items():
            for period_kind in ASOF_PERIODS:
                period_key, start = PERIODS[period_kind]

                async def call(
                    kpi: str = kpi, scope: str = scope, period_key: str = period_key
                ) -> Any:
                    async with db.transaction(write=False) as session:
                        return await _progress(session, tenant, kpi, scope, period_key, known=AS_OF)

                cases.append(
                    Case(
                        key=f"progress_asof.{kpi}.{scope_kind}.{period_kind}",
                        label=f"progress {kpi} ({KPIS[kpi]}) · {scope_kind} · {period_kind}, "
                        "as known at as_of",
                        table=table,
                        product=call,
                        baseline_sql=_asof_baseline_for(kpi, scope_kind),
                        params={**_params(kpi, start, END), "known": AS_OF},
                        check=_check_progress(kpi),
                    )
                )
    q_start, q_end = date(2026, 10, 1), date(2027, 1, 1)

    async def export_team() -> Any:
        async with db.transaction(write=False) as session:
            return await export_facts(
                session,
                tenant=tenant,
                kpi=BUILTIN_BY_KEY["revenue"],
                scope=parse_scope("company"),
                start=q_start,
                end=q_end,
                group_by=["team"],
                cursor=None,
                limit=1000,
                calendar=await tenant_calendar(session, tenant=tenant),
                known=AS_OF,
            )

    cases.append(
        Case(
            key="export_asof.revenue.team.quarter",
            label="facts export revenue · group_by team · quarter, as known at as_of",
            table=table,
            product=export_team,
            baseline_sql=_export_team_asof_sql(),
            params={**_params("revenue", q_start, q_end), "known": AS_OF},
            check=_check_export_team,
        )
    )
    m_start, m_end = date(2026, 11, 1), date(2026, 12, 1)

    async def export_rep_day() -> Any:
        async with db.transaction(write=False) as session:
            return await export_facts(
                session,
                tenant=tenant,
                kpi=BUILTIN_BY_KEY["visits"],
                scope=parse_scope("company"),
                start=m_start,
                end=m_end,
                group_by=["rep", "day"],
                cursor=None,
                limit=1000,
                calendar=await tenant_calendar(session, tenant=tenant),
                known=AS_OF,
            )

    cases.append(
        Case(
            key="export_asof.visits.rep_day.month.page1",
            label="facts export visits · group_by rep,day · month, first page of 1000, "
            "as known at as_of",
            table=table,
            product=export_rep_day,
            baseline_sql=_sql_known(
                "SELECT rep_id, day, SUM(value) FROM ("
                " SELECT rep_id, day, value, n FROM kpi_facts WHERE tenant_id = :tenant"
                " AND kpi = :kpi AND day >= :start AND day < :end"
                " UNION ALL"
                " SELECT rep_id, day, -value, -n FROM kpi_fact_changes WHERE tenant_id = :tenant"
                " AND kpi = :kpi AND day >= :start AND day < :end AND known_at > :known"
                ") AS u GROUP BY rep_id, day HAVING SUM(value) <> 0 OR SUM(n) <> 0"
                " ORDER BY rep_id, day LIMIT 1000"
            ),
            params={**_params("visits", m_start, m_end), "known": AS_OF},
            check=_check_export_rep_day,
        )
    )
    return cases


def _export_team_asof_sql() -> TextClause:
    facts = "tenant_id = :tenant AND kpi = :kpi AND measure = 0 AND day >= :start AND day < :end"
    return _sql_known(f"""
        SELECT m.team_id, SUM(u.value) FROM (
            SELECT rep_id, day, value FROM kpi_facts WHERE {facts}
            UNION ALL
            SELECT rep_id, day, -value FROM kpi_fact_changes WHERE {facts} AND known_at > :known
        ) AS u JOIN rep_memberships m ON m.tenant_id = :tenant AND m.rep_id = u.rep_id
            AND m.valid_from <= u.day AND (m.valid_to IS NULL OR u.day < m.valid_to)
        GROUP BY m.team_id ORDER BY m.team_id""")  # noqa: S608 - module constants, bound values


def _export_team_sql() -> TextClause:
    return _sql(
        "SELECT m.team_id, SUM(f.value) FROM kpi_facts f JOIN rep_memberships m "
        "ON m.tenant_id = f.tenant_id AND m.rep_id = f.rep_id AND m.valid_from <= f.day "
        "AND (m.valid_to IS NULL OR f.day < m.valid_to) "
        "WHERE f.tenant_id = :tenant AND f.kpi = :kpi AND f.measure = 0 "
        "AND f.day >= :start AND f.day < :end GROUP BY m.team_id ORDER BY m.team_id"
    )


def _params(kpi: str, start: date, end: date) -> dict[str, Any]:
    return {
        "tenant": TENANT,
        "kpi": kpi,
        "start": start,
        "end": end,
        "rep": "rep-001",
        "team": "team-1",
    }


def _tenant_copy(tenant: Tenant, **changes: Any) -> Tenant:
    """A detached Tenant with other settings (never added to a session, never written)."""
    fields = {
        c: getattr(tenant, c)
        for c in (
            "id",
            "name",
            "timezone",
            "currency",
            "fiscal_year_start_month",
            "locale",
            "options",
            "created_at",
            "updated_at",
        )
    }
    return Tenant(**{**fields, **changes})


def http_cases(
    client: httpx.AsyncClient, key: str, table: str, asof_table: str | None = None
) -> list[Case]:
    """A few of the same reads through the whole app (routing, auth, validation, JSON)."""
    headers = {"Authorization": f"Bearer {key}"}
    cases = []
    for scope_kind, period_kind in [("rep", "month"), ("team", "quarter"), ("company", "year")]:
        period_key, start = PERIODS[period_kind]
        # knowledge=latest: the days up to as_of with everything known now, a current read
        # (without it, a named as_of reads what was known then: the as-of case below).
        params = {
            "kpi": "revenue",
            "scope": SCOPES[scope_kind],
            "period": period_key,
            "as_of": AS_OF.isoformat(),
            "knowledge": "latest",
        }

        async def call(params: dict[str, str] = params) -> Any:
            return await client.get("/v1/progress", params=params, headers=headers)

        cases.append(
            Case(
                key=f"http.progress.revenue.{scope_kind}.{period_kind}",
                label=f"HTTP GET /v1/progress revenue · {scope_kind} · {period_kind}",
                table=table,
                product=call,
                baseline_sql=_baseline_for("revenue", scope_kind),
                params=_params("revenue", start, END),
                check=_check_http_progress("revenue"),
            )
        )
    q = {"kpi": "revenue", "from": "2026-10-01", "to": "2026-12-31", "group_by": "team"}

    async def export_call() -> Any:
        return await client.get("/v1/facts", params=q, headers=headers)

    cases.append(
        Case(
            key="http.export.revenue.team.quarter",
            label="HTTP GET /v1/facts revenue · group_by team · quarter",
            table=table,
            product=export_call,
            baseline_sql=_export_team_sql(),
            params=_params("revenue", date(2026, 10, 1), date(2027, 1, 1)),
            check=_check_http_export,
        )
    )
    if asof_table is not None:
        period_key, start = PERIODS["quarter"]
        asof_q = {
            "kpi": "revenue",
            "scope": SCOPES["team"],
            "period": period_key,
            "as_of": AS_OF.isoformat(),
        }

        async def asof_call() -> Any:
            return await client.get("/v1/progress", params=asof_q, headers=headers)

        cases.append(
            Case(
                key="http.progress_asof.revenue.team.quarter",
                label="HTTP GET /v1/progress revenue · team · quarter, as known at as_of",
                table=asof_table,
                product=asof_call,
                baseline_sql=_asof_baseline_for("revenue", "team"),
                params={**_params("revenue", start, END), "known": AS_OF},
                check=_check_http_progress("revenue"),
            )
        )
    return cases


# -- scorecards (when paceline.api.scorecards exists) -------------------------------------


def _template_sql(scope_kind: str, *, by_rep: bool) -> TextClause:
    """The account_manager template's measures for a scope in one statement."""
    rep = "rep_id, " if by_rep else ""
    pairs = "member" if by_rep else "rep_id || '|' || member"
    where = f"tenant_id = :tenant AND day >= :start AND day < :end{_scope_sql(scope_kind)}"
    sql = f"""
        SELECT {rep}kpi, measure, SUM(value) FROM kpi_facts
        WHERE {where} AND ((kpi = 'revenue' AND measure = 0) OR (kpi = 'visits' AND measure = 0)
                          OR (kpi = 'win_rate' AND measure IN (0, 1)))
        GROUP BY {rep}kpi, measure
        UNION ALL
        SELECT {rep}kpi, measure, COUNT(DISTINCT member) FROM kpi_fact_members
        WHERE {where} AND kpi = 'new_customers' AND measure = 0 AND n > 0
        GROUP BY {rep}kpi, measure
        UNION ALL
        SELECT {rep}kpi, measure, COUNT(DISTINCT {pairs}) FROM kpi_fact_members
        WHERE {where} AND kpi = 'crm_active_days' AND measure = 0 AND n > 0
          AND member IN :workdays
        GROUP BY {rep}kpi, measure"""  # noqa: S608 - module constants, bound values
    return text(sql).bindparams(
        bindparam("start", type_=Date),
        bindparam("end", type_=Date),
        bindparam("workdays", expanding=True),
    )


def _template_actuals(
    rows: Sequence[tuple[Any, ...]], rep_working_days: int
) -> dict[str, Decimal | None]:
    """The template KPIs' values from the baseline's (kpi, measure, value) rows."""
    by = {(str(k), int(m)): int(v or 0) for k, m, v in rows}
    won, closed = by.get(("win_rate", 0), 0) // SCALE, by.get(("win_rate", 1), 0) // SCALE
    active = by.get(("crm_active_days", 0), 0)
    return {
        "revenue": (Decimal(by.get(("revenue", 0), 0)) / SCALE).quantize(_Q),
        "visits": Decimal(by.get(("visits", 0), 0) // SCALE).quantize(_Q),
        "win_rate": (Decimal(won) / Decimal(closed)).quantize(_Q) if closed else None,
        "new_customers": Decimal(by.get(("new_customers", 0), 0)).quantize(_Q),
        "crm_active_days": (Decimal(active) / Decimal(rep_working_days)).quantize(_Q),
    }


def _check_card(rep_working_days: int) -> Callable[[Any, Rows], None]:
    def check(out: Any, rows: Rows) -> None:
        card = out[0] if isinstance(out, list) else out
        got = {i.kpi: i.actual for i in card.items}
        want = _template_actuals([tuple(r) for r in rows], rep_working_days)
        _expect(got == want, f"scorecard {card.scope}: product {got} != SQL {want}")
        _expect(card.score is not None, f"scorecard {card.scope}: no score")

    return check


def _check_leaderboard(reps: Sequence[str]) -> Callable[[Any, Rows], None]:
    def check(out: Any, rows: Rows) -> None:
        got = {r.rep_id: r.kpi_actual for r in out.rows}
        revenue = {str(r): int(v) for r, k, m, v in rows if k == "revenue"}
        want = {r: (Decimal(revenue.get(r, 0)) / SCALE).quantize(_Q) for r in reps}
        _expect(got == want, "leaderboard: product revenue per rep differs from SQL")
        ranked = [r.kpi_actual for r in out.rows]
        _expect(ranked == sorted(ranked, reverse=True), "leaderboard: not ranked by revenue")

    return check


def scorecard_cases(db: Database, tenant: Tenant, scale: Scale, table: str) -> list[Case]:
    """A rep's, a team's and the company's scorecard, and a team's leaderboard (month)."""
    from paceline.api.scorecards import service as cards
    from paceline.shared.kpi.calendar import builtin_calendar
    from paceline.shared.kpi.periods import parse_period

    period = parse_period(PERIODS["month"][0])
    workdays = builtin_calendar("cn").working_day_list(period.start, END)
    team_reps = [rep_id(i) for i in range(scale.reps_per_team)]

    def params(**extra: Any) -> dict[str, Any]:
        return {**_params("", period.start, END), "workdays": [d.isoformat() for d in workdays]}

    async def rep_card() -> Any:
        async with db.transaction(write=False) as session:
            return await cards.rep_scorecards(
                session,
                tenant=tenant,
                rep_ids=["rep-001"],
                period=period,
                as_of=AS_OF,
                calendar=await tenant_calendar(session, tenant=tenant),
                template_key=None,
            )

    def team_card(scope: str) -> Callable[[], Awaitable[Any]]:
        async def call() -> Any:
            async with db.transaction(write=False) as session:
                return await cards.team_scorecard(
                    session,
                    tenant=tenant,
                    scope=parse_scope(scope),
                    period=period,
                    as_of=AS_OF,
                    calendar=await tenant_calendar(session, tenant=tenant),
                    template_key=None,
                )

        return call

    async def board() -> Any:
        async with db.transaction(write=False) as session:
            return await cards.leaderboard(
                session,
                tenant=tenant,
                team="team-1",
                period=period,
                as_of=AS_OF,
                calendar=await tenant_calendar(session, tenant=tenant),
                template_key=None,
                kpi_key="revenue",
            )

    n = len(workdays)
    return [
        Case(
            "scorecard.rep.month",
            "scorecard rep (5 KPIs) · month",
            table,
            rep_card,
            _template_sql("rep", by_rep=False),
            params(),
            _check_card(n),
        ),
        Case(
            "scorecard.team.month",
            "scorecard team (5 KPIs) · month",
            table,
            team_card(SCOPES["team"]),
            _template_sql("team", by_rep=False),
            params(),
            _check_card(n * scale.reps_per_team),
        ),
        Case(
            "scorecard.company.month",
            "scorecard company (5 KPIs) · month",
            table,
            team_card("company"),
            _template_sql("company", by_rep=False),
            params(),
            _check_card(n * scale.reps),
        ),
        Case(
            "leaderboard.team.month",
            f"leaderboard team ({scale.reps_per_team} reps x 5 KPIs) by revenue · month",
            table,
            board,
            _template_sql("team", by_rep=True),
            params(),
            _check_leaderboard(team_reps),
        ),
    ]


# -- measuring ---------------------------------------------------------------------------


async def measure(
    db: Database, cases: list[Case], p: Plan, ctx: harness.Context, prefix: str
) -> dict[str, harness.Result]:
    """Check each case against its baseline, then time both."""
    results: dict[str, harness.Result] = {}
    for case in cases:

        async def baseline(case: Case = case) -> Rows:
            async with db.transaction(write=False) as session:
                return (await session.execute(case.baseline_sql, case.params)).all()

        case.check(await case.product(), await baseline())
        prod, base = await harness.time_pair(
            case.product,
            baseline,
            n=p.calls,
            warmup=p.warmup,
            budget_s=p.budget_s,
            min_n=p.min_calls,
        )
        results[f"{prefix}.{case.key}"] = harness.latency_result(
            prod, base, label=case.label, table=case.table
        )
        r = results[f"{prefix}.{case.key}"]
        if ctx.profile is not None and ctx.profile in f"{prefix}.{case.key}":
            path = await harness.profile_calls(
                case.product, calls=max(p.min_calls, 50), name=f"{prefix}.{case.key}"
            )
            if path is not None:
                ctx.log(f"  profile: {path}")
        ctx.log(
            f"  {case.label}: {r['value']:.2f} ms (p95 {r['p95']:.2f}) vs "
            f"{r['baseline']:.2f} ms -> x{r['ratio']} (n={r['n']})"
        )
    return results


async def bench_database(
    ctx: harness.Context, name: str, url: str, data: Data, p: Plan, sqlite_path: Path | None
) -> dict[str, harness.Result]:
    """Load one database, then measure the service and HTTP cases on it."""
    t0 = asyncio.get_running_loop().time()
    await setup(url, data, sqlite_path=sqlite_path)
    ctx.log(f"{name}: loaded in {asyncio.get_running_loop().time() - t0:.1f} s")
    label = {"postgresql": "PostgreSQL", "sqlite": "SQLite (embedded mode)"}[name]
    results: dict[str, harness.Result] = {}
    db = Database(url)
    try:
        async with db.transaction(write=False) as session:
            tenant = await session.get(Tenant, TENANT)
            if tenant is None:
                raise RuntimeError("the bench tenant was not created")
        cases = service_cases(db, tenant, f"{label}: service calls")
        results |= await measure(db, cases, p, ctx, f"reads.{name}")
        if importlib.util.find_spec("paceline.api.scorecards") is not None:
            try:
                cards = scorecard_cases(db, tenant, data.scale, f"{label}: scorecards")
                results |= await measure(db, cards, p, ctx, f"reads.{name}")
            except Exception as exc:
                # Scorecards are new: report what broke instead of losing the whole run.
                ctx.log(f"{name}: scorecards failed: {exc!r}")
                ctx.note(f"Scorecards on {label}: not measured, the case failed: `{exc!r}`.")
        results |= await _measure_http(ctx, url, db, p, f"reads.{name}", label)
        # Last, so the current reads above run as they did before the change log existed.
        asof = asof_cases(db, tenant, f"{label}: as-of reads (change log)")
        results |= await measure(db, asof, p, ctx, f"reads.{name}")
    finally:
        await db.dispose()
    return results


async def _measure_http(
    ctx: harness.Context, url: str, db: Database, p: Plan, prefix: str, label: str
) -> dict[str, harness.Result]:
    from paceline.cli.stack import build_app
    from paceline.shared.settings import Settings

    settings = Settings(
        environment="test", database_url=url, data_dir=ctx.tmp / "http", log_level="WARNING"
    )
    app = build_app(settings, parts={"api"})
    async with app.router.lifespan_context(app):
        key = generate_key()
        async with db.transaction() as session:
            await tenant_repo.add_key(
                session,
                tenant_id=TENANT,
                key=key,
                name="bench",
                scopes=["read"],
                now=datetime.now(UTC),
            )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://paceline.bench", timeout=60
        ) as client:
            cases = http_cases(
                client,
                key.plaintext,
                f"{label}: through HTTP (ASGI, in-process)",
                f"{label}: as-of reads (change log)",
            )
            return await measure(db, cases, p, ctx, prefix)


def run(ctx: harness.Context) -> dict[str, harness.Result]:
    """Generate the data, then measure on PostgreSQL and on SQLite."""
    p = plan(ctx.quick)
    data = generate(p.scale)
    add_changes(data)
    ctx.log(
        f"generated {len(data.facts):,} fact rows and {len(data.members):,} member rows "
        f"({p.scale.reps} reps x {p.scale.days} days)"
    )
    ctx.note(
        f"Data: {p.scale.teams} teams x {p.scale.reps_per_team} reps, {p.scale.days} days, "
        f"{len(data.facts):,} rows in kpi_facts, {len(data.members):,} in kpi_fact_members; "
        f"{p.calls} timed calls per case after {p.warmup} warm-up calls; a slow case stops "
        f"after {p.budget_s:g} s once it has {p.min_calls} (n says how many)."
    )
    later = sum(1 for c in data.changes if c[5] > AS_OF)
    before_end = sum(1 for c in data.changes if c[5] > AS_OF and c[4] < END)
    later_m = sum(1 for c in data.member_changes if c[6] > AS_OF)
    before_end_m = sum(1 for c in data.member_changes if c[6] > AS_OF and c[4] < END)
    ctx.note(
        f"Change log: {len(data.changes):,} rows in kpi_fact_changes, "
        f"{len(data.member_changes):,} in kpi_fact_member_changes; known after the as-of "
        f"moment: {later:,} and {later_m:,}, of which on days before it ended (late events "
        f"and corrections of the weeks before) {before_end:,} and {before_end_m:,}."
    )
    if importlib.util.find_spec("paceline.api.scorecards") is None:
        ctx.note("Scorecards: skipped, `paceline.api.scorecards` does not exist in this tree.")
    results: dict[str, harness.Result] = {}
    pg_url = ctx.run_async(_create_pg_database(ctx.postgres(), "bench_reads"))
    results |= ctx.run_async(bench_database(ctx, "postgresql", pg_url, data, p, None))
    path = (ctx.tmp / "reads.db").resolve()
    sqlite_url = f"sqlite+aiosqlite:///{path}"
    results |= ctx.run_async(bench_database(ctx, "sqlite", sqlite_url, data, p, path))
    return results
