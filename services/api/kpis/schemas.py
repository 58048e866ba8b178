"""KPI catalog shapes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Unit = Literal["currency", "count", "ratio", "days", "hours", "score", "per_100_customers"]
KpiKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")]


class KpiOut(BaseModel):
    """A KPI in the catalog."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "key": "revenue",
                    "names": {"zh-CN": "销售额", "en": "Revenue"},
                    "descriptions": {
                        "zh-CN": "赢单金额，按赢单日期计入。",
                        "en": "Amount of deals won, on the day they were won.",
                    },
                    "unit": "currency",
                    "direction": "higher",
                    "category": "result",
                    "formula": 'sum(deal.amount where stage == "won")',
                    "shape": "value",
                    "event_types": ["deal"],
                    "builtin": True,
                    "min_sample": 0,
                    "version": 1,
                    "active": True,
                }
            ]
        }
    )

    key: str
    names: dict[str, str]
    descriptions: dict[str, str]
    unit: str
    direction: Literal["higher", "lower"]
    category: Literal["result", "process", "capability"]
    formula: str
    shape: Literal["value", "ratio", "working_day_share"]
    event_types: list[str]
    builtin: bool
    min_sample: int
    version: int
    active: bool = True


class KpiIn(BaseModel):
    """A custom KPI to create."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "key": "big_deal_count",
                    "name_zh": "大单数",
                    "name_en": "Big deals",
                    "unit": "count",
                    "direction": "higher",
                    "category": "result",
                    "formula": 'count(deal where stage == "won" and amount >= 100000)',
                    "min_sample": 0,
                }
            ]
        },
        extra="forbid",
        str_strip_whitespace=True,
    )

    key: KpiKey
    name_zh: Annotated[str, Field(min_length=1, max_length=200)]
    name_en: Annotated[str, Field(min_length=1, max_length=200)]
    description_zh: Annotated[str, Field(max_length=2000)] = ""
    description_en: Annotated[str, Field(max_length=2000)] = ""
    unit: Unit
    direction: Literal["higher", "lower"] = "higher"
    category: Literal["result", "process", "capability"]
    formula: Annotated[str, Field(min_length=1, max_length=2000)]
    min_sample: Annotated[int, Field(ge=0, le=100_000)] = 0


class KpiUpdate(BaseModel):
    """Changes to a custom KPI; a new formula recomputes its facts."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name_en": "Deals of 100k or more", "min_sample": 3}]},
        extra="forbid",
        str_strip_whitespace=True,
    )

    name_zh: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    name_en: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description_zh: Annotated[str, Field(max_length=2000)] | None = None
    description_en: Annotated[str, Field(max_length=2000)] | None = None
    unit: Unit | None = None
    direction: Literal["higher", "lower"] | None = None
    category: Literal["result", "process", "capability"] | None = None
    formula: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    min_sample: Annotated[int, Field(ge=0, le=100_000)] | None = None


class KpiChange(KpiOut):
    """A KPI after a change, and the fact rebuild the change started."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "key": "big_deal_count",
                    "names": {"zh-CN": "大单数", "en": "Big deals"},
                    "descriptions": {"zh-CN": "", "en": ""},
                    "unit": "count",
                    "direction": "higher",
                    "category": "result",
                    "formula": 'count(deal where stage == "won" and amount >= 100000)',
                    "shape": "value",
                    "event_types": ["deal"],
                    "builtin": False,
                    "min_sample": 0,
                    "version": 1,
                    "active": True,
                    "rebuild_job_id": 3,
                }
            ]
        }
    )

    rebuild_job_id: int | None = None


class FormulaCheckIn(BaseModel):
    """A formula to check."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"formula": 'ratio(sum(deal.amount where stage == "won"), count(visit))'}]
        }
    )

    formula: Annotated[str, Field(max_length=2000)]


class FormulaProblem(BaseModel):
    """Where and why a formula is wrong (position is 1-based); ``reason`` in the caller's
    language, ``reason_code``/``reason_params`` its catalog message for machines."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "position": 16,
                    "reason": '公式提前结束；此处应为以下之一：")"、by和where',
                    "reason_code": "formula.ends_early",
                    "reason_params": {"expected": ['")"', "by", "where"]},
                }
            ]
        }
    )

    position: int
    reason: str
    reason_code: str
    reason_params: dict[str, Any]


class MeasureOut(BaseModel):
    """One decomposable measure a formula keeps as facts."""

    kind: Literal["sum", "count", "distinct"]
    source: str
    field: str | None
    by: str | None


class FormulaCheck(BaseModel):
    """The result of checking a formula."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "valid": True,
                    "error": None,
                    "shape": "ratio",
                    "measures": [
                        {"kind": "sum", "source": "deal", "field": "amount", "by": None},
                        {"kind": "count", "source": "visit", "field": None, "by": None},
                    ],
                }
            ]
        }
    )

    valid: bool
    error: FormulaProblem | None = None
    shape: str | None = None
    measures: list[MeasureOut] = []


class JobOut(BaseModel):
    """A background job (e.g. a fact rebuild)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "kind": "rebuild_facts",
                    "status": "done",
                    "created_at": "2026-11-26T02:00:00Z",
                    "finished_at": "2026-11-26T02:00:04Z",
                    "result": None,
                    "error": None,
                }
            ]
        }
    )

    id: int
    kind: str
    status: Literal["pending", "running", "done", "failed"]
    created_at: str
    finished_at: str | None
    result: dict[str, object] | None
    error: str | None
