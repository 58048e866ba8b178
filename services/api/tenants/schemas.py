"""Tenant shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from paceline.api.settings.schemas import check_currency, check_timezone

# Ids users give cannot start with "_": "_platform" holds the operator's keys.
TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
TenantIdField = Annotated[str, Field(min_length=1, max_length=64, pattern=TENANT_ID_PATTERN)]


class TenantIn(BaseModel):
    """A tenant to create, with its first settings (the tenant's admins change them later
    through ``PUT /v1/settings``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "acme",
                    "name": "Acme 华东",
                    "timezone": "Asia/Shanghai",
                    "currency": "CNY",
                    "fiscal_year_start_month": 1,
                    "locale": "zh-CN",
                }
            ]
        },
        extra="forbid",
        str_strip_whitespace=True,
    )

    id: TenantIdField = Field(description="Lower-case letters, digits, '-' and '_'.")
    name: Annotated[str, Field(min_length=1, max_length=200)]
    timezone: str = "Asia/Shanghai"
    currency: str = "CNY"
    fiscal_year_start_month: Annotated[int, Field(ge=1, le=12)] = 1
    locale: Literal["zh-CN", "en"] = "zh-CN"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("currency")
    @classmethod
    def _ccy(cls, value: str) -> str:
        return check_currency(value)


class TenantOut(BaseModel):
    """A tenant."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "acme",
                    "name": "Acme 华东",
                    "timezone": "Asia/Shanghai",
                    "currency": "CNY",
                    "fiscal_year_start_month": 1,
                    "locale": "zh-CN",
                    "created_at": "2026-11-02T01:30:00Z",
                    "updated_at": "2026-11-02T01:30:00Z",
                    "active_keys": 2,
                }
            ]
        }
    )

    id: str
    name: str
    timezone: str
    currency: str
    fiscal_year_start_month: int
    locale: str
    created_at: datetime
    updated_at: datetime
    active_keys: int = Field(description="Keys neither revoked nor expired.")


class TenantPage(BaseModel):
    """A page of tenants, in id order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": "acme",
                            "name": "Acme 华东",
                            "timezone": "Asia/Shanghai",
                            "currency": "CNY",
                            "fiscal_year_start_month": 1,
                            "locale": "zh-CN",
                            "created_at": "2026-11-02T01:30:00Z",
                            "updated_at": "2026-11-02T01:30:00Z",
                            "active_keys": 2,
                        }
                    ],
                    "next_cursor": "acme",
                }
            ]
        }
    )

    items: list[TenantOut]
    next_cursor: str | None
