"""Subscription shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from paceline.shared.delivery_options import GroupLabel, Mention, check_dashboard_url
from paceline.shared.i18n import Invalid
from paceline.shared.web.security import url_refusal

Format = Literal["standard", "slack", "wecom", "dingtalk", "feishu"]
Kind = Literal["lag", "anomaly", "data_quality", "system"]
Severity = Literal["info", "warning", "critical"]
Action = Literal["opened", "reopened", "escalated", "deescalated", "acknowledged", "resolved"]
DigestKind = Literal["weekly", "month_end"]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Url = Annotated[
    str, Field(min_length=8, max_length=2000, description="http(s) URL of the endpoint")
]


def _check_url(value: str | None) -> str | None:
    """Strictly an absolute http(s) URL: no control characters, a valid host and port."""
    if value is None:
        return None
    problem = url_refusal(value, allow_private=True)
    if problem is not None:
        raise Invalid(problem.code, **problem.params)
    return value


class SubscriptionIn(BaseModel):
    """A new subscription. Empty filter lists mean everything."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "north team WeCom",
                    "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=xxxx",
                    "format": "wecom",
                    "kinds": ["lag", "anomaly"],
                    "teams": ["north"],
                    "min_severity": "warning",
                    "digests": ["weekly"],
                }
            ]
        },
        extra="forbid",
        str_strip_whitespace=True,
    )

    name: Name
    url: Url
    format: Format = Field(default="standard", description="Payload format of the endpoint.")
    secret: Annotated[str, Field(min_length=1, max_length=500)] | None = Field(
        default=None,
        description="dingtalk/feishu only: the bot's signing secret (SEC...). For the "
        "standard format Paceline makes the secret and returns it once.",
    )
    kinds: list[Kind] = Field(default_factory=list)
    types: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list)
    teams: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, description="Alerts of these teams (and their sub-teams and reps)."
    )
    min_severity: Severity = "info"
    actions: list[Action] = Field(
        default_factory=list,
        description="Lifecycle changes to send (default: opened, reopened, escalated, resolved).",
    )
    digests: list[DigestKind] = Field(default_factory=list, description="Digests to send too.")
    enabled: bool = True
    grouping: bool | None = Field(
        default=None,
        description="Group alert changes into one message per group. Bot formats always "
        "group; standard: off by default (one event per alert change).",
    )
    group_by: list[GroupLabel] | None = Field(
        default=None, max_length=6, description="Labels of a group (default: team, kind)."
    )
    group_wait_s: Annotated[int, Field(ge=0, le=3600)] | None = Field(
        default=None, description="Wait after a new group's first change (default 30)."
    )
    group_interval_s: Annotated[int, Field(ge=10, le=86_400)] | None = Field(
        default=None, description="Wait after a group's message before its next (default 300)."
    )
    repeat_interval_s: Annotated[int, Field(ge=60, le=604_800)] | None = Field(
        default=None, description="No repeat of the same alert state within (default 14400)."
    )
    quiet_hours: bool | None = Field(
        default=None,
        description="Hold non-critical alerts outside working hours (bots: on by default).",
    )
    inhibit: bool | None = Field(
        default=None,
        description="A team's lag alert covers its reps' (bots: on by default).",
    )
    dashboard_url: Annotated[str, Field(max_length=500)] | None = Field(
        default=None,
        description="The dashboard's address (https://.../dashboard/): bot messages link "
        "each alert to its view (rep or team, KPI, period) with a button; unset: no links.",
    )
    mentions: dict[Annotated[str, Field(min_length=1, max_length=200)], Mention] | None = Field(
        default=None,
        max_length=200,
        description='Per team id (or "company"): the manager\'s vendor ids to @-mention '
        "on critical and newly opened lag alerts (a team without one: its parent's).",
    )

    _url = field_validator("url")(_check_url)
    _dashboard_url = field_validator("dashboard_url")(check_dashboard_url)


class SubscriptionUpdate(BaseModel):
    """Fields to change; the ones left out keep their value."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"min_severity": "critical", "quiet_hours": True}]},
        extra="forbid",
        str_strip_whitespace=True,
    )

    name: Name | None = None
    url: Url | None = None
    secret: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    kinds: list[Kind] | None = None
    types: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = None
    teams: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = None
    min_severity: Severity | None = None
    actions: list[Action] | None = None
    digests: list[DigestKind] | None = None
    enabled: bool | None = Field(
        default=None,
        description="true re-enables a disabled subscription (pending deliveries resume).",
    )
    rotate_secret: bool = Field(
        default=False, description="standard format: make a new secret (returned once)."
    )
    rotation_overlap_s: Annotated[int, Field(ge=0, le=7 * 86_400)] = Field(
        default=86_400,
        description="With rotate_secret: for this long the old secret signs too (two "
        "signatures in webhook-signature, space-separated), so the receiver can switch.",
    )
    grouping: bool | None = Field(
        default=None,
        description="Group alert changes into one message per group. Bot formats always "
        "group; standard: off by default (one event per alert change).",
    )
    group_by: list[GroupLabel] | None = Field(
        default=None, max_length=6, description="Labels of a group (default: team, kind)."
    )
    group_wait_s: Annotated[int, Field(ge=0, le=3600)] | None = Field(
        default=None, description="Wait after a new group's first change (default 30)."
    )
    group_interval_s: Annotated[int, Field(ge=10, le=86_400)] | None = Field(
        default=None, description="Wait after a group's message before its next (default 300)."
    )
    repeat_interval_s: Annotated[int, Field(ge=60, le=604_800)] | None = Field(
        default=None, description="No repeat of the same alert state within (default 14400)."
    )
    quiet_hours: bool | None = Field(
        default=None,
        description="Hold non-critical alerts outside working hours (bots: on by default).",
    )
    inhibit: bool | None = Field(
        default=None,
        description="A team's lag alert covers its reps' (bots: on by default).",
    )
    dashboard_url: Annotated[str, Field(max_length=500)] | None = Field(
        default=None,
        description="The dashboard's address (https://.../dashboard/): bot messages link "
        "each alert to its view (rep or team, KPI, period) with a button; unset: no links.",
    )
    mentions: dict[Annotated[str, Field(min_length=1, max_length=200)], Mention] | None = Field(
        default=None,
        max_length=200,
        description='Per team id (or "company"): the manager\'s vendor ids to @-mention '
        "on critical and newly opened lag alerts (a team without one: its parent's).",
    )

    _url = field_validator("url")(_check_url)
    _dashboard_url = field_validator("dashboard_url")(check_dashboard_url)


class SubscriptionOut(BaseModel):
    """A subscription (its URL without credentials; never its secret)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "name": "north team WeCom",
                    "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=%2A%2A%2A",
                    "format": "wecom",
                    "has_secret": False,
                    "kinds": ["lag", "anomaly"],
                    "types": [],
                    "teams": ["north"],
                    "min_severity": "warning",
                    "actions": [],
                    "digests": ["weekly"],
                    "enabled": True,
                    "grouping": True,
                    "group_by": ["team", "kind"],
                    "group_wait_s": 30,
                    "group_interval_s": 300,
                    "repeat_interval_s": 14400,
                    "quiet_hours": True,
                    "inhibit": True,
                    "disabled_reason": None,
                    "disabled_at": None,
                    "created_at": "2026-12-03T02:00:00Z",
                    "updated_at": "2026-12-03T02:00:00Z",
                }
            ]
        }
    )

    id: int
    name: str
    url: str = Field(description="Redacted: query values and bot tokens masked.")
    format: str
    has_secret: bool
    kinds: list[str]
    types: list[str]
    teams: list[str]
    min_severity: str
    actions: list[str]
    digests: list[str]
    enabled: bool
    grouping: bool
    group_by: list[str]
    group_wait_s: int
    group_interval_s: int
    repeat_interval_s: int
    quiet_hours: bool
    inhibit: bool
    dashboard_url: str | None = None
    mentions: dict[str, Mention] = Field(default_factory=dict)
    disabled_reason: str | None
    disabled_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(SubscriptionOut):
    """A subscription just created or re-keyed: the signing secret, shown this once."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "name": "north team WeCom",
                    "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=%2A%2A%2A",
                    "format": "wecom",
                    "has_secret": False,
                    "kinds": ["lag", "anomaly"],
                    "types": [],
                    "teams": ["north"],
                    "min_severity": "warning",
                    "actions": [],
                    "digests": ["weekly"],
                    "enabled": True,
                    "grouping": True,
                    "group_by": ["team", "kind"],
                    "group_wait_s": 30,
                    "group_interval_s": 300,
                    "repeat_interval_s": 14400,
                    "quiet_hours": True,
                    "inhibit": True,
                    "disabled_reason": None,
                    "disabled_at": None,
                    "created_at": "2026-12-03T02:00:00Z",
                    "updated_at": "2026-12-03T02:00:00Z",
                    "secret": "whsec_<shown once when Paceline makes one>",
                }
            ]
        }
    )

    secret: str | None = Field(description="Keep it: it is not shown again.")


class AttemptOut(BaseModel):
    """One attempt of a delivery."""

    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    response: str | None
    outcome: str
    next_attempt_at: datetime | None


class DeliveryOut(BaseModel):
    """One message to the subscriber and where it stands."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 311,
                    "message_id": "msg_2f8c0d6a9b1e4c57",
                    "event_type": "alert.opened",
                    "status": "delivered",
                    "folded_into": None,
                    "attempts": 2,
                    "next_attempt_at": None,
                    "created_at": "2026-11-24T02:00:05Z",
                    "delivered_at": "2026-11-24T02:00:41Z",
                    "dead_at": None,
                    "last_status_code": 200,
                    "last_error": None,
                    "redelivery_of": None,
                    "payload": {
                        "type": "alert.opened",
                        "timestamp": "2026-11-24T02:00:05Z",
                        "tenant": "default",
                        "data": {
                            "event": {"action": "opened", "at": "2026-11-24T02:00:00Z"},
                            "alert": {
                                "id": 42,
                                "kind": "lag",
                                "type": "lag",
                                "scope": "rep:r-001",
                                "severity": "warning",
                                "status": "open",
                            },
                        },
                    },
                }
            ]
        }
    )

    id: int
    message_id: str = Field(description="The webhook-id header (the same on every retry).")
    event_type: str
    status: str = Field(
        description="pending | delivered | dead; an alert change of a grouped subscription: "
        "held (waiting for its group's message) | folded (carried by folded_into) | "
        "suppressed (a repeat, or covered by another alert: last_error says which)"
    )
    folded_into: int | None = Field(default=None, description="The group message's delivery.")
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    redelivery_of: int | None
    payload: dict[str, Any]


class DeliveryDetail(DeliveryOut):
    """A delivery with its attempts."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 311,
                    "message_id": "msg_2f8c0d6a9b1e4c57",
                    "event_type": "alert.opened",
                    "status": "delivered",
                    "folded_into": None,
                    "attempts": 2,
                    "next_attempt_at": None,
                    "created_at": "2026-11-24T02:00:05Z",
                    "delivered_at": "2026-11-24T02:00:41Z",
                    "dead_at": None,
                    "last_status_code": 200,
                    "last_error": None,
                    "redelivery_of": None,
                    "payload": {
                        "type": "alert.opened",
                        "timestamp": "2026-11-24T02:00:05Z",
                        "tenant": "default",
                        "data": {
                            "event": {"action": "opened", "at": "2026-11-24T02:00:00Z"},
                            "alert": {
                                "id": 42,
                                "kind": "lag",
                                "type": "lag",
                                "scope": "rep:r-001",
                                "severity": "warning",
                                "status": "open",
                            },
                        },
                    },
                    "attempts_log": [
                        {
                            "attempt": 1,
                            "at": "2026-11-24T02:00:06Z",
                            "status_code": 503,
                            "error": None,
                            "duration_ms": 212,
                            "response": "Service Unavailable",
                            "outcome": "retry",
                            "next_attempt_at": "2026-11-24T02:00:36Z",
                        },
                        {
                            "attempt": 2,
                            "at": "2026-11-24T02:00:41Z",
                            "status_code": 200,
                            "error": None,
                            "duration_ms": 95,
                            "response": "ok",
                            "outcome": "delivered",
                            "next_attempt_at": None,
                        },
                    ],
                }
            ]
        }
    )

    attempts_log: list[AttemptOut]


class DeliveriesPage(BaseModel):
    """A page of the delivery log, newest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": 311,
                            "message_id": "msg_2f8c0d6a9b1e4c57",
                            "event_type": "alert.opened",
                            "status": "delivered",
                            "folded_into": None,
                            "attempts": 2,
                            "next_attempt_at": None,
                            "created_at": "2026-11-24T02:00:05Z",
                            "delivered_at": "2026-11-24T02:00:41Z",
                            "dead_at": None,
                            "last_status_code": 200,
                            "last_error": None,
                            "redelivery_of": None,
                            "payload": {
                                "type": "alert.opened",
                                "timestamp": "2026-11-24T02:00:05Z",
                                "tenant": "default",
                                "data": {
                                    "event": {"action": "opened", "at": "2026-11-24T02:00:00Z"},
                                    "alert": {
                                        "id": 42,
                                        "kind": "lag",
                                        "type": "lag",
                                        "scope": "rep:r-001",
                                        "severity": "warning",
                                        "status": "open",
                                    },
                                },
                            },
                        }
                    ],
                    "next_cursor": 311,
                }
            ]
        }
    )

    items: list[DeliveryOut]
    next_cursor: int | None = Field(description="Pass as before_id for the next page.")
