"""``paceline``: run the stack or one service, migrate, create keys, seed the demo."""

from __future__ import annotations

import gc
import logging
import os
import secrets
import socket
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

import click

from paceline import __version__
from paceline.cli import messages
from paceline.cli.admin import keys, tenants
from paceline.cli.bi import bi
from paceline.cli.imports import import_command
from paceline.cli.periods import periods
from paceline.cli.ports import PortInUse, bind_listeners, nearby_free_port
from paceline.shared.clock import Clock, StartedClock, reference_instant
from paceline.shared.settings import Settings

# ``--today`` without an offset is read in the default tenant's zone.
DEFAULT_TIMEZONE = "Asia/Shanghai"
TODAY_HELP = (
    "Run as if today were this date (YYYY-MM-DD keeps the time of day) or instant "
    "(2026-12-01T10:30+08:00); the clock then runs on from there. For demos and tests."
)


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


def tune_gc(gen0_threshold: int) -> None:
    """Fewer young-generation collections; start-up objects out of every collection.

    ``gc.freeze`` moves what is alive now (modules, the app, settings) to a generation
    the collector never scans, so the full collections that do run are short.
    """
    if gen0_threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)


def _clock(today: str | None) -> Clock | None:
    """The stack's clock: the system's, or one that starts at ``--today``'s instant."""
    if not today:
        return None
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    try:
        start = reference_instant(today, wall=datetime.now(UTC), tz=ZoneInfo(DEFAULT_TIMEZONE))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--today") from None
    return StartedClock(start)


def _listen(settings: Settings, *, make_hint: bool = False) -> list[socket.socket]:
    """Bind the HTTP port before any start-up work: a busy port is one line, not a traceback.

    uvicorn then serves on these sockets, so nothing can take the port in between.
    """
    host, port = settings.host, settings.port
    try:
        return bind_listeners(host, port)
    except PortInUse:
        if make_hint:
            other = nearby_free_port(host, port)
            text = messages.PORT_IN_USE_SERVE.format(port=port, other=other)
        else:
            text = messages.PORT_IN_USE.format(port=port)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        text = messages.CANNOT_LISTEN.format(host=host, port=port, reason=reason)
    raise click.ClickException(text)


def _serve(
    settings: Settings,
    parts: Collection[str],
    *,
    demo: bool = False,
    trickle_every_s: float = 0.0,
    clock: Clock | None = None,
    sockets: list[socket.socket] | None = None,
) -> None:
    import uvicorn

    from paceline.cli.stack import build_app
    from paceline.shared.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    app = build_app(settings, parts=parts, clock=clock)
    if demo:
        from paceline.cli.demo import attach_demo  # services/cli/demo.py

        attach_demo(
            app,
            settings,
            trickle_every_s=trickle_every_s,
            echo=lambda line: click.echo(line, err=True),
        )
    tune_gc(settings.gc_gen0_threshold)
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
    if sockets is None:
        sockets = _listen(settings)
    for sock in sockets:  # uvicorn logs its address only when it binds itself
        address = sock.getsockname()
        shown = f"[{address[0]}]" if sock.family == socket.AF_INET6 else address[0]
        logging.getLogger("paceline.cli").info("listening on http://%s:%d", shown, address[1])
    uvicorn.Server(config).run(sockets=sockets)


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
@click.option(
    "--trickle-every",
    type=float,
    default=3.0,
    show_default=True,
    envvar="PACELINE_DEMO_TRICKLE_S",
    help="With --demo: seconds between live demo events (0: none).",
)
@click.option("--today", default=None, envvar="PACELINE_TODAY", help=TODAY_HELP)
def serve(
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    api_key: str | None,
    demo: bool,
    trickle_every: float,
    today: str | None,
) -> None:
    """Run ingest, scoring and api in one process (embedded unless configured otherwise)."""
    clock = _clock(today)
    if demo and not api_key:
        api_key = _demo_key(data_dir or Path(os.environ.get("PACELINE_DATA_DIR", "var")))
    settings = _settings(host=host, port=port, data_dir=data_dir, bootstrap_api_key=api_key)
    sockets = _listen(settings, make_hint=True)
    _migrate(settings)
    if demo:
        base = f"http://{settings.host}:{settings.port}"
        click.echo(
            f"Paceline demo on {base}  (API docs /docs; admin key: {api_key})\n"
            f"Dashboard: {base}/dashboard/#key={api_key}",
            err=True,
        )
    _serve(
        settings,
        {"ingest", "scoring", "api"},
        demo=demo,
        trickle_every_s=trickle_every,
        clock=clock,
        sockets=sockets,
    )


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
        sockets = _listen(settings)
        if migrate:
            _migrate(settings)
        _serve(settings, {name}, sockets=sockets)


_service_command("ingest", "Run the ingest service alone (POST /v1/events, webhooks).")
_service_command("scoring", "Run the scoring service alone (health and metrics on --port).")
_service_command("api", "Run the api service alone.")


@main.command()
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
    help="Create this admin key (default: var/demo-api-key.txt, made once).",
)
@click.option("--trickle/--no-trickle", default=False, help="Then send live events until Ctrl-C.")
@click.option("--trickle-every", type=float, default=3.0, show_default=True)
@click.option("--today", default=None, envvar="PACELINE_TODAY", help=TODAY_HELP)
def demo(
    data_dir: Path | None,
    api_key: str | None,
    trickle: bool,
    trickle_every: float,
    today: str | None,
) -> None:
    """Seed the demo company: org, two years of history (scored), the year's plan."""
    import asyncio
    import contextlib

    from paceline.cli.demo import run_demo  # services/cli/demo.py

    if not api_key:
        api_key = _demo_key(data_dir or Path(os.environ.get("PACELINE_DATA_DIR", "var")))
    settings = _settings(data_dir=data_dir, bootstrap_api_key=api_key)
    _migrate(settings)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the trickle
        asyncio.run(
            run_demo(
                settings,
                trickle_every_s=trickle_every if trickle else 0.0,
                echo=lambda line: click.echo(line, err=True),
                clock=_clock(today),
            )
        )
    click.echo(f"admin key: {api_key}", err=True)


@main.command()
def migrate() -> None:
    """Migrate the database to the current schema."""
    settings = _settings()
    _migrate(settings)
    click.echo("database is up to date")


main.add_command(keys)  # paceline keys create|list|revoke|rotate (services/cli/admin.py)
main.add_command(tenants)  # paceline tenants create|list
main.add_command(bi)  # paceline bi grant|rotate|revoke|list (services/cli/bi.py)
main.add_command(periods)  # paceline periods list|close|reopen (services/cli/periods.py)


main.add_command(import_command)


if __name__ == "__main__":  # pragma: no cover
    main()
