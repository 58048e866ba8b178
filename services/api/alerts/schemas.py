"""Alert shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class AlertOut(BaseModel):
    """An alert: one per dedup key, with its lifecycle state."""

    id: int
    kind: str = Field(description="lag | anomaly | data_quality | system")
    type: str = Field(description="e.g. lag, rep_silent, anomaly_low, burst, unknown_rep")
    dedup_key: str
    scope: str
    scope_name: str = Field(
        description="What people call the scope: the rep's or team's name, 公司 / Company."
    )
    team: str | None = Field(default=None, description="The team of a rep or team scope.")
    severity: str = Field(description="info | warning | critical")
    status: str = Field(description="open | acknowledged | resolved")
    title: str = Field(
        description="In the caller's language (Accept-Language, else the tenant's locale)."
    )
    title_code: str | None = Field(
        default=None,
        description="The title's catalog code (null on alerts from before titles had one).",
    )
    title_params: dict[str, Any] | None = Field(
        default=None,
        description="The title's parameters (typed values: {'$money': ...}, {'$pct': ...}).",
    )
    detail: dict[str, Any]
    occurrences: int
    first_seen_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None


class AlertEventOut(BaseModel):
    """One change in an alert's history."""

    id: int
    action: str = Field(
        description="opened, reopened, escalated, deescalated, acknowledged, resolved"
    )
    at: datetime
    actor: str
    severity: str
    status: str
    note: str = Field(
        description="A person's note as written; a note of the system in the caller's language."
    )
    note_code: str | None = Field(
        default=None, description="The catalog code of a note of the system (null otherwise)."
    )
    note_params: dict[str, Any] | None = None


class AlertWithHistory(AlertOut):
    """An alert and every change it went through, oldest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 42,
                    "kind": "lag",
                    "type": "lag",
                    "dedup_key": "lag:revenue:rep:r-001:2026-11",
                    "scope": "rep:r-001",
                    "scope_name": "王芳",
                    "team": "north-bj",
                    "severity": "critical",
                    "status": "acknowledged",
                    "title": (
                        "王芳的销售额（2026年11月）有完不成的风险：已完成 ¥18万，"
                        "按进度应完成 ¥45.24万，仅为预期进度的 40%"
                    ),
                    "title_code": "alerts.lag.at_risk",
                    "title_params": {
                        "scope": "王芳",
                        "kpi": {"$l10n": {"zh-CN": "销售额", "en": "Revenue"}},
                        "period": {
                            "$msg": "alerts.period.month",
                            "params": {
                                "year": "2026",
                                "month": {"$l10n": {"zh-CN": "11", "en": "Nov"}},
                            },
                        },
                        "pace": {"$pct": "0.3979"},
                        "actual": {"$money": "180000.0000", "currency": "CNY"},
                        "expected": {"$money": "452380.9524", "currency": "CNY"},
                    },
                    "detail": {
                        "kpi": "revenue",
                        "period": "2026-11",
                        "actual": "180000.0000",
                        "expected": "452380.9524",
                        "pace": "0.3979",
                        "status": "at_risk",
                    },
                    "occurrences": 3,
                    "first_seen_at": "2026-11-24T02:00:00Z",
                    "last_seen_at": "2026-11-26T02:00:00Z",
                    "acknowledged_at": "2026-11-26T03:12:00Z",
                    "acknowledged_by": "key:d0728804a1e7e8f7",
                    "resolved_at": None,
                    "history": [
                        {
                            "id": 101,
                            "action": "opened",
                            "at": "2026-11-24T02:00:00Z",
                            "actor": "system",
                            "severity": "critical",
                            "status": "open",
                            "note": "",
                            "note_code": None,
                            "note_params": None,
                        },
                        {
                            "id": 107,
                            "action": "acknowledged",
                            "at": "2026-11-26T03:12:00Z",
                            "actor": "key:d0728804a1e7e8f7",
                            "severity": "critical",
                            "status": "acknowledged",
                            "note": "已和王芳沟通，有两单在谈",
                            "note_code": None,
                            "note_params": None,
                        },
                    ],
                }
            ]
        }
    )

    history: list[AlertEventOut]


class AlertsPage(BaseModel):
    """A page of alerts, newest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": 1,
                            "kind": "data_quality",
                            "type": "backdated",
                            "dedup_key": "backdated:api:2026-11-26",
                            "scope": "company",
                            "scope_name": "公司",
                            "team": None,
                            "severity": "warning",
                            "status": "open",
                            "title": (
                                "2026年11月26日来自“api”的事件时间比到达时间早 7 天以上（补录？）"
                            ),
                            "title_code": "alerts.quality.backdated",
                            "title_params": {
                                "source": "api",
                                "day": {"$date": "2026-11-26"},
                                "days": 7,
                            },
                            "detail": {
                                "source": "api",
                                "day": "2026-11-26",
                                "count": 3,
                                "events": ["deal-1-v1", "deal-2-v1", "deal-3-v1"],
                            },
                            "occurrences": 1,
                            "first_seen_at": "2026-11-26T02:00:00Z",
                            "last_seen_at": "2026-11-26T02:00:00Z",
                            "acknowledged_at": None,
                            "acknowledged_by": None,
                            "resolved_at": None,
                        }
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )

    items: list[AlertOut]
    next_cursor: str | None = Field(
        description="Pass as cursor for the next page; null at the end."
    )


class AlertAction(BaseModel):
    """An optional note for an acknowledgement or a resolution."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"note": "已和王芳沟通，有两单在谈"}]},
        extra="forbid",
        str_strip_whitespace=True,
    )

    note: Annotated[str, Field(max_length=2000)] = ""


class DigestOut(BaseModel):
    """A digest made for a team and period. Its body's ``title`` and ``summary`` lines are
    in the caller's language, with ``title_code``/``title_params`` and ``summary_messages``
    (``{"code", "params"}`` per line) for machines."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "team": "north",
                    "kind": "weekly",
                    "period": "2026-W48",
                    "created_at": "2026-11-30T01:00:00Z",
                    "body": {
                        "title": "华北一组每周进度简报（2026年第48周）",
                        "title_code": "digest.title.weekly",
                        "title_params": {
                            "team": "华北一组",
                            "period": {
                                "$msg": "alerts.period.week",
                                "params": {"year": "2026", "week": "48"},
                            },
                        },
                        "locale": "zh-CN",
                        "kind": "weekly",
                        "period": "2026-W48",
                        "team": "north",
                        "summary": [
                            "共 1 个目标：超前 0 个，正常 0 个，落后 1 个，有风险 0 个",
                            "进度落后：华北一组的销售额（进度 73%）",
                            "未处理的预警：2 条",
                        ],
                        "summary_messages": [
                            {
                                "code": "digest.summary.targets",
                                "params": {
                                    "count": 1,
                                    "ahead": 0,
                                    "on_track": 0,
                                    "behind": 1,
                                    "at_risk": 0,
                                },
                            },
                            {
                                "code": "digest.summary.behind",
                                "params": {
                                    "items": [
                                        {
                                            "$msg": "digest.summary.behind_item",
                                            "params": {
                                                "scope": "华北一组",
                                                "kpi": {
                                                    "$l10n": {"zh-CN": "销售额", "en": "Revenue"}
                                                },
                                                "pace": {"$pct": "0.7333"},
                                            },
                                        }
                                    ]
                                },
                            },
                            {"code": "digest.summary.open_alerts", "params": {"count": 2}},
                        ],
                        "targets": [
                            {
                                "target_id": 3,
                                "kpi": "revenue",
                                "kpi_name": {"zh-CN": "销售额", "en": "Revenue"},
                                "scope": "team:north",
                                "scope_name": "华北一组",
                                "period": "2026-11",
                                "actual": "660000.0000",
                                "target": "900000.0000",
                                "pace": "0.7333",
                                "status": "behind",
                            }
                        ],
                    },
                }
            ]
        }
    )

    id: int
    team: str
    kind: str
    period: str
    created_at: datetime
    body: dict[str, Any]
