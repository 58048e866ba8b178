"""The BI SQL model (``paceline_bi``, schema version 1): install and remove (PostgreSQL).

Used by migration 0012 when the migrating role may create roles, and by
``paceline bi install`` (run once by a role that may) when it may not: the application's
own database role needs no CREATEROLE to run Paceline. docs/BI.md, "SQL access".

Isolation, in two independent layers (both keyed on the login role, which a BI user
cannot change; never on a setting, which any session can ``SET``):

1. The views are owned by ``paceline_bi_owner`` (NOLOGIN, not the tables' owner) and
   filter on ``paceline_bi.current_tenant()``: the tenant mapped to ``session_user`` in
   ``paceline_bi.tenant_roles``. They are ``security_barrier`` views, so a user's own
   (possibly leaky) functions in a ``WHERE`` run only after the tenant filter.
2. Row-level security on the base tables the views read: a permissive policy for every
   role (nothing changes for the application, which owns the tables and bypasses RLS
   anyway) and a restrictive one for ``paceline_bi_owner`` and ``paceline_bi_reader``
   that keeps only the current tenant's rows. Because the views' owner is not the
   tables' owner, RLS applies inside the views too.

Tenant login roles (``paceline bi grant TENANT``) are members of ``paceline_bi_reader``,
which may use the schema and select from the views, and nothing else. Roles are
cluster-wide: created when missing, never dropped (other databases may use them).

This is version 1, frozen: a later version is a new function and a migration that calls
it, so a database migrated years ago is rebuilt the same way.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from paceline.shared.kpi.catalog import BUILTIN_KPIS

SCHEMA_VERSION = 1
BI_OPTION = "bi_sql"  # tenants.options: the tenant has BI logins (its progress is kept)
TEXT_COLUMNS = (
    "kpi",
    "name_zh",
    "name_en",
    "description_zh",
    "description_en",
    "unit",
    "direction",
    "category",
    "formula",
    "shape",
)
OWNER = "paceline_bi_owner"
READER = "paceline_bi_reader"

# Base tables the views read, with their tenant column (RLS on each).
TENANT_TABLES = {
    "tenants": "id",
    "teams": "tenant_id",
    "reps": "tenant_id",
    "rep_memberships": "tenant_id",
    "kpi_facts": "tenant_id",
    "kpi_fact_members": "tenant_id",
    "kpi_definitions": "tenant_id",
    "targets": "tenant_id",
    "target_versions": "tenant_id",
    "alerts": "tenant_id",
    "bi_progress": "tenant_id",
}

ME = "(SELECT paceline_bi.current_tenant())"  # an InitPlan: evaluated once per query

VIEWS: dict[str, str] = {
    "about": f"""
        SELECT {SCHEMA_VERSION} AS schema_version, {ME} AS tenant_id
    """,
    "kpis": f"""
        SELECT t.id AS tenant_id, b.kpi, true AS builtin, b.name_zh, b.name_en,
               b.description_zh, b.description_en, b.unit, b.direction, b.category,
               b.formula, b.min_sample, b.version, b.shape,
               b.shape IN ('value', 'ratio') AS in_facts
        FROM public.tenants t CROSS JOIN paceline_bi.builtin_kpis b
        WHERE t.id = {ME}
        UNION ALL
        SELECT d.tenant_id, d.key, false, d.name_zh, d.name_en, d.description_zh,
               d.description_en, d.unit, d.direction, d.category, d.formula, d.min_sample,
               d.version, NULL, false
        FROM public.kpi_definitions d
        WHERE d.tenant_id = {ME} AND d.active
    """,
    "teams": f"""
        SELECT t.tenant_id, t.id AS team_id, t.name, t.parent_id, t.active, t.updated_at
        FROM public.teams t WHERE t.tenant_id = {ME}
    """,
    "reps": f"""
        SELECT r.tenant_id, r.id AS rep_id, r.name, r.role, r.active, r.updated_at
        FROM public.reps r WHERE r.tenant_id = {ME}
    """,
    "memberships": f"""
        SELECT m.tenant_id, m.rep_id, r.name AS rep_name, m.team_id, t.name AS team_name,
               m.valid_from, m.valid_to
        FROM public.rep_memberships m
        LEFT JOIN public.reps r ON r.tenant_id = m.tenant_id AND r.id = m.rep_id
        LEFT JOIN public.teams t ON t.tenant_id = m.tenant_id AND t.id = m.team_id
        WHERE m.tenant_id = {ME}
    """,
    # One row per KPI x rep x day with facts, as /v1/facts?group_by=rep,day shows it
    # (everything known now; unrounded: the API rounds to 4 places, half-even). KPIs
    # whose value SQL cannot give honestly (custom formulas, working-day shares, which
    # need the work calendar) are absent: kpis.in_facts says which are here.
    "facts_rep_day": f"""
        WITH sums AS (
            SELECT f.tenant_id, f.kpi, f.rep_id, f.day, f.measure,
                   sum(f.value) AS units, sum(f.n) AS records
            FROM public.kpi_facts f WHERE f.tenant_id = {ME}
            GROUP BY 1, 2, 3, 4, 5
        ), members AS (
            SELECT m.tenant_id, m.kpi, m.rep_id, m.day, m.measure,
                   count(DISTINCT m.member) AS members
            FROM public.kpi_fact_members m WHERE m.tenant_id = {ME} AND m.n > 0
            GROUP BY 1, 2, 3, 4, 5
        ), keys AS (
            SELECT tenant_id, kpi, rep_id, day FROM sums
            UNION SELECT tenant_id, kpi, rep_id, day FROM members
        ), parts AS (
            SELECT k.tenant_id, k.kpi, k.rep_id, k.day, b.shape, b.factor, b.kinds,
                   CASE b.kinds[1]
                       WHEN 'distinct' THEN coalesce(m0.members, 0)::numeric
                       WHEN 'count' THEN floor(coalesce(s0.units, 0) / 10000.0)
                       ELSE coalesce(s0.units, 0) / 10000.0 END AS v0,
                   CASE b.kinds[2]
                       WHEN 'distinct' THEN coalesce(m1.members, 0)::numeric
                       WHEN 'count' THEN floor(coalesce(s1.units, 0) / 10000.0)
                       ELSE coalesce(s1.units, 0) / 10000.0 END AS v1,
                   coalesce(s0.records, 0) AS r0, coalesce(m0.members, 0) AS n0,
                   coalesce(s1.records, 0) AS r1, coalesce(m1.members, 0) AS n1
            FROM keys k
            JOIN paceline_bi.builtin_kpis b ON b.kpi = k.kpi AND b.shape IN ('value', 'ratio')
            LEFT JOIN sums s0 ON (s0.tenant_id, s0.kpi, s0.rep_id, s0.day, s0.measure)
                               = (k.tenant_id, k.kpi, k.rep_id, k.day, 0)
            LEFT JOIN sums s1 ON (s1.tenant_id, s1.kpi, s1.rep_id, s1.day, s1.measure)
                               = (k.tenant_id, k.kpi, k.rep_id, k.day, 1)
            LEFT JOIN members m0 ON (m0.tenant_id, m0.kpi, m0.rep_id, m0.day, m0.measure)
                               = (k.tenant_id, k.kpi, k.rep_id, k.day, 0)
            LEFT JOIN members m1 ON (m1.tenant_id, m1.kpi, m1.rep_id, m1.day, m1.measure)
                               = (k.tenant_id, k.kpi, k.rep_id, k.day, 1)
        )
        SELECT p.tenant_id, p.kpi, p.day, p.rep_id, r.name AS rep_name,
               tm.team_id, t.name AS team_name,
               CASE WHEN p.shape = 'value' THEN p.v0 * p.factor
                    WHEN p.v1 = 0 THEN NULL
                    ELSE p.v0 / p.v1 * p.factor END AS value,
               CASE WHEN p.shape = 'value' THEN p.v0 * p.factor ELSE p.v0 END AS numerator,
               CASE WHEN p.shape = 'value' THEN NULL ELSE p.v1 END AS denominator,
               CASE WHEN p.shape = 'value' THEN (CASE WHEN p.r0 <> 0 THEN p.r0 ELSE p.n0 END)
                    WHEN p.kinds[2] = 'distinct' THEN p.n1
                    ELSE p.r1 END AS sample
        FROM parts p
        LEFT JOIN LATERAL (
            SELECT ms.team_id FROM public.rep_memberships ms
            WHERE ms.tenant_id = p.tenant_id AND ms.rep_id = p.rep_id
              AND ms.valid_from <= p.day AND (ms.valid_to IS NULL OR p.day < ms.valid_to)
            ORDER BY ms.valid_from DESC LIMIT 1
        ) tm ON true
        LEFT JOIN public.reps r ON r.tenant_id = p.tenant_id AND r.id = p.rep_id
        LEFT JOIN public.teams t ON t.tenant_id = p.tenant_id AND t.id = tm.team_id
    """,
    "target_versions": f"""
        SELECT t.tenant_id, t.id AS target_id, t.kpi, t.scope,
               split_part(t.scope, ':', 1) AS scope_kind,
               nullif(substr(t.scope, length(split_part(t.scope, ':', 1)) + 2), '') AS scope_id,
               t.period, t.period_kind, t.start, t."end", t.parent_id, v.version,
               v.version = t.current_version AS is_current,
               v.baseline::numeric AS baseline, v.target::numeric AS target,
               v.stretch::numeric AS stretch, v.recorded_at, v.author, v.reason
        FROM public.targets t
        JOIN public.target_versions v ON v.target_id = t.id AND v.tenant_id = t.tenant_id
        WHERE t.tenant_id = {ME}
    """,
    "targets": """
        SELECT tenant_id, target_id, kpi, scope, scope_kind, scope_id, period, period_kind,
               start, "end", parent_id, version, baseline, target, stretch, recorded_at,
               author, reason
        FROM paceline_bi.target_versions WHERE is_current
    """,
    "alerts": f"""
        SELECT a.tenant_id, a.id AS alert_id, a.kind, a.type, a.scope, a.severity, a.status,
               a.title, a.detail, a.occurrences, a.first_seen_at, a.last_seen_at,
               a.acknowledged_at, a.acknowledged_by, a.resolved_at
        FROM public.alerts a WHERE a.tenant_id = {ME}
    """,
    # Targets of current periods as /v1/progress showed them at as_of (a snapshot the
    # scoring service refreshes each lag slot: models_bi), with the scope's name.
    "progress": f"""
        SELECT p.tenant_id, p.target_id, p.kpi, p.scope,
               split_part(p.scope, ':', 1) AS scope_kind,
               nullif(substr(p.scope, length(split_part(p.scope, ':', 1)) + 2), '') AS scope_id,
               coalesce(t.name, r.name) AS scope_name, p.period, p.period_start, p.period_end,
               p.target_version, p.as_of, p.actual, p.target, p.baseline, p.stretch,
               p.expected, p.pace, p.projection_linear, p.status, p.sample,
               p.working_days_elapsed, p.working_days_total
        FROM public.bi_progress p
        LEFT JOIN public.teams t ON p.scope = 'team:' || t.id AND t.tenant_id = p.tenant_id
        LEFT JOIN public.reps r ON p.scope = 'rep:' || r.id AND r.tenant_id = p.tenant_id
        WHERE p.tenant_id = {ME}
    """,
}


def permitted(conn: Connection) -> bool:
    """Whether the connected role can install the model: a superuser, a role with
    CREATEROLE, or a member of both roles made beforehand by an administrator."""
    row = conn.execute(
        sa.text(
            "SELECT r.rolsuper OR r.rolcreaterole OR ("
            "  pg_has_role(current_user, o.oid, 'MEMBER') AND rd.oid IS NOT NULL) "
            "FROM pg_roles r "
            "LEFT JOIN pg_roles o ON o.rolname = :owner "
            "LEFT JOIN pg_roles rd ON rd.rolname = :reader "
            "WHERE r.rolname = current_user"
        ),
        {"owner": OWNER, "reader": READER},
    ).scalar()
    return bool(row)


def installed(conn: Connection) -> bool:
    """Whether the ``paceline_bi`` schema exists in this database."""
    return bool(conn.execute(sa.text("SELECT to_regnamespace('paceline_bi') IS NOT NULL")).scalar())


def install(conn: Connection) -> None:
    """Create the roles (when missing), the schema, its views and the row-level security."""

    def run(sql: str) -> None:
        conn.execute(sa.text(sql))

    for role in (OWNER, READER):
        run(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
            f"THEN CREATE ROLE {role} NOLOGIN; END IF; END $$"
        )
    # The migrating role hands the views to OWNER, so it must be able to act as it
    # (PostgreSQL 16 asks that of a non-superuser with CREATEROLE).
    run(
        "DO $$ BEGIN IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) "
        f"THEN EXECUTE format('GRANT {OWNER} TO %I', current_user); END IF; END $$"
    )
    run("CREATE SCHEMA paceline_bi")
    run(
        "COMMENT ON SCHEMA paceline_bi IS "
        f"'Paceline BI read model, schema version {SCHEMA_VERSION} (docs/BI.md)'"
    )
    run(
        "CREATE TABLE paceline_bi.tenant_roles (role_name text PRIMARY KEY, "
        "tenant_id text NOT NULL REFERENCES public.tenants (id) ON DELETE CASCADE, "
        "created_at timestamptz NOT NULL DEFAULT now())"
    )
    run(
        "CREATE TABLE paceline_bi.builtin_kpis (kpi text PRIMARY KEY, name_zh text NOT NULL, "
        "name_en text NOT NULL, description_zh text NOT NULL, description_en text NOT NULL, "
        "unit text NOT NULL, direction text NOT NULL, category text NOT NULL, "
        "formula text NOT NULL, min_sample integer NOT NULL, version integer NOT NULL, "
        "shape text NOT NULL, factor numeric NOT NULL, kinds text[] NOT NULL)"
    )
    table = sa.table(
        "builtin_kpis",
        *(sa.column(c, sa.Text()) for c in TEXT_COLUMNS),
        sa.column("min_sample", sa.Integer()),
        sa.column("version", sa.Integer()),
        sa.column("factor", sa.Numeric()),
        sa.column("kinds", postgresql.ARRAY(sa.Text())),
        schema="paceline_bi",
    )
    # The built-in catalog lives in code; this copy is what SQL can join. A change to
    # the catalog needs a migration that refreshes it (tests/api/exports/test_bi_sql.py
    # compares the two).
    conn.execute(
        table.insert(),
        [
            {
                "kpi": k.key,
                "name_zh": k.name_zh,
                "name_en": k.name_en,
                "description_zh": k.description_zh,
                "description_en": k.description_en,
                "unit": k.unit,
                "direction": k.direction,
                "category": k.category,
                "formula": k.formula.text,
                "shape": k.formula.shape,
                "min_sample": k.min_sample,
                "version": k.version,
                "factor": k.formula.factor,
                "kinds": [m.kind for m in k.formula.measures],
            }
            for k in BUILTIN_KPIS
        ],
    )
    run(
        "CREATE FUNCTION paceline_bi.current_tenant() RETURNS text "
        "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog "
        "AS $$ SELECT tenant_id FROM paceline_bi.tenant_roles "
        "WHERE role_name = session_user $$"
    )
    run(f"ALTER FUNCTION paceline_bi.current_tenant() OWNER TO {OWNER}")
    run("REVOKE ALL ON FUNCTION paceline_bi.current_tenant() FROM PUBLIC")
    run(f"GRANT EXECUTE ON FUNCTION paceline_bi.current_tenant() TO {OWNER}, {READER}")
    run(f"GRANT USAGE, CREATE ON SCHEMA paceline_bi TO {OWNER}")
    run(f"GRANT USAGE ON SCHEMA paceline_bi TO {READER}")
    run(f"GRANT SELECT ON paceline_bi.tenant_roles, paceline_bi.builtin_kpis TO {OWNER}")
    for name, column in TENANT_TABLES.items():
        run(f"GRANT SELECT ON public.{name} TO {OWNER}")
        run(f"ALTER TABLE public.{name} ENABLE ROW LEVEL SECURITY")
        run(
            f"CREATE POLICY paceline_all ON public.{name} AS PERMISSIVE FOR ALL TO PUBLIC "
            "USING (true) WITH CHECK (true)"
        )
        run(
            f"CREATE POLICY paceline_bi_tenant ON public.{name} AS RESTRICTIVE FOR SELECT "
            f"TO {OWNER}, {READER} USING ({column} = {ME})"
        )
    for name, body in VIEWS.items():
        run(f"CREATE VIEW paceline_bi.{name} WITH (security_barrier = true) AS {body.strip()}")
        run(f"ALTER VIEW paceline_bi.{name} OWNER TO {OWNER}")
        run(f"GRANT SELECT ON paceline_bi.{name} TO {READER}")


def uninstall(conn: Connection) -> None:
    """Drop the schema and the policies (tenant login roles stay; they read nothing then)."""

    def run(sql: str) -> None:
        conn.execute(sa.text(sql))

    for name in TENANT_TABLES:
        run(f"DROP POLICY IF EXISTS paceline_bi_tenant ON public.{name}")
        run(f"DROP POLICY IF EXISTS paceline_all ON public.{name}")
        run(f"ALTER TABLE public.{name} DISABLE ROW LEVEL SECURITY")
        run(f"REVOKE SELECT ON public.{name} FROM {OWNER}")
    # Tenant login roles stay (cluster-wide); without the schema they can read nothing.
    run("DROP SCHEMA paceline_bi CASCADE")
