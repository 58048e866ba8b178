"""Request and response shapes of the canonical event intake."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from paceline.shared.i18n import Msg, from_json, params_json, render, to_json


class FieldProblem(BaseModel):
    """One field of one event that failed validation: the reason in the caller's language,
    and for machines its catalog code and parameters."""

    field: str
    reason: str
    reason_code: str = Field(description="The reason's catalog code (stable).")
    reason_params: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, field: str, reason: Msg, locale: str) -> FieldProblem:
        """A problem with its reason rendered in ``locale``."""
        return cls(
            field=field,
            reason=render(reason, locale),
            reason_code=reason.code,
            reason_params=params_json(reason.params),
        )

    def msg(self) -> Msg:
        """The reason as a message again (to render in another locale or store)."""
        return from_json({"code": self.reason_code, "params": self.reason_params})


class MessageOut(BaseModel):
    """A message for machines: its catalog code and parameters."""

    code: str
    params: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, message: Msg) -> MessageOut:
        """The code and parameters of a message."""
        return cls(**to_json(message))


class EventResult(BaseModel):
    """What happened to one event of the request."""

    index: int = Field(description="Position in the request (0-based; the line for NDJSON).")
    event_id: str | None = None
    status: Literal["accepted", "duplicate", "rejected"] = Field(
        description=(
            "accepted: durably in the event log (a resend of an id already processed is "
            "also accepted, and ignored by scoring); duplicate: the same event_id appeared "
            "earlier in this request; rejected: not valid, see errors."
        )
    )
    errors: list[FieldProblem] = Field(default_factory=list)
    warnings: list[str] = Field(
        default_factory=list, description="In the caller's language (see warning_codes)."
    )
    warning_codes: list[MessageOut] = Field(
        default_factory=list,
        description="The warnings' catalog codes and parameters, in the same order.",
    )


class IngestResponse(BaseModel):
    """Per-event results of an intake request."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "accepted": 4,
                    "duplicates": 0,
                    "rejected": 0,
                    "results": [
                        {
                            "index": 0,
                            "event_id": "deal-1-v1",
                            "status": "accepted",
                            "errors": [],
                            "warnings": [],
                            "warning_codes": [],
                        },
                        {
                            "index": 1,
                            "event_id": "deal-2-v1",
                            "status": "accepted",
                            "errors": [],
                            "warnings": ["未知字段 region 已保存在 attributes 中"],
                            "warning_codes": [
                                {"code": "events.unknown_field", "params": {"name": "region"}}
                            ],
                        },
                    ],
                }
            ]
        }
    )

    accepted: int
    duplicates: int
    rejected: int
    results: list[EventResult]
