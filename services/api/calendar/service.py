"""Read the tenant's work calendar and change single days.

The calendar is a built-in base (``cn`` or ``none``, chosen in the settings) plus the
tenant's own changes. Working days are only used when progress is read (expected to
date, pace, CRM-active share); facts do not depend on them, so a change here needs no
fact rebuild and does not bump ``tenant.updated_at``.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal, cast

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.calendar import repository as repo
from paceline.api.calendar.schemas import (
    MAX_RANGE_DAYS,
    BaseYearOut,
    CalendarBaseOut,
    CalendarDayIn,
    CalendarDayOut,
    CalendarOut,
    DaySource,
)
from paceline.shared.db.context import calendar_base
from paceline.shared.db.models import Tenant
from paceline.shared.errors import FieldError, InvalidInput, NotFound
from paceline.shared.i18n import msg, render
from paceline.shared.kpi.calendar import (
    BUILTIN_CALENDARS,
    WorkCalendar,
    builtin_calendar,
    builtin_calendar_data,
    days_between,
)

BaseName = Literal["cn", "none"]
# A built-in day's name is bilingual ("春节 Spring Festival"): zh-CN readers get the
# Chinese part; English readers the whole name.
_BILINGUAL = re.compile(r"(\S*[\u4e00-\u9fff]\S*) +[A-Za-z].*")


def day_name(name: str, locale: str) -> str:
    """A built-in day's name as a reader of ``locale`` reads it."""
    m = _BILINGUAL.fullmatch(name)
    return m[1] if m and locale == "zh-CN" else name


def _base_name(tenant: Tenant) -> BaseName:
    return "none" if calendar_base(tenant) == "none" else "cn"


def _day_out(
    day: date,
    *,
    base: WorkCalendar,
    calendar: WorkCalendar,
    tenant_days: set[date],
    locale: str,
) -> CalendarDayOut:
    kind, name = calendar.describe(day)
    source: DaySource = "weekday"
    if day in tenant_days:
        source = "tenant"
    elif day in base.holidays or day in base.makeup_workdays:
        source = "builtin"
        name = day_name(name, locale)
    return CalendarDayOut(day=day, kind=kind, name=name, source=source)


async def _calendar(
    session: AsyncSession, *, tenant: Tenant, start: date, end: date
) -> tuple[WorkCalendar, WorkCalendar, set[date]]:
    """The base, the tenant's calendar over [start, end), and the days the tenant changed."""
    base = builtin_calendar(_base_name(tenant))
    rows = await repo.changes(session, tenant_id=tenant.id, start=start, end=end)
    changes = [(r.day, cast(Literal["holiday", "workday"], r.kind), r.name) for r in rows]
    return base, base.with_changes(changes), {r.day for r in rows}


async def calendar(
    session: AsyncSession, *, tenant: Tenant, start: date, end: date, locale: str = "zh-CN"
) -> CalendarOut:
    """Every day in [start, end) with its kind, name (in ``locale``) and source, and the
    working days."""
    if end <= start:
        raise InvalidInput(
            msg("calendar.to_not_after_from"), fields=[FieldError("to", msg("calendar.after_from"))]
        )
    if (end - start).days > MAX_RANGE_DAYS:
        reason = msg("calendar.at_most_days", days=MAX_RANGE_DAYS)
        raise InvalidInput(
            msg("calendar.range_too_long", reason=reason), fields=[FieldError("to", reason)]
        )
    base, cal, tenant_days = await _calendar(session, tenant=tenant, start=start, end=end)
    return CalendarOut(
        base=_base_name(tenant),
        working_days=cal.working_days(start, end),
        days=[
            _day_out(d, base=base, calendar=cal, tenant_days=tenant_days, locale=locale)
            for d in days_between(start, end)
        ],
    )


def calendar_base_info(tenant: Tenant, locale: str = "zh-CN") -> CalendarBaseOut:
    """The tenant's built-in calendar: its title (in ``locale``), years, their status and
    their source."""
    name = _base_name(tenant)
    data = builtin_calendar_data(name)
    title = msg("calendar.base.none") if name == "none" else msg("calendar.base.cn")
    return CalendarBaseOut(
        name=name,
        title=render(title, locale),
        title_code=title.code,
        years=[
            BaseYearOut(
                year=int(year),
                status=str(info.get("status", "official")),
                source=str(info.get("source", "")),
                holidays=len(info.get("holidays", {})),
                makeup_workdays=len(info.get("workdays", {})),
            )
            for year, info in sorted(data["years"].items())
        ],
        available=list(BUILTIN_CALENDARS),
    )


async def put_day(
    session: AsyncSession, *, tenant: Tenant, day: date, change: CalendarDayIn, now: datetime
) -> CalendarDayOut:
    """Store the tenant's change to a day; the day as it now reads."""
    await repo.put_change(
        session, tenant_id=tenant.id, day=day, kind=change.kind, name=change.name, now=now
    )
    return CalendarDayOut(day=day, kind=change.kind, name=change.name, source="tenant")


async def delete_day(
    session: AsyncSession, *, tenant: Tenant, day: date, locale: str = "zh-CN"
) -> CalendarDayOut:
    """Remove the tenant's change to a day (404 if none); the day as the base reads it."""
    if not await repo.delete_change(session, tenant_id=tenant.id, day=day):
        raise NotFound(msg("calendar.no_change", day=day))
    base = builtin_calendar(_base_name(tenant))
    return _day_out(day, base=base, calendar=base, tenant_days=set(), locale=locale)
