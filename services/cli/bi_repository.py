"""SQL of ``paceline bi``: tenant login roles for the ``paceline_bi`` views (PostgreSQL).

Role names cannot be bound as parameters in ``CREATE ROLE``: callers pass only names that
:func:`paceline.cli.bi.role_name` has checked, and they are quoted here as identifiers.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

READER = "paceline_bi_reader"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    # Colons escaped: text() would read ":name" inside the literal as a bind parameter.
    return "'" + value.replace("'", "''").replace(":", "\\:") + "'"


async def role_exists(session: AsyncSession, *, role: str) -> bool:
    """Whether a role of that name exists on the server (roles are cluster-wide)."""
    found = await session.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
    return found is not None


async def create_tenant_role(
    session: AsyncSession, *, role: str, tenant_id: str, verifier: str
) -> None:
    """A login role that can read the tenant's views and nothing else."""
    await session.execute(
        text(
            f"CREATE ROLE {_ident(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
            f"NOREPLICATION CONNECTION LIMIT 10 PASSWORD {_literal(verifier)} IN ROLE {READER}"
        )
    )
    # Belt and braces: the role has no write grant anywhere; this also makes its
    # sessions read-only and bounds a runaway BI query.
    await session.execute(text(f"ALTER ROLE {_ident(role)} SET default_transaction_read_only = on"))
    await session.execute(text(f"ALTER ROLE {_ident(role)} SET statement_timeout = '120s'"))
    await session.execute(
        text("INSERT INTO paceline_bi.tenant_roles (role_name, tenant_id) VALUES (:r, :t)"),
        {"r": role, "t": tenant_id},
    )


async def set_password(session: AsyncSession, *, role: str, verifier: str) -> None:
    """Replace a tenant role's password."""
    await session.execute(text(f"ALTER ROLE {_ident(role)} PASSWORD {_literal(verifier)}"))


async def tenant_of_role(session: AsyncSession, *, role: str) -> str | None:
    """The tenant a BI role reads in this database, or None if it is not one of ours."""
    value = await session.scalar(
        text("SELECT tenant_id FROM paceline_bi.tenant_roles WHERE role_name = :r"), {"r": role}
    )
    return None if value is None else str(value)


async def tenant_roles(session: AsyncSession) -> list[tuple[str, str, str]]:
    """(role, tenant, created at) of every BI role of this database."""
    rows = await session.execute(
        text(
            "SELECT role_name, tenant_id, created_at::text FROM paceline_bi.tenant_roles "
            "ORDER BY tenant_id, role_name"
        )
    )
    return [(str(r), str(t), str(c)) for r, t, c in rows.all()]


async def drop_tenant_role(session: AsyncSession, *, role: str) -> None:
    """Remove a BI role: its mapping, then the login itself."""
    await session.execute(
        text("DELETE FROM paceline_bi.tenant_roles WHERE role_name = :r"), {"r": role}
    )
    await session.execute(text(f"DROP ROLE {_ident(role)}"))
