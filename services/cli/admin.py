"""``paceline tenants ...`` and ``paceline keys ...``: the operator's commands.

They call the same services as the API (services/api/tenants, services/api/keys) in one
transaction each, and record each change in the audit log with the actor ``cli``.
A key's plaintext is printed once, on standard output, and never again.

Commands that create (``tenants create``, ``keys create``) migrate the database first, and
so make an embedded one where there is none. Commands that read or change what is there
(``list``, ``revoke``, ``rotate``) refuse when there is no Paceline database, instead of
leaving an empty one behind in whatever directory they were run from.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import click
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.cli import messages
from paceline.shared.auth import PLATFORM_TENANT, SCOPES
from paceline.shared.clock import SystemClock
from paceline.shared.errors import PacelineError
from paceline.shared.settings import Settings
from paceline.shared.web.deps import Auditor

T = TypeVar("T")


_DATA_DIR = "paceline.data_dir"


def _remember_data_dir(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.meta[_DATA_DIR] = value


# Every admin command takes --data-dir, like ``paceline serve`` (PACELINE_DATA_DIR otherwise).
data_dir_option = click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    expose_value=False,
    callback=_remember_data_dir,
    help="Where the embedded database lives (default: PACELINE_DATA_DIR or ./var).",
)


def _settings() -> Settings:
    ctx = click.get_current_context(silent=True)
    data_dir = ctx.meta.get(_DATA_DIR) if ctx is not None else None
    try:
        return Settings(**({"data_dir": data_dir} if data_dir is not None else {}))
    except ValueError as exc:
        raise click.ClickException(f"bad settings: {exc}") from None


def _database_exists(url: str) -> bool:
    """Whether ``url`` names a Paceline database, looked at without creating anything."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url

    from paceline.shared.db.session import Database

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # Connecting would create the file: look for it instead.
        name = parsed.database or ""
        return name in ("", ":memory:") or Path(name).is_file()

    async def migrated() -> bool:
        db = Database(url)
        try:
            async with db.engine.connect() as conn:
                return await conn.run_sync(lambda c: inspect(c).has_table("alembic_version"))
        finally:
            await db.dispose()

    return asyncio.run(migrated())


def _where(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return str(parsed.database)
    return parsed.render_as_string(hide_password=True)


def _run(
    settings: Settings,
    work: Callable[[AsyncSession, Auditor], Awaitable[T]],
    *,
    existing: bool = False,
) -> T:
    """Migrate, then run ``work`` in one write transaction; errors become CLI errors.

    ``existing``: refuse, creating nothing, when there is no Paceline database yet.
    """
    from paceline.shared.db.migrate import upgrade
    from paceline.shared.db.session import Database

    if existing and not _database_exists(settings.effective_database_url):
        where = _where(settings.effective_database_url)
        raise click.ClickException(messages.NO_DATABASE.format(path=where))
    if settings.effective_database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)

    async def run() -> T:
        db = Database(settings.effective_database_url)
        try:
            async with db.transaction() as session:
                audit = Auditor(
                    session=session,
                    actor="cli",
                    tenant_id=PLATFORM_TENANT,
                    request_id=None,
                    clock=SystemClock(),
                )
                return await work(session, audit)
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except PacelineError as exc:
        raise click.ClickException(exc.message) from None
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise click.ClickException(reasons) from None


def _fmt(value: object) -> str:
    return "-" if value is None else str(value)


# -- tenants ------------------------------------------------------------------------------


@click.group()
def tenants() -> None:
    """Tenants (the companies using Paceline)."""


@tenants.command("create")
@data_dir_option
@click.argument("tenant_id")
@click.option("--name", default=None, help="Display name (default: the id).")
@click.option("--timezone", default="Asia/Shanghai", show_default=True)
@click.option("--currency", default="CNY", show_default=True)
@click.option("--fiscal-year-start-month", type=int, default=1, show_default=True)
@click.option("--locale", type=click.Choice(["zh-CN", "en"]), default="zh-CN", show_default=True)
def tenants_create(
    tenant_id: str,
    name: str | None,
    timezone: str,
    currency: str,
    fiscal_year_start_month: int,
    locale: str,
) -> None:
    """Create a tenant; give it an admin key next with ``paceline keys create``."""
    from paceline.api.tenants import service
    from paceline.api.tenants.schemas import TenantIn

    settings = _settings()

    async def work(session: AsyncSession, audit: Auditor) -> str:
        body = TenantIn(
            id=tenant_id,
            name=name or tenant_id,
            timezone=timezone,
            currency=currency,
            fiscal_year_start_month=fiscal_year_start_month,
            locale=locale,  # click.Choice checked it
        )
        out = await service.create_tenant(session, body=body, audit=audit, now=audit.clock.now())
        return f"created tenant {out.id} ({out.name}, {out.timezone}, {out.currency})"

    click.echo(_run(settings, work))


@tenants.command("list")
@data_dir_option
def tenants_list() -> None:
    """List tenants with their settings and active keys."""
    from paceline.api.tenants import service

    settings = _settings()

    async def work(session: AsyncSession, audit: Auditor) -> list[str]:
        lines, cursor = [], None
        while True:
            page = await service.list_tenants(
                session, after=cursor, limit=1000, now=audit.clock.now()
            )
            lines += [
                f"{t.id}\t{t.name}\t{t.timezone}\t{t.currency}\tkeys={t.active_keys}"
                for t in page.items
            ]
            cursor = page.next_cursor
            if cursor is None:
                return lines

    for line in _run(settings, work, existing=True):
        click.echo(line)


# -- keys ---------------------------------------------------------------------------------


@click.group()
def keys() -> None:
    """API keys: create (printed once), list, rotate, revoke."""


@keys.command("create")
@data_dir_option
@click.option(
    "--tenant",
    default=None,
    help="Tenant id (default: the default tenant; created if missing). Platform keys "
    "belong to the operator, not a tenant.",
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(list(SCOPES)),
    default=("read",),
    show_default=True,
    help="Repeat for several. platform: the operator's key (tenants and every tenant's keys).",
)
@click.option("--name", default="cli", show_default=True)
@click.option("--expires-in-days", type=click.IntRange(min=1), default=None)
def keys_create(
    tenant: str | None, scopes: tuple[str, ...], name: str, expires_in_days: int | None
) -> None:
    """Create an API key and print it once."""
    from paceline.api.keys import service
    from paceline.api.keys.schemas import KeyIn
    from paceline.shared.db import tenants as tenant_repo

    settings = _settings()
    if "platform" in scopes and tenant is not None:
        raise click.UsageError("platform keys belong to the operator: leave out --tenant")
    tenant_id = PLATFORM_TENANT if "platform" in scopes else tenant or settings.default_tenant

    async def work(session: AsyncSession, audit: Auditor) -> str:
        now = audit.clock.now()
        if tenant_id != PLATFORM_TENANT:
            await tenant_repo.ensure_tenant(session, tenant_id=tenant_id, name=tenant_id, now=now)
        body = KeyIn(
            name=name,
            scopes=list(scopes),  # click.Choice checked them
            expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
        )
        created = await service.create_key(
            session, tenant_id=tenant_id, body=body, audit=audit, now=now
        )
        return created.key

    click.echo(_run(settings, work))


@keys.command("list")
@data_dir_option
@click.option("--tenant", default=None, help="Tenant id (default: the default tenant).")
@click.option("--platform", is_flag=True, help="List the operator's platform keys.")
@click.option("--active", is_flag=True, help="Only keys neither revoked nor expired.")
def keys_list(tenant: str | None, platform: bool, active: bool) -> None:
    """List keys: id, prefix, name, scopes, status, created, expires, last used."""
    from paceline.api.keys import service

    settings = _settings()
    tenant_id = PLATFORM_TENANT if platform else tenant or settings.default_tenant

    async def work(session: AsyncSession, audit: Auditor) -> list[str]:
        lines, cursor = [], None
        while True:
            page = await service.list_keys(
                session,
                tenant_id=tenant_id,
                cursor=cursor,
                limit=1000,
                include_inactive=not active,
                now=audit.clock.now(),
            )
            lines += [
                "\t".join(
                    [
                        k.id,
                        k.prefix,
                        k.name,
                        ",".join(k.scopes),
                        k.status,
                        f"created={k.created_at.isoformat()}",
                        f"expires={_fmt(k.expires_at and k.expires_at.isoformat())}",
                        f"last_used={_fmt(k.last_used_at and k.last_used_at.isoformat())}",
                    ]
                )
                for k in page.items
            ]
            cursor = page.next_cursor
            if cursor is None:
                return lines

    for line in _run(settings, work, existing=True):
        click.echo(line)


@keys.command("revoke")
@data_dir_option
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key (running processes stop accepting it within 5 seconds)."""
    from paceline.api.keys import service

    settings = _settings()

    async def work(session: AsyncSession, audit: Auditor) -> str:
        row = await service.key_for(session, principal=None, key_id=key_id, for_update=True)
        out = await service.revoke_key(session, row=row, audit=audit, now=audit.clock.now())
        return f"revoked {out.id} ({out.prefix}, {out.name}) at {_fmt(out.revoked_at)}"

    click.echo(_run(settings, work, existing=True))


@keys.command("rotate")
@data_dir_option
@click.argument("key_id")
@click.option(
    "--grace-hours",
    type=click.FloatRange(min=0, max=720),
    default=24.0,
    show_default=True,
    help="How long the old key keeps working.",
)
def keys_rotate(key_id: str, grace_hours: float) -> None:
    """Make a new key with the same name and scopes (printed once); the old one expires
    after the grace period."""
    from paceline.api.keys import service
    from paceline.api.keys.schemas import KeyRotation

    settings = _settings()

    async def work(session: AsyncSession, audit: Auditor) -> tuple[str, str]:
        row = await service.key_for(session, principal=None, key_id=key_id, for_update=True)
        out = await service.rotate_key(
            session,
            row=row,
            body=KeyRotation(grace_period_s=round(grace_hours * 3600)),
            audit=audit,
            now=audit.clock.now(),
        )
        note = f"old key {out.replaced.id} expires at {_fmt(out.replaced.expires_at)}"
        return out.key, note

    key, note = _run(settings, work, existing=True)
    click.echo(key)
    click.echo(note, err=True)
