"""Read and change tenant settings; a change that moves facts starts a rebuild."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.settings.schemas import (
    PaceThresholds,
    SettingsChange,
    TenantSettings,
    TenantSettingsUpdate,
)
from paceline.shared.db.context import calendar_base, close_policy
from paceline.shared.db.jobs import enqueue_job
from paceline.shared.db.models import Tenant
from paceline.shared.errors import FieldError, InvalidInput
from paceline.shared.i18n import msg
from paceline.shared.web.errors import reason_of


def pace_thresholds(tenant: Tenant) -> PaceThresholds:
    """The tenant's pace thresholds (defaults where unset)."""
    raw: Any = (tenant.options or {}).get("pace_thresholds")
    return PaceThresholds.model_validate(raw) if raw else PaceThresholds()


def kpi_exporter_on(tenant: Tenant) -> bool:
    """Whether the tenant opted in to the Prometheus KPI exporter (off by default)."""
    return (tenant.options or {}).get("kpi_exporter") is True


def settings_of(tenant: Tenant) -> TenantSettings:
    """A tenant's settings."""
    return TenantSettings(
        name=tenant.name,
        timezone=tenant.timezone,
        currency=tenant.currency,
        fiscal_year_start_month=tenant.fiscal_year_start_month,
        locale="en" if tenant.locale == "en" else "zh-CN",
        pace_thresholds=pace_thresholds(tenant),
        calendar="none" if calendar_base(tenant) == "none" else "cn",
        pace_method="seasonal"
        if (tenant.options or {}).get("pace_method") == "seasonal"
        else "working_days",
        attainment_cap=Decimal(str((tenant.options or {}).get("attainment_cap", "1.5"))),
        close_policy="restate" if close_policy(tenant) == "restate" else "adjust",
        kpi_exporter=kpi_exporter_on(tenant),
    )


async def update_settings(
    session: AsyncSession, *, tenant: Tenant, update: TenantSettingsUpdate, now: datetime
) -> SettingsChange:
    """Apply the given fields; rebuild facts if the time zone or currency changed."""
    moves_facts = (update.timezone is not None and update.timezone != tenant.timezone) or (
        update.currency is not None and update.currency != tenant.currency
    )
    if update.name is not None:
        tenant.name = update.name
    if update.timezone is not None:
        tenant.timezone = update.timezone
    if update.currency is not None:
        tenant.currency = update.currency
    if update.fiscal_year_start_month is not None:
        tenant.fiscal_year_start_month = update.fiscal_year_start_month
    if update.locale is not None:
        tenant.locale = update.locale
    if update.pace_thresholds is not None:
        merged = {
            **pace_thresholds(tenant).model_dump(),
            **update.pace_thresholds.model_dump(exclude_none=True),
        }
        try:
            thresholds = PaceThresholds.model_validate(merged)
        except ValidationError as exc:
            reason = reason_of(exc.errors()[0])
            raise InvalidInput(
                msg("errors.field_reason", field="pace_thresholds", reason=reason),
                fields=[FieldError("pace_thresholds", reason)],
            ) from None
        tenant.options = {
            **(tenant.options or {}),
            "pace_thresholds": thresholds.model_dump(mode="json"),
        }
    if update.pace_method is not None:
        tenant.options = {**(tenant.options or {}), "pace_method": update.pace_method}
    if update.attainment_cap is not None:
        tenant.options = {**(tenant.options or {}), "attainment_cap": str(update.attainment_cap)}
    if update.close_policy is not None:
        tenant.options = {**(tenant.options or {}), "close_policy": update.close_policy}
    if update.kpi_exporter is not None:
        tenant.options = {**(tenant.options or {}), "kpi_exporter": update.kpi_exporter}
    if update.calendar is not None:
        # Working days are read-time only (pace, expected): no facts move.
        tenant.options = {**(tenant.options or {}), "calendar": update.calendar}
    tenant.updated_at = now
    job_id = None
    if moves_facts:
        job = await enqueue_job(session, tenant_id=tenant.id, kind="rebuild_facts", now=now)
        job_id = job.id
    await session.flush()
    return SettingsChange(**settings_of(tenant).model_dump(), rebuild_job_id=job_id)
