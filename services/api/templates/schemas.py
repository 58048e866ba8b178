"""Role template shapes."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class TemplateItemIO(BaseModel):
    """A KPI and its weight (percent)."""

    model_config = ConfigDict(extra="forbid")

    kpi: Annotated[str, Field(min_length=1, max_length=64)]
    weight: Annotated[Decimal, Field(gt=0, le=100, max_digits=6, decimal_places=2)]
    category: str | None = Field(default=None, description="Filled in from the KPI (read-only).")


class TemplateIn(BaseModel):
    """A custom role template."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name_zh": "客户经理",
                    "name_en": "Account manager",
                    "items": [
                        {"kpi": "revenue", "weight": "60"},
                        {"kpi": "visits", "weight": "40"},
                    ],
                }
            ]
        },
        extra="forbid",
        str_strip_whitespace=True,
    )

    name_zh: Annotated[str, Field(min_length=1, max_length=200)]
    name_en: Annotated[str, Field(min_length=1, max_length=200)]
    items: Annotated[list[TemplateItemIO], Field(min_length=1, max_length=20)]


class TemplateOut(BaseModel):
    """A role template with its category mix."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "key": "account_manager",
                    "name": "客户经理",
                    "names": {"zh-CN": "客户经理", "en": "Account manager"},
                    "builtin": True,
                    "items": [
                        {"kpi": "revenue", "weight": "40", "category": "result"},
                        {"kpi": "new_customers", "weight": "20", "category": "result"},
                        {"kpi": "visits", "weight": "15", "category": "process"},
                        {"kpi": "win_rate", "weight": "15", "category": "process"},
                        {"kpi": "crm_active_days", "weight": "10", "category": "capability"},
                    ],
                    "mix": {"result": "60", "process": "30", "capability": "10"},
                }
            ]
        }
    )

    key: str
    name: str = Field(description="The template's name in the caller's language.")
    names: dict[str, str]
    builtin: bool
    items: list[TemplateItemIO]
    mix: dict[str, Decimal] = Field(
        description="Weight per category (result, process, capability)."
    )
