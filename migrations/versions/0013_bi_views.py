"""paceline_bi: a read-only SQL model for BI tools, isolated per tenant (PostgreSQL only)

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-05

Schema version 1 of ``paceline_bi`` (docs/BI.md, "SQL access"). A no-op on SQLite: the
embedded mode has no roles to isolate tenants with.

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
which may use the schema and select from the views, and nothing else.

Roles are cluster-wide: created here when missing, never dropped by the downgrade (other
databases on the same server may use them). Creating them needs CREATEROLE (or a
superuser) for the role that migrates.

Chained after 0011; a branch may add 0012 first, then this file's ``down_revision`` is
re-chained to it (only the order changes, not the content).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from paceline.shared.kpi.catalog import BUILTIN_KPIS

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA_VERSION = 1
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
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for role in (OWNER, READER):
        op.execute(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
            f"THEN CREATE ROLE {role} NOLOGIN; END IF; END $$"
        )
    # The migrating role hands the views to OWNER, so it must be able to act as it
    # (PostgreSQL 16 asks that of a non-superuser with CREATEROLE).
    op.execute(
        "DO $$ BEGIN IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) "
        f"THEN EXECUTE format('GRANT {OWNER} TO %I', current_user); END IF; END $$"
    )
    op.execute("CREATE SCHEMA paceline_bi")
    op.execute(
        "COMMENT ON SCHEMA paceline_bi IS "
        f"'Paceline BI read model, schema version {SCHEMA_VERSION} (docs/BI.md)'"
    )
    op.execute(
        "CREATE TABLE paceline_bi.tenant_roles (role_name text PRIMARY KEY, "
        "tenant_id text NOT NULL REFERENCES public.tenants (id) ON DELETE CASCADE, "
        "created_at timestamptz NOT NULL DEFAULT now())"
    )
    op.execute(
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
    op.bulk_insert(
        table,
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
    op.execute(
        "CREATE FUNCTION paceline_bi.current_tenant() RETURNS text "
        "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog "
        "AS $$ SELECT tenant_id FROM paceline_bi.tenant_roles "
        "WHERE role_name = session_user $$"
    )
    op.execute(f"ALTER FUNCTION paceline_bi.current_tenant() OWNER TO {OWNER}")
    op.execute("REVOKE ALL ON FUNCTION paceline_bi.current_tenant() FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION paceline_bi.current_tenant() TO {OWNER}, {READER}")
    op.execute(f"GRANT USAGE, CREATE ON SCHEMA paceline_bi TO {OWNER}")
    op.execute(f"GRANT USAGE ON SCHEMA paceline_bi TO {READER}")
    op.execute(f"GRANT SELECT ON paceline_bi.tenant_roles, paceline_bi.builtin_kpis TO {OWNER}")
    for name, column in TENANT_TABLES.items():
        op.execute(f"GRANT SELECT ON public.{name} TO {OWNER}")
        op.execute(f"ALTER TABLE public.{name} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY paceline_all ON public.{name} AS PERMISSIVE FOR ALL TO PUBLIC "
            "USING (true) WITH CHECK (true)"
        )
        op.execute(
            f"CREATE POLICY paceline_bi_tenant ON public.{name} AS RESTRICTIVE FOR SELECT "
            f"TO {OWNER}, {READER} USING ({column} = {ME})"
        )
    for name, body in VIEWS.items():
        op.execute(
            f"CREATE VIEW paceline_bi.{name} WITH (security_barrier = true) AS {body.strip()}"
        )
        op.execute(f"ALTER VIEW paceline_bi.{name} OWNER TO {OWNER}")
        op.execute(f"GRANT SELECT ON paceline_bi.{name} TO {READER}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in TENANT_TABLES:
        op.execute(f"DROP POLICY IF EXISTS paceline_bi_tenant ON public.{name}")
        op.execute(f"DROP POLICY IF EXISTS paceline_all ON public.{name}")
        op.execute(f"ALTER TABLE public.{name} DISABLE ROW LEVEL SECURITY")
        op.execute(f"REVOKE SELECT ON public.{name} FROM {OWNER}")
    # Tenant login roles stay (cluster-wide); without the schema they can read nothing.
    op.execute("DROP SCHEMA paceline_bi CASCADE")
