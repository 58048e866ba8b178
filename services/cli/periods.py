"""``paceline periods list|close|reopen``: month close (月结) from the command line.

The same service as ``/v1/closes``: every close and reopen is audited (actor ``cli``, in
the tenant's audit log).
"""

from __future__ import annotations

import dataclasses

import click
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.cli.admin import _run, _settings, data_dir_option
from paceline.shared.db.models import Tenant
from paceline.shared.web.deps import Auditor


@click.group()
def periods() -> None:
    """Month close (月结): list, close and reopen a tenant's months."""


async def _tenant(session: AsyncSession, tenant_id: str) -> Tenant:
    from paceline.shared.db import tenants as tenant_repo
    from paceline.shared.errors import NotFound

    tenant = await tenant_repo.get_tenant(session, tenant_id=tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id!r}")
    return tenant


@periods.command("list")
@data_dir_option
@click.argument("tenant_id")
def periods_list(tenant_id: str) -> None:
    """The tenant's closes and reopens, newest first."""
    from paceline.api.closes import service

    async def work(session: AsyncSession, audit: Auditor) -> list[str]:
        out = await service.list_closes(session, tenant=await _tenant(session, tenant_id))
        lines = [f"policy {out.policy}; closed: {' '.join(out.closed) or '-'}"]
        for c in out.closes:
            lines.append(
                f"{c.period}  {c.status:<8}  closed {c.closed_at.isoformat()} by {c.closed_by}"
                + (
                    f"; reopened {c.reopened_at.isoformat()}: {c.reopen_reason}"
                    if c.reopened_at
                    else ""
                )
            )
        return lines

    for line in _run(_settings(), work, existing=True):
        click.echo(line)


@periods.command("close")
@data_dir_option
@click.argument("tenant_id")
@click.argument("period")
@click.option("--reason", default="", help="Why (kept with the close and in the audit log).")
def periods_close(tenant_id: str, period: str, reason: str) -> None:
    """Close a month that has ended (e.g. 2026-11): its figures hold still."""
    from paceline.api.closes import service
    from paceline.api.closes.schemas import CloseIn

    async def work(session: AsyncSession, audit: Auditor) -> str:
        tenant = await _tenant(session, tenant_id)
        out = await service.close(
            session,
            tenant=tenant,
            body=CloseIn(period=period, reason=reason),
            now=audit.clock.now(),
            auditor=dataclasses.replace(audit, tenant_id=tenant.id),
        )
        return f"closed {out.period} for {tenant.id} (policy {out.policy})"

    click.echo(_run(_settings(), work, existing=True))


@periods.command("reopen")
@data_dir_option
@click.argument("tenant_id")
@click.argument("period")
@click.option("--reason", required=True, help="Why the month is reopened (required).")
def periods_reopen(tenant_id: str, period: str, reason: str) -> None:
    """Reopen a closed month: later changes count in it again."""
    from paceline.api.closes import service

    async def work(session: AsyncSession, audit: Auditor) -> str:
        tenant = await _tenant(session, tenant_id)
        out = await service.reopen(
            session,
            tenant=tenant,
            period_key=period,
            reason=reason,
            now=audit.clock.now(),
            auditor=dataclasses.replace(audit, tenant_id=tenant.id),
        )
        return f"reopened {out.period} for {tenant.id}"

    click.echo(_run(_settings(), work, existing=True))
