"""Every recipe of docs/BI.md gives the numbers ``GET /v1/progress`` gives.

The recipes are taken from the document itself, not copied: the "Rolling facts up" table
(which KPIs add up over facts rows and how), the warehouse tables (``CREATE TABLE``), the
``sync.sh`` loads (paging by ``X-Next-Cursor`` exactly as the script does) and the SQL
questions, which run verbatim on SQLite with three stand-ins for PostgreSQL: the schema
``paceline`` is an attached database, ``numeric`` columns are ``real`` (SQLite would
otherwise divide integers as integers), and ``date_trunc('month', day)`` is a function.
Facts of November 2026 (two teams, four reps, a customer shared by two reps and seen on
several days, a rep without complaints), targets of both directions, both run modes.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.conftest import Clocked
from tests.support import Stack

pytestmark = pytest.mark.dates

TODAY = datetime.fromisoformat("2026-12-02T10:00:00+08:00")
BEFORE_NOVEMBER = datetime.fromisoformat("2026-10-20T10:00:00+08:00")
AS_OF = "2026-12-01T00:00:00+08:00"  # the whole of November
ORG: dict[str, Any] = {
    "teams": [{"id": "north", "name": "North"}, {"id": "south", "name": "South"}],
    "reps": [
        {"id": "r1", "name": "Ann", "team_id": "north"},
        {"id": "r2", "name": "Bo", "team_id": "north"},
        {"id": "r3", "name": "Cy", "team_id": "south"},
        {"id": "r4", "name": "Di", "team_id": "south"},
    ],
}
DOC = (Path(__file__).resolve().parents[3] / "docs" / "BI.md").read_text(encoding="utf-8")
STATUS_RANK = {"ahead": 4, "on_track": 3, "behind": 2, "at_risk": 1}


# -- the data -----------------------------------------------------------------------------


def _at(day: int, hour: int = 10) -> str:
    return f"2026-11-{day:02d}T{hour:02d}:00:00+08:00"


def _events() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(eid: str, kind: str, rep: str, day: int, customer: str, **fields: Any) -> None:
        out.append(
            {
                "event_id": eid,
                "type": kind,
                "occurred_at": _at(day),
                "rep_id": rep,
                "customer_id": customer,
                **fields,
            }
        )

    new = {"stage": "won", "is_new_customer": True}
    add("d1", "deal", "r1", 3, "c1", amount="1000", margin="300", **new)
    add("d2", "deal", "r1", 10, "c1", amount="500", margin="100", **new)  # c1 again
    add("d3", "deal", "r1", 12, "c6", stage="lost", amount="900")
    add("d4", "deal", "r2", 5, "c1", amount="300", **new)  # c1 with another rep
    add("d5", "deal", "r2", 20, "c2", amount="700", margin="200", **new)
    add("d6", "deal", "r2", 21, "c7", stage="lost", amount="100")
    add("d7", "deal", "r3", 20, "c3", amount="200", stage="won")
    add("d8", "deal", "r3", 23, "c3", stage="lost", amount="50")
    add("d9", "deal", "r3", 24, "c5", stage="lost", amount="60")
    for n, (rep, day, customer, hours) in enumerate(
        [
            ("r1", 4, "c1", 2),
            ("r1", 11, "c1", 5),
            ("r1", 18, "c4", 4),
            ("r2", 6, "c2", 3),
            ("r3", 20, "c3", 10),
        ]
    ):
        add(
            f"k{n}",
            "complaint",
            rep,
            day,
            customer,
            opened_at=_at(day, 9),
            first_response_at=_at(day, 9 + hours),
        )
    for n, (rep, day, customer) in enumerate(
        [("r1", 3, "c1"), ("r1", 9, "c4"), ("r2", 5, "c1"), ("r2", 6, "c2"), ("r3", 19, "c3")]
        + [("r3", 23, "c5"), ("r4", 16, "c8"), ("r4", 17, "c9")]
        + [("r4", 18 + i % 8, f"c{10 + i}") for i in range(10)]  # complaint_rate's sample
    ):
        add(f"v{n}", "visit", rep, day, customer, channel="onsite")
    for n, (rep, day, passed) in enumerate([("r1", 2, True), ("r2", 2, False), ("r3", 3, True)]):
        add(f"t{n}", "training", rep, day, "c0", course="crm", passed=passed)
    for n, (rep, day, score) in enumerate([("r1", 13, 5), ("r2", 14, 3), ("r3", 25, 4)]):
        add(f"s{n}", "survey", rep, day, f"c{n + 1}", score=score)
    for n, (rep, due, paid_on, due_amount, paid) in enumerate(
        [("r1", 10, 12, "800", "800"), ("r2", 15, 25, "400", "200"), ("r3", 5, 5, "100", "100")]
    ):
        add(
            f"p{n}",
            "payment",
            rep,
            paid_on,
            f"c{n + 1}",
            invoice_id=f"inv{n}",
            amount_due=due_amount,
            due_date=f"2026-11-{due:02d}",
            amount_paid=paid,
            paid_at=_at(paid_on),
        )
    for n, (rep, day) in enumerate([("r1", 2), ("r1", 3), ("r2", 4), ("r3", 5)]):
        add(f"q{n}", "quote", rep, day, f"c{n + 1}", status="sent")
        add(f"l{n}", "lead", rep, day, f"c{n + 1}", is_new_customer=True)
    return out


# Both directions, ahead and behind, and a lower-is-better KPI at 0 (r4 has no complaints).
TARGETS = [
    ("revenue", "company", "4000"),  # 2700: at risk
    ("revenue", "rep:r1", "1400"),  # 1500
    ("response_hours", "company", "6"),  # 24 / 5 = 4.8 hours, quicker: pace 1.25, ahead
    ("response_hours", "rep:r1", "3"),  # 11 / 3 = 3.67 hours, slower: pace 0.82, behind
    ("complaint_rate", "rep:r4", "10"),  # no complaints: no pace, ahead
    ("complaint_rate", "company", "40"),
    ("win_rate", "company", "0.9"),  # 5 of 9 closed: at risk
]


async def _seed(s: Stack, clock: Any) -> None:
    clock.set(BEFORE_NOVEMBER)
    for kpi, scope, target in TARGETS:
        body = {"kpi": kpi, "scope": scope, "period": "2026-11", "target": target}
        resp = await s.client.post("/v1/targets", json=body, headers=s.auth())
        assert resp.status_code == 201, resp.text
    # Received by the end of November, so a read as of AS_OF knows them (docs/KPIS.md).
    clock.set(datetime.fromisoformat("2026-11-30T23:59:00+08:00"))
    resp = await s.post_events(_events())
    clock.set(TODAY)
    assert resp.status_code == 202, resp.text
    assert resp.json()["accepted"] == len(_events()), resp.text
    await s.wait_scored()


async def _progress(s: Stack, kpi: str, scope: str) -> dict[str, Any]:
    resp = await s.client.get(
        "/v1/progress",
        params={"kpi": kpi, "scope": scope, "period": "2026-11", "as_of": AS_OF},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def _actual(s: Stack, kpi: str, scope: str) -> Decimal | None:
    value = (await _progress(s, kpi, scope))["actual"]
    return None if value is None else Decimal(value)


def _close(got: Decimal | float | None, want: Decimal | None, what: object) -> None:
    assert (got is None) == (want is None), what
    if got is not None and want is not None:
        assert abs(Decimal(str(got)) - want) <= Decimal("0.0001"), (what, got, want)


# -- the document -------------------------------------------------------------------------


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.S)


def _rollup_rules() -> dict[str, str]:
    """KPI -> ``value``, ``parts`` or ``grain``, from the "Rolling facts up" table."""
    section = DOC.split("## Rolling facts up", 1)[1].split("\n## ", 1)[0]
    rules: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[1].startswith("`"):
            continue
        rule = cells[2]
        kind = (
            "grain"
            if rule.startswith("**not exact**")
            else "parts"
            if "`sum(numerator) / sum(denominator)`" in rule
            else "value"
            if "`sum(value)`" in rule
            else "?"
        )
        for kpi in re.findall(r"`(\w+)`", cells[1]):
            rules[kpi] = kind
    return rules


def _grains() -> list[tuple[str, list[str]]]:
    """(group_by, the scope kinds it is exact for) of the grains the document lists."""
    section = DOC.split("## Rolling facts up", 1)[1].split("\n## ", 1)[0]
    out = []
    for bullet in re.split(r"\n- ", section)[1:]:
        group_by = re.match(r"`group_by=(\w*)`", bullet)
        if group_by is not None:
            out.append((group_by.group(1), re.findall(r"`scope=(\w+)", bullet)))
    return out


def _syncs() -> list[tuple[str, str]]:
    """(table, path and query) of each ``sync.sh`` run in the document."""
    return [
        (table, url)
        for block in _blocks("sh")
        for table, url in re.findall(r'^sync\.sh (\S+) "([^"]+)"', block, flags=re.M)
    ]


def _questions() -> dict[str, str]:
    """The SQL questions (SELECTs), by their first comment line."""
    out: dict[str, str] = {}
    for block in _blocks("sql"):
        for statement in block.split(";"):
            lines = statement.strip().splitlines()
            comments = [x for x in lines if x.startswith("--")]
            if not any(x.startswith("SELECT") for x in lines):
                continue
            out[comments[0].removeprefix("-- ").strip()] = "\n".join(lines)
    return out


def _warehouse() -> sqlite3.Connection:
    """The document's warehouse tables in SQLite (see the module docstring)."""
    db = sqlite3.connect(":memory:")
    db.execute("ATTACH DATABASE ':memory:' AS paceline")
    db.create_function("date_trunc", 2, lambda unit, day: day[:7] + "-01" if day else None)
    ddl = next(b for b in _blocks("sql") if "CREATE TABLE" in b)
    for statement in ddl.split(";"):
        if "CREATE TABLE" in statement:
            db.execute(re.sub(r"\bnumeric\b", "real", statement))
    return db


async def _sync(s: Stack, db: sqlite3.Connection, table: str, url: str) -> None:
    """What sync.sh does (without the TRUNCATE: one run per KPI deletes that KPI first)."""
    url = f"{url}&format=csv&as_of={AS_OF.replace('+', '%2B')}"
    kpi = dict(parse_qsl(urlsplit(url).query)).get("kpi")
    if kpi is not None:
        db.execute(f"DELETE FROM {table} WHERE kpi = ?", (kpi,))  # noqa: S608  # the doc's names
    columns = [r[1] for r in db.execute(f"PRAGMA paceline.table_info({table.split('.')[1]})")]
    cursor = ""
    while True:
        resp = await s.client.get(url + (f"&cursor={cursor}" if cursor else ""), headers=s.auth())
        assert resp.status_code == 200, (url, resp.text)
        rows = list(csv.reader(io.StringIO(resp.text)))
        assert rows[0] == columns, (table, url)  # \copy ... CSV HEADER takes columns in order
        marks = ",".join("?" * len(columns))
        db.executemany(
            f"INSERT INTO {table} VALUES ({marks})",  # noqa: S608  # the doc's names
            [[v if v != "" else None for v in row] for row in rows[1:]],
        )
        cursor = resp.headers.get("x-next-cursor", "")
        if not cursor:
            return


def test_the_rollup_table_names_every_built_in_kpi_once() -> None:
    rules = _rollup_rules()
    assert set(rules.values()) == {"value", "parts", "grain"}
    assert len(rules) == 16
    assert _grains() == [("rep", ["rep"]), ("", ["company", "team"]), ("team", ["team"])]
    assert [t for t, _ in _syncs()] == ["paceline.facts_rep_day", "paceline.progress"]


# -- the recipes against progress ---------------------------------------------------------


async def test_every_bi_recipe_equals_progress(clocked_both: Clocked) -> None:
    s, clock = clocked_both
    await _seed(s, clock)
    kpis = (await s.client.get("/v1/kpis", headers=s.auth())).json()
    keys = {k["key"] for k in (kpis["kpis"] if isinstance(kpis, dict) else kpis)}
    rules = _rollup_rules()
    assert set(rules) == keys  # every KPI the tenant has is covered by the table

    # sync.sh into the warehouse: every KPI's rep,day facts, and the progress export.
    db = _warehouse()
    (facts_table, facts_url), (progress_table, progress_url) = _syncs()
    for kpi in sorted(keys):
        await _sync(s, db, facts_table, re.sub(r"kpi=\w+", f"kpi={kpi}", facts_url))
    await _sync(s, db, progress_table, progress_url)

    reps = [r["id"] for r in ORG["reps"]]
    teams = [t["id"] for t in ORG["teams"]]

    def rolled(kpi: str, rule: str, among: list[str]) -> Decimal | None:
        """The table's rule over the synced rep,day rows of some reps."""
        rows = db.execute(
            "SELECT rep_id, value, numerator, denominator FROM paceline.facts_rep_day "
            "WHERE kpi = ?",
            (kpi,),
        ).fetchall()
        mine = [[Decimal(str(v)) if v is not None else None for v in r[1:]] for r in rows]
        mine = [m for r, m in zip(rows, mine, strict=True) if r[0] in among]
        if rule == "value":
            return sum((v for v, _, _ in mine if v is not None), Decimal(0))
        num = sum((n for _, n, _ in mine if n is not None), Decimal(0))
        den = sum((d for _, _, d in mine if d is not None), Decimal(0))
        return num / den if den else None  # times the factor: none of these KPIs has one

    # The table's rules: exact for any grouping where it says so (company, teams, reps).
    members = {"north": ["r1", "r2"], "south": ["r3", "r4"]}  # nobody moves in November
    groupings = [("company", reps)]
    groupings += [(f"team:{t}", members[t]) for t in teams]
    groupings += [(f"rep:{r}", [r]) for r in reps]
    for kpi, rule in sorted(rules.items()):
        if rule == "grain":
            continue
        for scope, among in groupings:
            _close(rolled(kpi, rule, among), await _actual(s, kpi, scope), (kpi, scope))

    # Where it says "not exact", summed rows are wrong (here: double-counted customers).
    naive_rate = rolled("complaint_rate", "parts", reps)
    assert naive_rate is not None
    rate = await _actual(s, "complaint_rate", "company")
    assert rate is not None
    assert naive_rate * 100 < rate
    new_customers = await _actual(s, "new_customers", "company")
    assert new_customers is not None
    assert rolled("new_customers", "value", reps) != new_customers
    # ... and the grains the document gives are exact.
    for kpi in sorted(k for k, r in rules.items() if r == "grain"):
        for group_by, kinds in _grains():
            for kind in kinds:
                for scope_id in {"rep": reps, "team": teams, "company": [""]}[kind]:
                    scope = f"{kind}:{scope_id}" if scope_id else kind
                    query = {"kpi": kpi, "from": "2026-11-01", "to": "2026-11-30"}
                    query |= {"group_by": group_by} | ({"scope": scope} if not group_by else {})
                    resp = await s.client.get("/v1/facts", params=query, headers=s.auth())
                    assert resp.status_code == 200, resp.text
                    column = {"rep": "rep_id", "team": "team"}.get(group_by)
                    rows = [
                        r for r in resp.json()["rows"] if column is None or r[column] == scope_id
                    ]
                    want = await _actual(s, kpi, scope)
                    if not rows:  # nothing in that group
                        assert want in (None, 0), (kpi, group_by, scope)
                        continue
                    (row,) = rows
                    got = None if row["value"] is None else Decimal(row["value"])
                    _close(got, want, (kpi, group_by, scope))

    # The SQL questions, verbatim.
    questions = _questions()
    assert set(questions) == {
        "revenue by rep and month",
        "a ratio KPI rolled up correctly: sum the parts, then divide (ratios and averages of",
        "which targets are slipping, the furthest behind first (pace is direction-aware)",
        "every target, the best first, whatever the KPI's direction (an empty pace with",
    }
    by_rep = db.execute(questions["revenue by rep and month"]).fetchall()
    assert [(r, m) for r, m, _ in by_rep] == [(r, "2026-11-01") for r in ["r1", "r2", "r3"]]
    for rep, _, revenue in by_rep:
        _close(revenue, await _actual(s, "revenue", f"rep:{rep}"), rep)
    (month, win_rate), *more = db.execute(
        questions[
            "a ratio KPI rolled up correctly: sum the parts, then divide (ratios and averages of"
        ]
    ).fetchall()
    assert (month, more) == ("2026-11-01", [])
    _close(win_rate, await _actual(s, "win_rate", "company"), "win_rate")

    export = {
        (r[0], r[1]): r
        for r in db.execute("SELECT kpi, scope, pace, status FROM paceline.progress")
    }
    assert set(export) == {(k, s_) for k, s_, _ in TARGETS}
    for (kpi, scope), (_, _, pace, status) in export.items():
        single = await _progress(s, kpi, scope)
        assert status == single["status"], (kpi, scope)
        _close(pace, None if single["pace"] is None else Decimal(single["pace"]), (kpi, scope))
    assert export[("response_hours", "company")][2:] == (1.25, "ahead")
    assert export[("response_hours", "rep:r1")][3] == "behind"
    assert export[("complaint_rate", "rep:r4")][2:] == (None, "ahead")

    slipping = db.execute(
        questions["which targets are slipping, the furthest behind first (pace is direction-aware)"]
    ).fetchall()
    assert {r[5] for r in slipping} <= {"behind", "at_risk"}
    assert {(r[0], r[1]) for r in slipping} == {
        k for k, v in export.items() if v[3] in ("behind", "at_risk")
    }
    assert [r[4] for r in slipping] == sorted(r[4] for r in slipping)
    assert ("response_hours", "rep:r1") in {(r[0], r[1]) for r in slipping}

    best_first = db.execute(
        questions["every target, the best first, whatever the KPI's direction (an empty pace with"]
    ).fetchall()
    assert len(best_first) == len(TARGETS)
    ranks = [STATUS_RANK[r[5]] for r in best_first]
    assert ranks == sorted(ranks, reverse=True), best_first
    assert (best_first[0][0], best_first[0][1]) == ("complaint_rate", "rep:r4")
