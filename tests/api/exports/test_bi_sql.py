"""The SQL read model for BI (``paceline_bi``: migration 0012 or ``paceline bi install``)
on real PostgreSQL, read as the tenant's own login made by ``paceline bi grant``: the views
equal ``/v1/facts``, ``/v1/targets`` and ``/v1/progress``; another tenant's rows are
invisible; base tables are out of reach; the application's role needs no CREATEROLE."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.engine import make_url

from paceline.cli.bi import scram_verifier
from paceline.cli.main import main
from paceline.shared.auth import generate_key
from paceline.shared.clock import FixedClock
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.migrate import upgrade
from paceline.shared.db.session import Database
from tests.support import Stack, distributed_settings, running_stack

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
    now = stack.now()
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
        "progress",
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


POSTGRES_EXAMPLES = re.findall(
    r"```postgresql\n(.*?)```",
    (Path(__file__).resolve().parents[3] / "docs" / "BI.md").read_text(encoding="utf-8"),
    flags=re.S,
)


async def test_the_docs_sql_examples_run_as_the_tenants_login(bi: dict[str, Any]) -> None:
    """Every statement of BI.md's PostgreSQL examples runs as the login (names right)."""
    conn: asyncpg.Connection = bi["conns"]["default"]
    statements = [
        st.strip() for block in POSTGRES_EXAMPLES for st in block.split(";") if "SELECT" in st
    ]
    assert len(statements) >= 3
    for statement in statements:
        rows = await conn.fetch(statement)
        if "paceline_bi.kpis" in statement:
            assert rows


FORBIDDEN = [
    "SELECT * FROM public.kpi_facts",
    "SELECT * FROM public.bi_progress",
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
    """Migration 0012 copied the built-in catalog; a catalog change needs a refresh."""
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


# -- progress: the scoring service's snapshot, as /v1/progress shows it -------------------

WEDNESDAY = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # 23:00 in Beijing


@pytest.fixture
async def clocked_bi(
    migrated_database_url: str, kafka_bootstrap: str, tmp_path: Path
) -> AsyncIterator[tuple[Stack, FixedClock, asyncpg.Connection, str]]:
    """A distributed stack on a fixed clock whose alert ticks only the test drives, with
    November targets and a BI login."""
    clock = FixedClock(WEDNESDAY)
    settings = distributed_settings(
        migrated_database_url,
        kafka_bootstrap,
        data_dir=tmp_path / "data",
        alerts_tick_s=0,
        delivery_poll_s=0,
    )
    async with running_stack("distributed", settings, clock=clock) as s:
        resp = await s.client.put("/v1/org", json=ORG, headers=s.auth())
        assert resp.status_code == 200, resp.text
        resp = await s.post_events(EVENTS[:5], key=None)
        assert resp.status_code == 202, resp.text
        await s.wait_scored()
        for scope, value in (("company", "9000"), ("team:north", "6000"), ("rep:r1", "3000")):
            made = await s.client.post(
                "/v1/targets",
                json={"kpi": "revenue", "scope": scope, "period": "2026-11", "target": value},
                headers=s.auth(),
            )
            assert made.status_code == 201, made.text
        role = f"bi_{make_url(migrated_database_url).database}_progress"
        conn = await _connect(
            migrated_database_url, role, await _grant(migrated_database_url, "default", role)
        )
        try:
            yield s, clock, conn, role
        finally:
            await conn.close()
            done = await asyncio.to_thread(
                CliRunner().invoke,
                main,
                ["bi", "revoke", role],
                env={"PACELINE_DATABASE_URL": migrated_database_url},
            )
            assert done.exit_code == 0, done.output


PROGRESS_FIELDS = ("actual", "target", "expected", "pace", "projection_linear", "baseline")


async def _progress_matches_api(s: Stack, conn: asyncpg.Connection) -> dict[str, Any]:
    """Every row of paceline_bi.progress equals /v1/progress of its scope now."""
    rows = await conn.fetch("SELECT * FROM paceline_bi.progress ORDER BY scope")
    assert [r["scope"] for r in rows] == ["company", "rep:r1", "team:north"]
    for row in rows:
        api = await s.client.get(
            "/v1/progress",
            params={"kpi": row["kpi"], "scope": row["scope"], "period": row["period"]},
            headers=s.auth(),
        )
        assert api.status_code == 200, api.text
        body = api.json()
        for name in PROGRESS_FIELDS:
            want = body[name]
            assert (q4(row[name]) if row[name] is not None else None) == want, (row["scope"], name)
        assert row["status"] == body["status"]
        assert row["target_version"] == body["target_version"]
        assert row["working_days_elapsed"] == body["working_days_elapsed"]
        assert row["as_of"] == s.now()
    return {r["scope"]: r for r in rows}


async def test_progress_view_equals_the_progress_api(
    clocked_bi: tuple[Stack, FixedClock, asyncpg.Connection, str],
) -> None:
    s, clock, conn, _role = clocked_bi
    alerting = s.app.state.paceline.extras["alerts"]
    assert await conn.fetchval("SELECT count(*) FROM paceline_bi.progress") == 0
    await alerting.engine.tick()
    first = await _progress_matches_api(s, conn)
    assert first["rep:r1"]["actual"] == Decimal("1000.25")  # r1's one won deal so far
    assert first["rep:r1"]["scope_name"] == "张伟"
    assert first["team:north"]["scope_name"] == "北区"
    # A day later with one more won deal: the next tick replaces the snapshot.
    clock.advance(timedelta(days=1))
    resp = await s.post_events([deal("g", "r1", "2026-11-19", "99.5", "won", "c9")])
    assert resp.status_code == 202, resp.text
    await s.wait_scored()
    await alerting.engine.tick()
    second = await _progress_matches_api(s, conn)
    assert second["rep:r1"]["actual"] == Decimal("1099.75")
    assert second["company"]["as_of"] == WEDNESDAY + timedelta(days=1)


async def test_no_snapshot_for_a_tenant_without_bi_login(
    clocked_bi: tuple[Stack, FixedClock, asyncpg.Connection, str],
) -> None:
    s, _clock, _conn, role = clocked_bi
    alerting = s.app.state.paceline.extras["alerts"]
    done = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["bi", "revoke", role],
        env={"PACELINE_DATABASE_URL": s.settings.effective_database_url},
    )
    assert done.exit_code == 0, done.output
    await alerting.engine.tick()
    async with s.db.transaction(write=False) as session:
        tenant = await tenant_repo.get_tenant(session, tenant_id="default")
        assert tenant is not None
        assert tenant.options.get("bi_sql") is False
        count = (await session.execute(text("SELECT count(*) FROM bi_progress"))).scalar()
    assert count == 0
    # The fixture's revoke then finds no such login: grant it again for the teardown.
    await _grant(s.settings.effective_database_url, "default", role)


# -- installing without CREATEROLE ---------------------------------------------------------


async def test_migrating_without_createrole_skips_the_views_until_bi_install(
    migrated_database_url: str,
) -> None:
    """The application's role needs no CREATEROLE: migrations skip the views (with a
    warning) and ``paceline bi install`` by an administrator adds them later."""
    admin_url = migrated_database_url
    u = make_url(admin_url)
    suffix = u.database.rsplit("_", 1)[-1] if u.database else "x"
    app_role, app_db = f"app_nocr_{suffix}", f"nocr_{suffix}"
    admin = await asyncpg.connect(host=u.host, port=u.port, database=u.database, user=u.username)
    try:
        await admin.execute(f"CREATE ROLE {app_role} LOGIN NOCREATEROLE NOSUPERUSER")
        await admin.execute(f"CREATE DATABASE {app_db} OWNER {app_role}")
        app_url = str(
            u.set(username=app_role, database=app_db).render_as_string(hide_password=False)
        )
        owner_url = str(u.set(database=app_db).render_as_string(hide_password=False))

        def cli(args: list[str], url: str) -> Any:
            return CliRunner().invoke(main, args, env={"PACELINE_DATABASE_URL": url})

        await asyncio.to_thread(upgrade, app_url)
        db = Database(app_url)
        async with db.transaction() as session:
            await tenant_repo.ensure_tenant(
                session, tenant_id="acme", name="Acme", now=datetime(2026, 11, 1, tzinfo=UTC)
            )
            present = await session.execute(
                text(
                    "SELECT to_regnamespace('paceline_bi') IS NOT NULL, "
                    "to_regclass('public.bi_progress') IS NOT NULL"
                )
            )
            assert tuple(present.one()) == (False, True)
        await db.dispose()
        refused = await asyncio.to_thread(cli, ["bi", "grant", "acme"], app_url)
        assert refused.exit_code == 1
        assert "paceline bi install" in refused.output
        refused = await asyncio.to_thread(cli, ["bi", "install"], app_url)
        assert refused.exit_code == 1
        assert "CREATEROLE" in refused.output
        done = await asyncio.to_thread(cli, ["bi", "install"], owner_url)
        assert done.exit_code == 0, done.output
        assert "installed paceline_bi (schema version 1)" in done.output
        again = await asyncio.to_thread(cli, ["bi", "install"], owner_url)
        assert "installed already" in again.output
        role = f"bi_nocr_{suffix}"
        password = await _grant(owner_url, "acme", role)
        reader = await _connect(owner_url, role, password)
        try:
            assert await reader.fetchval("SELECT tenant_id FROM paceline_bi.about") == "acme"
            assert await reader.fetchval("SELECT count(*) FROM paceline_bi.kpis") > 5
        finally:
            await reader.close()
        done = await asyncio.to_thread(cli, ["bi", "revoke", role], owner_url)
        assert done.exit_code == 0, done.output
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {app_db} WITH (FORCE)")
        await admin.execute(f"DROP ROLE IF EXISTS {app_role}")
        await admin.close()
