"""``paceline bi install|grant|rotate|revoke|list``: read-only SQL logins for BI tools.

Each login is a PostgreSQL role mapped to one tenant; it can select from the
``paceline_bi`` views (:mod:`paceline.shared.db.bi_schema`, docs/BI.md "SQL access") and
sees only that tenant's rows. The views come with migration 0012 when the migrating role
may create roles, else from ``paceline bi install`` run once by a role that may. The
password is generated here, printed once, and sent to the server only as a SCRAM-SHA-256
verifier, so it never appears in the server's statement log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable

import click
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.cli import bi_repository as repo
from paceline.cli.admin import _run, _settings, data_dir_option
from paceline.shared.db import bi_schema
from paceline.shared.web.deps import Auditor

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
SCRAM_ITERATIONS = 4096


def role_name(tenant_id: str, given: str | None) -> str:
    """The role's name: the one given, or ``bi_<tenant>`` in lower case, checked."""
    name = given or "bi_" + re.sub(r"[^a-z0-9_]", "_", tenant_id.lower())
    if not ROLE_NAME.match(name) or name.startswith(("pg_", "paceline_bi_")):
        raise click.ClickException(
            f"bad role name {name!r}: lower-case letters, digits and _ (at most 63), "
            "not starting with pg_ or paceline_bi_; pass --role"
        )
    return name


def scram_verifier(password: str, *, salt: bytes | None = None) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (RFC 5802/7677)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _postgres_url() -> str:
    url = _settings().effective_database_url
    if make_url(url).get_backend_name() != "postgresql":
        raise click.ClickException(
            "SQL access for BI needs the PostgreSQL mode (PACELINE_DATABASE_URL); "
            "the embedded mode has the CSV/JSON exports (docs/BI.md)"
        )
    return url


def _connection_lines(role: str, password: str) -> list[str]:
    url = make_url(_settings().effective_database_url)
    return [
        f"host={url.host or 'localhost'} port={url.port or 5432} "
        f"dbname={url.database} user={role} schema=paceline_bi",
        f"password={password}",
        "(shown once: keep it in your BI tool's connection settings)",
    ]


@click.group()
def bi() -> None:
    """Read-only SQL logins for BI tools (PostgreSQL mode; docs/BI.md)."""


def _require_installed(session: AsyncSession) -> Awaitable[None]:
    async def check() -> None:
        if not await session.run_sync(lambda s: bi_schema.installed(s.connection())):
            raise click.ClickException(
                "the paceline_bi views are not installed in this database: run "
                "'paceline bi install' once as a role with CREATEROLE (docs/BI.md)"
            )

    return check()


@bi.command("install")
@data_dir_option
def bi_install() -> None:
    """Install the paceline_bi views (once; needs a role with CREATEROLE or a superuser)."""
    _postgres_url()

    async def work(session: AsyncSession, audit: Auditor) -> str:
        if await session.run_sync(lambda s: bi_schema.installed(s.connection())):
            return "paceline_bi is installed already"
        if not await session.run_sync(lambda s: bi_schema.permitted(s.connection())):
            raise click.ClickException(
                "this database role may not create roles: run 'paceline bi install' with "
                "PACELINE_DATABASE_URL naming a role that has CREATEROLE (or a superuser)"
            )
        await session.run_sync(lambda s: bi_schema.install(s.connection()))
        await audit.record("bi.install", target="schema:paceline_bi")
        return f"installed paceline_bi (schema version {bi_schema.SCHEMA_VERSION})"

    click.echo(_run(_settings(), work, existing=True))


@bi.command("grant")
@data_dir_option
@click.argument("tenant_id")
@click.option("--role", default=None, help="Role name (default: bi_<tenant>).")
def bi_grant(tenant_id: str, role: str | None) -> None:
    """Create a login that reads TENANT_ID's paceline_bi views; print its password once."""
    from paceline.shared.db import tenants as tenant_repo

    _postgres_url()
    name = role_name(tenant_id, role)
    password = secrets.token_urlsafe(24)

    async def work(session: AsyncSession, audit: Auditor) -> list[str]:
        await _require_installed(session)
        tenant = await tenant_repo.get_tenant(session, tenant_id=tenant_id)
        if tenant is None:
            raise click.ClickException(f"no tenant {tenant_id!r}")
        if await repo.role_exists(session, role=name):
            raise click.ClickException(
                f"role {name!r} exists already (roles are server-wide): "
                "pass another --role, or use paceline bi rotate"
            )
        await repo.create_tenant_role(
            session, role=name, tenant_id=tenant_id, verifier=scram_verifier(password)
        )
        # Scoring keeps the progress snapshot of tenants with a BI login (models_bi).
        tenant.options = {**(tenant.options or {}), bi_schema.BI_OPTION: True}
        await audit.record("bi.grant", target=f"role:{name}", tenant_id=tenant_id)
        return _connection_lines(name, password)

    for line in _run(_settings(), work, existing=True):
        click.echo(line)


@bi.command("rotate")
@data_dir_option
@click.argument("role")
def bi_rotate(role: str) -> None:
    """Give a BI login a new password (printed once); the old one stops working."""
    _postgres_url()
    password = secrets.token_urlsafe(24)

    async def work(session: AsyncSession, audit: Auditor) -> list[str]:
        tenant_id = await repo.tenant_of_role(session, role=role)
        if tenant_id is None:
            raise click.ClickException(f"{role!r} is not a BI login of this database")
        await repo.set_password(session, role=role, verifier=scram_verifier(password))
        await audit.record("bi.rotate", target=f"role:{role}", tenant_id=tenant_id)
        return _connection_lines(role, password)

    for line in _run(_settings(), work, existing=True):
        click.echo(line)


@bi.command("revoke")
@data_dir_option
@click.argument("role")
def bi_revoke(role: str) -> None:
    """Drop a BI login (open sessions of it are not ended)."""
    from paceline.shared.db import tenants as tenant_repo

    _postgres_url()

    async def work(session: AsyncSession, audit: Auditor) -> str:
        tenant_id = await repo.tenant_of_role(session, role=role)
        if tenant_id is None:
            raise click.ClickException(f"{role!r} is not a BI login of this database")
        await repo.drop_tenant_role(session, role=role)
        if not any(t == tenant_id for _r, t, _c in await repo.tenant_roles(session)):
            tenant = await tenant_repo.get_tenant(session, tenant_id=tenant_id)
            if tenant is not None:
                tenant.options = {**(tenant.options or {}), bi_schema.BI_OPTION: False}
        await audit.record("bi.revoke", target=f"role:{role}", tenant_id=tenant_id)
        return f"dropped {role} ({tenant_id})"

    click.echo(_run(_settings(), work, existing=True))


@bi.command("list")
@data_dir_option
def bi_list() -> None:
    """The BI logins of this database and their tenants."""
    _postgres_url()

    async def work(session: AsyncSession, audit: Auditor) -> list[str]:
        await _require_installed(session)
        return [f"{r}  {t}  {c}" for r, t, c in await repo.tenant_roles(session)]

    for line in _run(_settings(), work, existing=True):
        click.echo(line)
