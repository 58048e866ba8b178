"""Work-calendar routes: the calendar over a range, its built-in base, the tenant's days."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from paceline.api.calendar import repository, service
from paceline.api.calendar.schemas import (
    MAX_RANGE_DAYS,
    CalendarBaseOut,
    CalendarDayIn,
    CalendarDayOut,
    CalendarOut,
)
from paceline.api.deps import LocaleDep, TenantDep
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.models import Tenant
from paceline.shared.errors import NotFound
from paceline.shared.i18n import msg
from paceline.shared.web.deps import (
    AdminPrincipal,
    AuditDep,
    ReadSessionDep,
    StateDep,
    WriteSessionDep,
)

router = APIRouter(prefix="/v1", tags=["calendar"])


async def _change(session: WriteSessionDep, tenant_id: str, day: date) -> dict[str, Any] | None:
    """The tenant's change to a day before an edit (for the audit log)."""
    row = await repository.change(session, tenant_id=tenant_id, day=day)
    return None if row is None else {"day": row.day, "kind": row.kind, "name": row.name}


async def _tenant(session: WriteSessionDep, principal: AdminPrincipal) -> Tenant:
    tenant = await tenant_repo.get_tenant(session, tenant_id=principal.tenant_id)
    if tenant is None:
        raise NotFound(msg("errors.tenant.gone"))
    return tenant


@router.get(
    "/calendar",
    response_model=CalendarOut,
    summary="The work calendar over a range",
    description=(
        "Every day in [from, to) with its kind (workday, weekend, holiday), its name and "
        "where that comes from (builtin: the base calendar; tenant: the tenant's change; "
        f"weekday: Monday to Friday), and the working days. At most {MAX_RANGE_DAYS} days."
    ),
)
async def get_calendar(
    session: ReadSessionDep,
    tenant: TenantDep,
    start: Annotated[date, Query(alias="from", description="First day (inclusive).")],
    end: Annotated[date, Query(alias="to", description="Last day (exclusive).")],
    locale: LocaleDep,
) -> CalendarOut:
    """The tenant's calendar over [from, to) (built-in day names in the caller's language)."""
    return await service.calendar(session, tenant=tenant, start=start, end=end, locale=locale)


@router.get("/calendar/base", response_model=CalendarBaseOut, summary="The built-in calendar")
async def get_calendar_base(tenant: TenantDep, locale: LocaleDep) -> CalendarBaseOut:
    """The built-in calendar the tenant uses: its years, their status and their source."""
    return service.calendar_base_info(tenant, locale)


@router.put(
    "/calendar/days/{day}", response_model=CalendarDayOut, summary="Set a holiday or working day"
)
async def put_calendar_day(
    day: date,
    change: CalendarDayIn,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> CalendarDayOut:
    """Make a day a holiday or a working day for this tenant (over the base calendar)."""
    tenant = await _tenant(session, principal)
    before = await _change(session, tenant.id, day)
    out = await service.put_day(
        session, tenant=tenant, day=day, change=change, now=state.clock.now()
    )
    await audit.record(
        "calendar.put_day", target=f"day:{day}", before=before, after=out.model_dump(mode="json")
    )
    return out


@router.delete(
    "/calendar/days/{day}", response_model=CalendarDayOut, summary="Remove the tenant's change"
)
async def delete_calendar_day(
    day: date,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    audit: AuditDep,
    locale: LocaleDep,
) -> CalendarDayOut:
    """Remove the tenant's change to a day; answers the day as the base calendar has it."""
    tenant = await _tenant(session, principal)
    before = await _change(session, tenant.id, day)
    out = await service.delete_day(session, tenant=tenant, day=day, locale=locale)
    await audit.record(
        "calendar.delete_day",
        target=f"day:{day}",
        before=before,
        after=out.model_dump(mode="json"),
    )
    return out
