"""``paceline import FILE``: a history file into the event log, directly, with its report.

The CLI appends to the event log itself (the configured one: Kafka in distributed mode,
the embedded log in the data directory otherwise), records the run in the database like
``POST /v1/imports`` does, and prints the report: counts, warnings and every rejected
row with its line, field and reason. A running scoring service (``paceline serve`` or
``paceline scoring``) applies the events; ``--wait`` waits until it has.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from paceline.shared.settings import Settings


def _echo_report(out: Any, *, limit: int) -> None:
    click.echo(
        f"import {out.id} ({out.name}, {out.format}, sha256 {out.sha256[:12]}): {out.status}; "
        f"{out.rows_total} rows: {out.rows_accepted} appended, {out.rows_unchanged} already "
        f"imported, {out.rows_duplicate} repeated in the file, {out.rows_rejected} rejected"
    )
    for w in out.warnings:
        click.echo(f"warning: {w}")
    for shown, issue in enumerate(out.issues):
        if shown >= limit:
            click.echo(f"... (all rows: GET /v1/imports/{out.id}/rows)")
            break
        for e in issue.errors:
            click.echo(f"line {issue.line}: {issue.status}: {e.field}: {e.reason}")
    if out.error:
        click.echo(f"error: {out.error}", err=True)


async def _wait_applied(settings: Settings, run_id: int, tenant_id: str, timeout_s: float) -> bool:
    from paceline.shared.db import import_runs as repo
    from paceline.shared.db.session import Database

    db = Database(settings.effective_database_url)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            async with db.transaction(write=False) as session:
                run = await repo.get_run(session, tenant_id=tenant_id, run_id=run_id)
                applied = await repo.applied_positions(
                    session, group_id=settings.consumer_group, topic=settings.topic
                )
            if run is not None and repo.is_applied(run, applied):
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.5)
    finally:
        await db.dispose()


async def _run(
    settings: Settings,
    *,
    path: Path,
    name: str,
    fmt: str,
    mapping_data: dict[str, Any],
    tenant_id: str,
    charset: str | None,
) -> Any:
    from paceline.ingest.imports.charsets import detect_chunks
    from paceline.ingest.imports.schemas import ImportMapping
    from paceline.ingest.imports.service import run_import
    from paceline.shared.runtime import open_runtime
    from paceline.shared.web.deps import Auditor

    mapping = ImportMapping.model_validate(mapping_data)
    digest = hashlib.sha256()

    def chunks() -> Iterator[bytes]:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
                yield chunk

    # One pass hashes the file and checks its charset (UTF-8, else GB18030, or declared).
    codec, detected = detect_chunks(chunks(), charset)
    runtime = await open_runtime(settings, with_log=True)
    try:
        assert runtime.eventlog is not None
        with path.open(encoding=codec, newline="") as lines:
            return await run_import(
                db=runtime.db,
                eventlog=runtime.eventlog,
                tenant_id=tenant_id,
                name=name,
                fmt=fmt,
                mapping=mapping,
                lines=lines,
                sha256=digest.hexdigest(),
                file_name=path.name,
                auditor=Auditor(
                    session=None,  # run_import records in its own last transaction
                    actor="cli",
                    tenant_id=tenant_id,
                    request_id=None,
                    clock=runtime.clock,
                ),
                clock=runtime.clock,
                warnings=[detected] if detected else [],
            )
    finally:
        await runtime.close()


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="The import's name: events get source import:NAME.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "ndjson"]),
    default=None,
    help="File format (default: from the extension; csv otherwise).",
)
@click.option(
    "--type",
    "event_type",
    default=None,
    help="The event type of every row (deal, visit, quote, ...), if the file has no type column.",
)
@click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A JSON column mapping (see docs/PLANNING.md).",
)
@click.option(
    "--charset",
    default=None,
    help="The file's charset: utf-8, gbk/gb18030 (Chinese Excel), big5. "
    "Default: UTF-8, else GB18030 with a warning.",
)
@click.option("--tenant", default=None, help="Tenant id (default: the default tenant).")
@click.option("--wait/--no-wait", default=False, help="Wait until scoring has applied it all.")
@click.option("--timeout", type=float, default=600.0, show_default=True, help="For --wait, s.")
@click.option("--show", type=int, default=50, show_default=True, help="Rejected rows to print.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
def import_command(
    file: Path,
    name: str,
    fmt: str | None,
    event_type: str | None,
    mapping_file: Path | None,
    charset: str | None,
    tenant: str | None,
    wait: bool,
    timeout: float,
    show: int,
    as_json: bool,
) -> None:
    """Import history (CSV or NDJSON) into the event log and print the report."""
    from pydantic import ValidationError

    from paceline.cli.main import _migrate, _settings
    from paceline.ingest.imports.schemas import NAME_PATTERN
    from paceline.shared.errors import PacelineError

    if not re.fullmatch(NAME_PATTERN, name):
        raise click.BadParameter("lowercase letters, digits, _ . - (up to 57)", param_hint="--name")
    settings = _settings()
    _migrate(settings)
    mapping_data: dict[str, Any] = {}
    if mapping_file is not None:
        try:
            mapping_data = json.loads(mapping_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"{mapping_file}: not JSON: {exc}") from None
    if event_type is not None:
        mapping_data["type"] = event_type
    if fmt is None:
        fmt = "ndjson" if file.suffix.lower() in {".ndjson", ".jsonl"} else "csv"
    tenant_id = tenant or settings.default_tenant
    try:
        out = asyncio.run(
            _run(
                settings,
                path=file,
                name=name,
                fmt=fmt,
                mapping_data=mapping_data,
                tenant_id=tenant_id,
                charset=charset,
            )
        )
    except ValidationError as exc:
        raise click.ClickException(f"the mapping is not valid: {exc}") from None
    except PacelineError as exc:
        detail = "; ".join(f"{f.field}: {f.reason}" for f in exc.fields)
        raise click.ClickException(exc.message + (f" ({detail})" if detail else "")) from None
    if as_json:
        click.echo(out.model_dump_json(indent=2))
    else:
        _echo_report(out, limit=show)
    if wait and out.rows_accepted:
        done = asyncio.run(_wait_applied(settings, out.id, tenant_id, timeout))
        click.echo("applied by scoring" if done else "not applied yet (is scoring running?)")
        if not done:
            raise SystemExit(3)
    if out.rows_total and out.rows_rejected == out.rows_total:
        raise SystemExit(2)
