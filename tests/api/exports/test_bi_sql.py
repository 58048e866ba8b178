"""The SQL read model for BI (``paceline_bi``, migration 0013) on real PostgreSQL, read as
the tenant's own login made by ``paceline bi grant``: the views equal ``/v1/facts`` and
``/v1/targets``; another tenant's rows are invisible; base tables are out of reach."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from paceline.cli.bi import scram_verifier
from paceline.cli.main import main
from paceline.shared.auth import generate_key
from paceline.shared.db import tenants as tenant_repo
from tests.support import Stack

NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}
ORG: dict[str, Any] = {
    "teams": [{"id": "north", "name": "北区"}, {"id": "south", "name": "South"}],
    "reps": [
        {"id": "r1", "name": "张伟", "team_id": "north"},
        {"id": "r2", "name": "Bo", "team_id": "north"},
        {"id": "r3", "name": "Cy", "team_id": "south"},
    ],
}
OTHER_ORG: dict[str, Any] = {
    "teams": [{"id": "west", "name": "West"}],
    "reps": [{"id": "x1", "name": "Secret Rep", "team_id": "west"}],
}


def deal(entity: str, rep: str, day: str, amount: str, stage: str, customer: str) -> dict[str, Any]:
    """One deal version at 10:00 Beijing time on ``day``."""
    return {
        "event_id": f"{entity}-v1",
        "type": "deal",
        "entity_id": entity,
        "version": 1,
        "occurred_at": f"{day}T10:00:00+08:00",
        "rep_id": rep,
        "customer_id": customer,
        "stage": stage,
        "amount": amount,
    }


def visit(n: int, rep: str, day: str, customer: str) -> dict[str, Any]:
    """One visit."""
    return {
        "event_id": f"v-{n}",
        "type": "visit",
        "occurred_at": f"{day}T09:00:00+08:00",
        "rep_id": rep,
        "customer_id": customer,
        "channel": "onsite",
    }


EVENTS = [
    deal("a", "r1", "2026-11-03", "1000.25", "won", "c1"),
    deal("b", "r1", "2026-11-03", "500", "lost", "c2"),
    deal("c", "r1", "2026-11-03", "700", "lost", "c3"),
    deal("d", "r2", "2026-11-05", "300", "won", "c1"),
    deal("e", "r2", "2026-11-20", "700", "won", "c4"),
    deal("f", "r3", "2026-11-20", "200", "lost", "c5"),
    *(visit(i, "r3" if i % 2 else "r1", f"2026-11-{10 + i % 5}", f"c{i % 3}") for i in range(9)),
]
OTHER_EVENTS = [deal("z", "x1", "2026-11-04", "777777", "won", "k1")]


async def _tenant_key(stack: Stack, tenant_id: str) -> str:
    """A second tenant with an admin key."""
    key = generate_key()
    now = datetime.now(UTC)
    async with stack.db.transaction() as session:
        await tenant_repo.ensure_tenant(session, tenant_id=tenant_id, name=tenant_id, now=now)
        await tenant_repo.add_key(
            session, tenant_id=tenant_id, key=key, name="admin", scopes=["admin"], now=now
        )
    return key.plaintext


async def _grant(url: str, tenant: str, role: str) -> str:
    """``paceline bi grant TENANT --role ROLE``; the printed password."""
    result = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["bi", "grant", tenant, "--role", role],
        env={"PACELINE_DATABASE_URL": url},
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert f"user={role} schema=paceline_bi" in lines[0]
    return lines[1].removeprefix("password=")


async def _connect(url: str, role: str, password: str) -> asyncpg.Connection:
    u = make_url(url)
    conn: asyncpg.Connection = await asyncpg.connect(
        host=u.host, port=u.port, database=u.database, user=role, password=password
    )
    return conn


def q4(value: Any) -> str | None:
    """A view's unrounded number as the API shows it: 4 places, half-even."""
    if value is None:
        return None
    return str(Decimal(value).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))


@pytest.fixture
async def bi(distributed_stack: Stack) -> AsyncIterator[dict[str, Any]]:
    """Two tenants with facts and targets, and a BI login for each."""
    s = distributed_stack
    other_key = await _tenant_key(s, "globex")
    for key, org, events in ((None, ORG, EVENTS), (other_key, OTHER_ORG, OTHER_EVENTS)):
        resp = await s.client.put("/v1/org", json=org, headers=s.auth(key))
        assert resp.status_code == 200, resp.text
        resp = await s.post_events(events, key=key)
        assert resp.status_code == 202, resp.text
    await s.wait_scored()
    # r2 moves to south on the 16th: facts keep the team of their day.
    resp = await s.client.put(
        "/v1/reps/r2",
        params={"effective_from": "2026-11-16"},
        json={"id": "r2", "name": "Bo", "team_id": "south"},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    for key, scope, value in ((None, "rep:r1", "5000"), (other_key, "rep:x1", "1")):
        made = await s.client.post(
            "/v1/targets",
            json={"kpi": "revenue", "scope": scope, "period": "2026-12", "target": value},
            headers=s.auth(key),
        )
        assert made.status_code == 201, made.text
    revised = await s.client.put(
        f"/v1/targets/{made.json()['id']}",
        json={"target": "2.5", "reason": "plan"},
        headers=s.auth(other_key),
    )
    assert revised.status_code == 200, revised.text
    url = s.settings.effective_database_url
    db = make_url(url).database
    roles = {"default": f"bi_{db}_default", "globex": f"bi_{db}_globex"}
    conns = {}
    for tenant, role in roles.items():
        conns[tenant] = await _connect(url, role, await _grant(url, tenant, role))
    try:
        yield {"stack": s, "other_key": other_key, "conns": conns, "roles": roles, "url": url}
    finally:
        for conn in conns.values():
            await conn.close()
        for role in roles.values():
            done = await asyncio.to_thread(
                CliRunner().invoke, main, ["bi", "revoke", role], env={"PACELINE_DATABASE_URL": url}
            )
            assert done.exit_code == 0, done.output


async def test_facts_view_equals_the_facts_api(bi: dict[str, Any]) -> None:
    s: Stack = bi["stack"]
    conn: asyncpg.Connection = bi["conns"]["default"]
    kpis = await conn.fetch("SELECT kpi, in_facts, name_zh, name_en FROM paceline_bi.kpis")
    assert {r["kpi"] for r in kpis} >= {"revenue", "win_rate", "visits", "new_customers"}
    assert all(r["name_zh"] and r["name_en"] for r in kpis)
    checked = 0
    for row in kpis:
        if not row["in_facts"]:
            continue
        api = await s.client.get(
            "/v1/facts",
            params={"kpi": row["kpi"], **NOVEMBER, "group_by": "team,rep,day", "limit": 5000},
            headers=s.auth(),
        )
        assert api.status_code == 200, api.text
        expected = {
            (r["rep_id"], r["day"]): (
                r["team"],
                r["value"],
                r["numerator"],
                r["denominator"],
                r["sample"],
            )
            for r in api.json()["rows"]
        }
        viewed = await conn.fetch(
            "SELECT * FROM paceline_bi.facts_rep_day WHERE kpi = $1 "
            "AND day BETWEEN '2026-11-01' AND '2026-11-30'",
            row["kpi"],
        )
        got = {
            (v["rep_id"], v["day"].isoformat()): (
                v["team_id"],
                q4(v["value"]),
                q4(v["numerator"]),
                q4(v["denominator"]),
                v["sample"],
            )
            for v in viewed
        }
        assert got == expected, row["kpi"]
        checked += len(got)
        names = {v["rep_id"]: (v["rep_name"], v["team_name"]) for v in viewed}
        if "r1" in names:
            assert names["r1"] == ("张伟", "北区")
    assert checked >= 10
    # Each rep's facts carry the team of their day (r2 moved to south on the 16th).
    teams = await conn.fetch(
        "SELECT DISTINCT day, team_id FROM paceline_bi.facts_rep_day WHERE rep_id = 'r2' "
        "AND kpi = 'revenue' ORDER BY day"
    )
    assert [(t["day"].isoformat(), t["team_id"]) for t in teams] == [
        ("2026-11-05", "north"),
        ("2026-11-20", "south"),
    ]
    # The org chart over time, with names.
    spans = await conn.fetch(
        "SELECT team_id, team_name, valid_from, valid_to FROM paceline_bi.memberships "
        "WHERE rep_id = 'r2' ORDER BY valid_from"
    )
    assert [(m["team_id"], m["valid_to"] is None) for m in spans] == [
        ("north", False),
        ("south", True),
    ]


async def test_targets_views_equal_the_targets_api(bi: dict[str, Any]) -> None:
    s: Stack = bi["stack"]
    for tenant, key in (("default", None), ("globex", bi["other_key"])):
        conn: asyncpg.Connection = bi["conns"][tenant]
        api = await s.client.get("/v1/targets", headers=s.auth(key))
        assert api.status_code == 200, api.text
        expected = {
            t["id"]: (t["kpi"], t["scope"], t["period"], t["version"], Decimal(t["target"]))
            for t in api.json()
        }
        current = await conn.fetch("SELECT * FROM paceline_bi.targets")
        assert {
            r["target_id"]: (r["kpi"], r["scope"], r["period"], r["version"], r["target"])
            for r in current
        } == expected
        versions = await conn.fetch(
            "SELECT target_id, version, target FROM paceline_bi.target_versions "
            "ORDER BY target_id, version"
        )
        assert len(versions) == (2 if tenant == "globex" else 1)


async def test_another_tenants_rows_are_invisible(bi: dict[str, Any]) -> None:
    mine: asyncpg.Connection = bi["conns"]["default"]
    theirs: asyncpg.Connection = bi["conns"]["globex"]
    views = [
        r["table_name"]
        for r in await mine.fetch(
            "SELECT table_name FROM information_schema.views WHERE table_schema = 'paceline_bi'"
        )
    ]
    assert set(views) == {
        "about",
        "kpis",
        "teams",
        "reps",
        "memberships",
        "facts_rep_day",
        "targets",
        "target_versions",
        "alerts",
    }
    for view in views:
        for conn, tenant in ((mine, "default"), (theirs, "globex")):
            # The view names come from the catalog above, not from input.
            sql = f"SELECT DISTINCT tenant_id FROM paceline_bi.{view}"  # noqa: S608
            tenants = await conn.fetch(sql)
            assert {t["tenant_id"] for t in tenants} <= {tenant}, view
    assert await theirs.fetchval("SELECT count(*) FROM paceline_bi.reps") == 1
    assert await mine.fetchval("SELECT count(*) FROM paceline_bi.reps WHERE rep_id = 'x1'") == 0
    revenue = await theirs.fetch(
        "SELECT rep_id, rep_name, value FROM paceline_bi.facts_rep_day WHERE kpi = 'revenue'"
    )
    assert [(r["rep_id"], r["rep_name"], r["value"]) for r in revenue] == [
        ("x1", "Secret Rep", Decimal("777777"))
    ]
    assert (
        await mine.fetchval("SELECT count(*) FROM paceline_bi.facts_rep_day WHERE rep_id = 'x1'")
        == 0
    )
    assert await mine.fetchval("SELECT tenant_id FROM paceline_bi.about") == "default"
    # A leaky function of the user's own runs only on rows the user may see
    # (security_barrier views over row-level security).
    seen: list[str] = []
    mine.add_log_listener(lambda _c, msg: seen.append(str(msg)))
    await mine.execute("BEGIN READ WRITE")  # temporary objects only: the TEMP privilege
    try:
        await mine.execute(
            "CREATE FUNCTION pg_temp.leak(text) RETURNS boolean LANGUAGE plpgsql "
            "COST 0.0000001 AS $$ BEGIN RAISE NOTICE 'saw %', $1; RETURN true; END $$"
        )
        await mine.fetch("SELECT * FROM paceline_bi.reps WHERE pg_temp.leak(name)")
        await mine.fetch("SELECT * FROM paceline_bi.facts_rep_day WHERE pg_temp.leak(rep_name)")
    finally:
        await mine.execute("ROLLBACK")
    assert seen
    assert not any("Secret Rep" in m for m in seen), seen


FORBIDDEN = [
    "SELECT * FROM public.kpi_facts",
    "SELECT * FROM public.reps",
    "SELECT * FROM public.api_keys",
    "SELECT * FROM public.events",
    "SELECT * FROM paceline_bi.tenant_roles",
    "SELECT * FROM paceline_bi.builtin_kpis",
    "UPDATE paceline_bi.reps SET name = 'x'",
    "DELETE FROM paceline_bi.alerts",
    "INSERT INTO paceline_bi.tenant_roles VALUES ('bi_x', 'globex')",
    "CREATE TABLE paceline_bi.mine (x int)",
    "SET ROLE paceline_bi_owner",
]


async def test_the_role_reads_only_the_views(bi: dict[str, Any]) -> None:
    for sql in FORBIDDEN:
        await _refused(bi["conns"]["default"], sql)


async def _refused(conn: asyncpg.Connection, sql: str) -> None:
    with pytest.raises(asyncpg.PostgresError) as caught:
        await conn.execute(sql)
    assert isinstance(
        caught.value,
        asyncpg.InsufficientPrivilegeError | asyncpg.ReadOnlySQLTransactionError,
    ), (sql, caught.value)
    # Even in a writable transaction, writes are refused by privileges, not only by the
    # read-only default.
    if not sql.startswith(("SELECT", "SET")):
        await conn.execute("BEGIN READ WRITE")
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(sql)
        finally:
            await conn.execute("ROLLBACK")


async def test_builtin_kpis_copy_equals_the_catalog(distributed_stack: Stack) -> None:
    """Migration 0013 copied the built-in catalog; a catalog change needs a refresh."""
    from sqlalchemy import text

    from paceline.shared.kpi.catalog import BUILTIN_KPIS

    async with distributed_stack.db.transaction(write=False) as session:
        rows = (
            await session.execute(
                text(
                    "SELECT kpi, name_zh, name_en, unit, direction, formula, shape, factor, "
                    "kinds, version FROM paceline_bi.builtin_kpis ORDER BY kpi"
                )
            )
        ).all()
    assert [tuple(r) for r in rows] == sorted(
        (
            k.key,
            k.name_zh,
            k.name_en,
            k.unit,
            k.direction,
            k.formula.text,
            k.formula.shape,
            k.formula.factor,
            [m.kind for m in k.formula.measures],
            k.version,
        )
        for k in BUILTIN_KPIS
    )


def test_scram_verifier_matches_rfc_7677() -> None:
    """The verifier of RFC 7677's example (user "user", password "pencil")."""
    salt = __import__("base64").b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    verifier = scram_verifier("pencil", salt=salt)
    assert verifier.startswith("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$")
    # RFC 7677's ServerSignature is built from this ServerKey.
    assert verifier.endswith(":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=")


def test_grant_refuses_the_embedded_mode(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["bi", "grant", "default"], env={"PACELINE_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 1
    assert "needs the PostgreSQL mode" in result.output
