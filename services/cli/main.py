"""``paceline``: run the stack or one service, migrate, create keys, seed the demo."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from paceline import __version__
from paceline.shared.settings import Settings


def _settings(**overrides: Any) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**values)
    except ValueError as exc:
        raise click.ClickException(f"bad settings: {exc}") from None


def _migrate(settings: Settings) -> None:
    from paceline.shared.db.migrate import upgrade  # keep start-up light

    if settings.effective_database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)


def _serve(settings: Settings, parts: Collection[str], *, demo: bool = False) -> None:
    import uvicorn

    from paceline.cli.stack import build_app
    from paceline.shared.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    app = build_app(settings, parts=parts)
    if demo:
        from contextlib import asynccontextmanager

        from paceline.cli.demo import seed_demo
        from paceline.shared.runtime import Runtime

        inner = app.router.lifespan_context

        @asynccontextmanager
        async def with_demo(a: Any) -> Any:
            async with inner(a):
                state = a.state.paceline
                rt = Runtime(
                    settings=settings,
                    db=state.db,
                    clock=state.clock,
                    keys=state.keys,
                    eventlog=state.eventlog,
                    box=state.box,
                )
                sent = await seed_demo(rt, tenant_id=settings.default_tenant)
                if sent:
                    click.echo(f"demo: sent {sent} events of the demo company", err=True)
                yield

        app.router.lifespan_context = with_demo
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        http="httptools",
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="on",
        log_config=None,  # uvicorn logs through our handlers (text or JSON)
    )
    uvicorn.Server(config).run()


@click.group()
@click.version_option(__version__, prog_name="paceline")
def main() -> None:
    """Paceline: sales-KPI engine."""


@main.command()
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8000).")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the embedded database and event log live (default ./var).",
)
@click.option(
    "--api-key",
    default=None,
    envvar="PACELINE_BOOTSTRAP_API_KEY",
    help="Create this admin key for the default tenant at first start.",
)
@click.option("--demo", is_flag=True, help="Load the demo company.")
def serve(
    host: str | None, port: int | None, data_dir: Path | None, api_key: str | None, demo: bool
) -> None:
    """Run ingest, scoring and api in one process (embedded unless configured otherwise)."""
    if demo and not api_key:
        api_key = _demo_key(data_dir or Path(os.environ.get("PACELINE_DATA_DIR", "var")))
    settings = _settings(host=host, port=port, data_dir=data_dir, bootstrap_api_key=api_key)
    _migrate(settings)
    if demo:
        click.echo(
            f"Paceline demo on http://{settings.host}:{settings.port}  "
            f"(API docs /docs; admin key: {api_key})",
            err=True,
        )
    _serve(settings, {"ingest", "scoring", "api"}, demo=demo)


def _demo_key(data_dir: Path) -> str:
    """The demo's admin key: made once, kept in the data directory."""
    path = data_dir / "demo-api-key.txt"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = "pl_demo_" + secrets.token_urlsafe(24)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def _service_command(name: str, help_text: str) -> None:
    @main.command(name=name, help=help_text)
    @click.option("--host", default=None)
    @click.option("--port", type=int, default=None)
    @click.option(
        "--migrate/--no-migrate", default=False, help="Run the database migrations before starting."
    )
    def command(host: str | None, port: int | None, migrate: bool) -> None:
        settings = _settings(host=host, port=port)
        if migrate:
            _migrate(settings)
        _serve(settings, {name})


_service_command("ingest", "Run the ingest service alone (POST /v1/events, webhooks).")
_service_command("scoring", "Run the scoring service alone (health and metrics on --port).")
_service_command("api", "Run the api service alone.")


@main.command()
def migrate() -> None:
    """Migrate the database to the current schema."""
    settings = _settings()
    _migrate(settings)
    click.echo("database is up to date")


@main.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--tenant", default=None, help="Tenant id (default: the default tenant).")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(["ingest", "read", "admin"]),
    default=("read",),
    show_default=True,
)
@click.option("--name", default="cli", show_default=True)
@click.option("--expires-in-days", type=int, default=None)
def keys_create(
    tenant: str | None, scopes: tuple[str, ...], name: str, expires_in_days: int | None
) -> None:
    """Create an API key and print it once."""
    settings = _settings()
    _migrate(settings)

    async def run() -> str:
        from paceline.shared.auth import generate_key
        from paceline.shared.db import tenants as tenant_repo
        from paceline.shared.db.session import Database

        db = Database(settings.effective_database_url)
        now = datetime.now(UTC)
        try:
            async with db.transaction() as session:
                tenant_id = tenant or settings.default_tenant
                await tenant_repo.ensure_tenant(
                    session, tenant_id=tenant_id, name=tenant_id, now=now
                )
                key = generate_key()
                await tenant_repo.add_key(
                    session,
                    tenant_id=tenant_id,
                    key=key,
                    name=name,
                    scopes=list(scopes),
                    now=now,
                    expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
                )
            return key.plaintext
        finally:
            await db.dispose()

    click.echo(asyncio.run(run()))


if __name__ == "__main__":  # pragma: no cover
    main()
