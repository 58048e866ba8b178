"""Work-calendar shapes."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_RANGE_DAYS = 366

DayKind = Literal["workday", "weekend", "holiday"]
DaySource = Literal["builtin", "tenant", "weekday"]


class CalendarDayOut(BaseModel):
    """One day of the tenant's calendar and where its kind comes from."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"day": "2026-12-31", "kind": "holiday", "name": "公司年会", "source": "tenant"}
            ]
        }
    )

    day: date
    kind: DayKind
    name: str = Field(description="The holiday's or make-up day's name; empty otherwise.")
    source: DaySource = Field(
        description="builtin: the base calendar's holiday or make-up day; tenant: the "
        "tenant's own change; weekday: the Monday-to-Friday rule."
    )


class CalendarOut(BaseModel):
    """The tenant's calendar over [from, to)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "base": "cn",
                    "working_days": 0,
                    "days": [
                        {
                            "day": "2026-10-01",
                            "kind": "holiday",
                            "name": "国庆节",
                            "source": "builtin",
                        }
                    ],
                }
            ]
        }
    )

    base: Literal["cn", "none"]
    working_days: int = Field(description="Working days in [from, to).")
    days: list[CalendarDayOut]


class BaseYearOut(BaseModel):
    """A year the built-in calendar covers."""

    year: int
    status: str = Field(description="official, or provisional (subject to the official notice)")
    source: str
    holidays: int
    makeup_workdays: int


class CalendarBaseOut(BaseModel):
    """The built-in calendar the tenant's changes apply to."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "cn",
                    "title": "中国大陆法定节假日",
                    "title_code": "calendar.base.cn",
                    "years": [
                        {
                            "year": 2026,
                            "status": "official",
                            "source": (
                                "国务院办公厅关于2026年部分节假日安排的通知 "
                                "(State Council notice of 2025-11-04)"
                            ),
                            "holidays": 33,
                            "makeup_workdays": 6,
                        },
                        {
                            "year": 2027,
                            "status": "provisional",
                            "source": (
                                "statutory holidays of 全国年节及纪念日放假办法 "
                                "(2024 revision) on their "
                                "2027 dates; the State Council's 2027 notice (with its make-up "
                                "working days) was not yet published when this file was made: "
                                "tenants can add it with PUT /v1/calendar/days"
                            ),
                            "holidays": 13,
                            "makeup_workdays": 0,
                        },
                    ],
                    "available": ["cn", "none"],
                }
            ]
        }
    )

    name: Literal["cn", "none"]
    title: str = Field(description="In the caller's language.")
    title_code: str = Field(description="The title's catalog code.")
    years: list[BaseYearOut] = Field(
        description="Years with public holidays; other years follow the Monday-to-Friday rule."
    )
    available: list[str] = Field(description="Built-in calendars (set one in PUT /v1/settings).")


class CalendarDayIn(BaseModel):
    """A tenant's change to one day: a holiday, or a working day (e.g. a make-up day)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"kind": "holiday", "name": "公司年会"}]},
        extra="forbid",
        str_strip_whitespace=True,
    )

    kind: Literal["holiday", "workday"]
    name: Annotated[str, Field(max_length=200)] = ""
