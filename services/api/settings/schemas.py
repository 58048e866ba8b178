"""Tenant settings shapes."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from paceline.shared.i18n import Invalid
from paceline.shared.money import is_currency


class PaceThresholds(BaseModel):
    """Status from pace (actual / expected, expected / actual when lower is better): at
    least ``ahead`` is ahead, at least ``on_track`` is on track, at least ``behind`` is
    behind, anything lower is at risk."""

    model_config = ConfigDict(extra="forbid")

    ahead: Annotated[Decimal, Field(gt=0, le=10)] = Decimal("1.10")
    on_track: Annotated[Decimal, Field(gt=0, le=10)] = Decimal("0.95")
    behind: Annotated[Decimal, Field(gt=0, le=10)] = Decimal("0.80")

    @model_validator(mode="after")
    def _ordered(self) -> PaceThresholds:
        if not (self.ahead > self.on_track > self.behind):
            raise Invalid("settings.thresholds_order")
        return self


CalendarBase = Literal["cn", "none"]
ClosePolicy = Literal["adjust", "restate"]


class PaceThresholdsUpdate(BaseModel):
    """Some pace thresholds to change (the result must still be ahead > on_track > behind)."""

    model_config = ConfigDict(extra="forbid")

    ahead: Annotated[Decimal, Field(gt=0, le=10)] | None = None
    on_track: Annotated[Decimal, Field(gt=0, le=10)] | None = None
    behind: Annotated[Decimal, Field(gt=0, le=10)] | None = None


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid("settings.timezone_invalid", value=repr(value)) from None
    return value


def _check_currency(value: str) -> str:
    code = value.upper()
    if not is_currency(code):
        raise Invalid("settings.currency_invalid")
    return code


# Shared with tenant creation (services/api/tenants).
check_timezone = _check_timezone
check_currency = _check_currency


class TenantSettings(BaseModel):
    """A tenant's settings."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Default",
                    "timezone": "Asia/Shanghai",
                    "currency": "CNY",
                    "fiscal_year_start_month": 1,
                    "locale": "zh-CN",
                    "pace_thresholds": {"ahead": "1.10", "on_track": "0.95", "behind": "0.80"},
                    "calendar": "cn",
                    "pace_method": "working_days",
                    "attainment_cap": "1.5",
                    "close_policy": "adjust",
                }
            ]
        }
    )

    name: str
    timezone: str = Field(description="IANA time zone; decides which day an event belongs to.")
    currency: str = Field(description="ISO 4217; amounts in other currencies are converted.")
    fiscal_year_start_month: int = Field(ge=1, le=12)
    locale: Literal["zh-CN", "en"]
    pace_thresholds: PaceThresholds
    calendar: CalendarBase = Field(
        default="cn",
        description="The built-in work calendar the tenant's own changes apply to: cn "
        "(mainland China public holidays and make-up working days) or none (Monday to Friday).",
    )
    pace_method: Literal["working_days", "seasonal"] = Field(
        default="working_days",
        description="How expected-to-date is computed: by working days elapsed, or by the "
        "seasonal curve learned from past periods of the same kind.",
    )
    attainment_cap: Annotated[Decimal, Field(ge=1, le=10)] = Field(
        default=Decimal("1.5"), description="Scorecard attainment cap (1.5 = 150%)."
    )
    close_policy: ClosePolicy = Field(
        default="adjust",
        description="What a change to a closed month does (月结): adjust (booked to the "
        "first open month, the closed month holds still) or restate (the closed month "
        "changes, listed as a restatement). Applies to months closed from then on.",
    )
    kpi_exporter: bool = Field(
        default=False,
        description="Serve the current periods' company and team KPI gauges to Prometheus "
        "at GET /v1/metrics/kpis (docs/OPERATIONS.md); off: that route answers 404.",
    )


class TenantSettingsUpdate(BaseModel):
    """Fields to change; the ones left out keep their value."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "timezone": "Asia/Shanghai",
                    "locale": "zh-CN",
                    "pace_thresholds": {"ahead": "1.10", "on_track": "0.95", "behind": "0.80"},
                    "close_policy": "adjust",
                }
            ]
        },
        extra="forbid",
        str_strip_whitespace=True,
    )

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    timezone: str | None = None
    currency: str | None = None
    fiscal_year_start_month: Annotated[int, Field(ge=1, le=12)] | None = None
    locale: Literal["zh-CN", "en"] | None = None
    pace_thresholds: PaceThresholdsUpdate | None = Field(
        default=None, description="Thresholds to change; the ones left out keep their value."
    )
    calendar: CalendarBase | None = None
    pace_method: Literal["working_days", "seasonal"] | None = None
    attainment_cap: Annotated[Decimal, Field(ge=1, le=10)] | None = None
    close_policy: ClosePolicy | None = None
    kpi_exporter: bool | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)

    @field_validator("currency")
    @classmethod
    def _ccy(cls, value: str | None) -> str | None:
        return None if value is None else _check_currency(value)


class SettingsChange(TenantSettings):
    """Settings after an update, and the fact rebuild it started (if any)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Default",
                    "timezone": "Asia/Shanghai",
                    "currency": "CNY",
                    "fiscal_year_start_month": 1,
                    "locale": "zh-CN",
                    "pace_thresholds": {"ahead": "1.10", "on_track": "0.95", "behind": "0.80"},
                    "calendar": "cn",
                    "pace_method": "working_days",
                    "attainment_cap": "1.5",
                    "close_policy": "adjust",
                    "rebuild_job_id": None,
                }
            ]
        }
    )

    rebuild_job_id: int | None = Field(
        default=None,
        description="Set when the change moves facts (time zone, currency): facts are "
        "recomputed in the background.",
    )
