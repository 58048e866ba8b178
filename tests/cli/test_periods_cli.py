"""``paceline periods list|close|reopen``: month close from the command line, audited.

Months far in the past (2020-01, always ended) and far ahead (2099-01, never ended yet)
keep the test independent of today's date.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import select

from paceline.cli.main import main
from paceline.shared.db.models import AuditEntry, Tenant
from paceline.shared.db.session import Database
from tests.support import embedded_settings


def cli(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"PACELINE_DATA_DIR": str(data_dir)})


async def _state(data: Path) -> tuple[list[dict[str, object]], list[tuple[str, str, str]]]:
    db = Database(embedded_settings(data).effective_database_url)
    try:
        async with db.transaction(write=False) as session:
            tenant = await session.scalar(select(Tenant).where(Tenant.id == "acme"))
            assert tenant is not None
            rows = await session.execute(
                select(AuditEntry.actor, AuditEntry.action, AuditEntry.target)
                .where(AuditEntry.tenant_id == "acme", AuditEntry.action.like("periods.%"))
                .order_by(AuditEntry.id)
            )
            return list(tenant.closes), [tuple(r) for r in rows.all()]
    finally:
        await db.dispose()


def test_close_and_reopen_a_month_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli(data, "tenants", "create", "acme").exit_code == 0
    closed = cli(data, "periods", "close", "acme", "2020-01", "--reason", "月结")
    assert closed.exit_code == 0, closed.output
    assert closed.stdout.strip() == "closed 2020-01 for acme (policy adjust)"
    again = cli(data, "periods", "close", "acme", "2020-01")
    assert again.exit_code != 0
    assert "closed already" in again.output
    early = cli(data, "periods", "close", "acme", "2099-01")
    assert early.exit_code != 0
    assert "has not ended" in early.output
    not_month = cli(data, "periods", "close", "acme", "2020-Q1")
    assert not_month.exit_code != 0
    assert "only months" in not_month.output
    nobody = cli(data, "periods", "close", "nobody", "2020-01")
    assert nobody.exit_code != 0
    assert "nobody" in nobody.output

    listed = cli(data, "periods", "list", "acme")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines()[0] == "policy adjust; closed: 2020-01"

    no_reason = cli(data, "periods", "reopen", "acme", "2020-01")
    assert no_reason.exit_code != 0
    assert "--reason" in no_reason.output
    reopened = cli(data, "periods", "reopen", "acme", "2020-01", "--reason", "退款重算")
    assert reopened.exit_code == 0, reopened.output
    assert "closed: -" in cli(data, "periods", "list", "acme").stdout

    closes, audit = asyncio.run(_state(data))
    assert [(c["period"], c["reopened_at"] is not None) for c in closes] == [("2020-01", True)]
    assert audit == [
        ("cli", "periods.close", "period:2020-01"),
        ("cli", "periods.reopen", "period:2020-01"),
    ]
