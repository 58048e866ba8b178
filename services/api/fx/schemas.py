"""Exchange-rate shapes, and the checks one rate must pass (shared by JSON and CSV)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from paceline.shared.i18n import Invalid, Msg, params_json, render
from paceline.shared.money import is_currency

MAX_RATES = 10_000
MAX_DECIMAL_PLACES = 10
# Far above any real rate (units of tenant currency per unit of another currency).
MAX_RATE = Decimal(10) ** 12

# Plain ASCII decimals (``Decimal`` alone would also take "1_000" and non-ASCII digits).
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_DAY = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")


def check_currency(value: Any) -> str:
    """An ISO 4217 code, upper-cased; ValueError if it is not one."""
    code = str(value).strip().upper() if isinstance(value, str) else ""
    if not is_currency(code):
        raise Invalid("fx.currency_invalid")
    return code


def check_rate(value: Any) -> str:
    """A positive finite decimal with at most 10 decimal places, as normalised text."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise Invalid("fx.rate_not_decimal")
    text = str(value).strip()
    try:
        rate = Decimal(text)
    except InvalidOperation:
        raise Invalid("fx.rate_not_decimal") from None
    if not rate.is_finite():
        raise Invalid("fx.rate_not_finite")
    if not _DECIMAL.fullmatch(text):
        raise Invalid("fx.rate_not_decimal")
    if rate <= 0:
        raise Invalid("fx.rate_not_positive")
    if rate >= MAX_RATE:
        raise Invalid("fx.rate_too_large", max=MAX_RATE)
    normal = rate.normalize()
    exponent = normal.as_tuple().exponent
    assert isinstance(exponent, int)  # finite decimals have an integer exponent
    if -exponent > MAX_DECIMAL_PLACES:
        raise Invalid("fx.rate_places", places=MAX_DECIMAL_PLACES)
    return format(normal, "f")


def check_day(value: Any) -> date:
    """A calendar day from YYYY-MM-DD (or YYYY/MM/DD, as spreadsheets write it)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    m = _DAY.fullmatch(value.strip()) if isinstance(value, str) else None
    if m is None:
        raise Invalid("fx.day_format")
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise Invalid("fx.day_not_in_calendar") from None


Currency = Annotated[str, Field(description="ISO 4217 code (upper-cased).", examples=["USD"])]


class FxRateIn(BaseModel):
    """One rate: units of the tenant currency per unit of ``currency``, from ``day`` on."""

    model_config = ConfigDict(extra="forbid")

    currency: Currency
    day: date = Field(description="The first day the rate applies (it serves up to 31 days).")
    rate: str = Field(
        description="Positive decimal, at most 10 decimal places; kept exactly.",
        examples=["7.1234"],
    )

    @field_validator("currency", mode="before")
    @classmethod
    def _currency(cls, value: Any) -> str:
        return check_currency(value)

    @field_validator("day", mode="before")
    @classmethod
    def _day(cls, value: Any) -> date:
        return check_day(value)

    @field_validator("rate", mode="before")
    @classmethod
    def _rate(cls, value: Any) -> str:
        return check_rate(value)


class FxRatesIn(BaseModel):
    """Rates to store; a rate already stored for a currency and day is replaced."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"rates": [{"currency": "USD", "day": "2026-11-26", "rate": "7.1032"}]}]
        },
        extra="forbid",
    )

    rates: Annotated[list[FxRateIn], Field(max_length=MAX_RATES)]


class FxRateOut(BaseModel):
    """A stored rate."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "currency": "USD",
                    "day": "2026-11-26",
                    "rate": "7.1032",
                    "updated_at": "2026-11-26T02:00:00Z",
                }
            ]
        }
    )

    currency: str
    day: date
    rate: str = Field(description="Exact decimal text.")
    updated_at: datetime


class FxUpsertOut(BaseModel):
    """What storing rates changed, and the fact rebuild it started."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"upserted": 1, "unchanged": 0, "rebuild_job_id": 1}]}
    )

    upserted: int = Field(description="Rates added or changed.")
    unchanged: int = Field(default=0, description="Rates already stored with the same value.")
    rebuild_job_id: int | None = Field(
        description="The fact rebuild that applies the new rates (None when nothing changed)."
    )


class RejectedRow(BaseModel):
    """A CSV row that was not stored, and why."""

    row: int = Field(description="1-based line number in the file (the header is line 1).")
    field: str
    reason: str = Field(description="Why, in the caller's language.")
    reason_code: str = Field(description="The catalog code of the reason (fx.*).")
    reason_params: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A CSV row's problem, before it is put in the caller's words."""

    row: int
    field: str
    reason: Msg

    def out(self, locale: str) -> RejectedRow:
        """The row as the API answers it."""
        return RejectedRow(
            row=self.row,
            field=self.field,
            reason=render(self.reason, locale),
            reason_code=self.reason.code,
            reason_params=params_json(self.reason.params),
        )


class FxImportOut(FxUpsertOut):
    """What a CSV import stored and which rows it rejected."""

    rejected: list[RejectedRow] = []


class FxDeleteOut(BaseModel):
    """A removed rate and the fact rebuild it started."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"currency": "USD", "day": "2026-11-26", "rebuild_job_id": 4}]
        }
    )

    currency: str
    day: date
    rebuild_job_id: int
