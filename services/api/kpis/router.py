"""``GET /v1/kpis``: the KPI catalog."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from paceline.shared.kpi.catalog import BUILTIN_KPIS, KpiDefinition
from paceline.shared.web.deps import ReadPrincipal

router = APIRouter(prefix="/v1", tags=["kpis"])


class KpiOut(BaseModel):
    """A KPI in the catalog."""

    key: str
    names: dict[str, str]
    descriptions: dict[str, str]
    unit: str
    direction: Literal["higher", "lower"]
    category: Literal["result", "process", "capability"]
    formula: str
    builtin: bool
    min_sample: int


def kpi_out(k: KpiDefinition) -> KpiOut:
    """The catalog entry of a KPI."""
    return KpiOut(
        key=k.key,
        names=k.names(),
        descriptions={"zh-CN": k.description_zh, "en": k.description_en},
        unit=k.unit,
        direction=k.direction,
        category=k.category,
        formula=k.formula.text,
        builtin=k.builtin,
        min_sample=k.min_sample,
    )


@router.get("/kpis", response_model=list[KpiOut], summary="The KPI catalog")
async def list_kpis(_principal: ReadPrincipal) -> list[KpiOut]:
    """Built-in and custom KPIs with names (zh-CN, en), unit, direction, category, formula."""
    return [kpi_out(k) for k in BUILTIN_KPIS]
