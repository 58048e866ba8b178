"""How a subscription's alerts are grouped, paced and held (read by scoring, set by the api).

Stored per subscription (``alert_subscriptions.delivery_options``); anything unset takes
the format's default. The timers follow Prometheus Alertmanager's route settings
(docs/ALERTS.md, "Grouped delivery"); the per-destination limits are the vendors'
published ones (:data:`VENDOR_LIMITS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from paceline.shared.i18n import Invalid

GroupLabel = Literal["team", "kind", "type", "severity", "scope", "action"]
BOT_FORMATS = ("slack", "wecom", "dingtalk", "feishu")


def _team_and_kind() -> list[GroupLabel]:
    return ["team", "kind"]


MentionId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@+-]+$")]


class Mention(BaseModel):
    """Whom a bot @-mentions for a team: the vendor's ids of its responsible manager.

    ``mobiles``: DingTalk (``atMobiles``); ``user_ids``: the vendor's user id — WeCom
    userid (``<@userid>``), DingTalk userId (``atUserIds``), Feishu open_id (``<at
    id=ou_...>``, the only id a custom bot may mention), Slack member id (``<@U...>``).
    """

    model_config = ConfigDict(extra="forbid")

    mobiles: list[MentionId] = Field(default_factory=list, max_length=10)
    user_ids: list[MentionId] = Field(default_factory=list, max_length=10)


def check_dashboard_url(value: str | None) -> str | None:
    """The dashboard's address: an http(s) URL without spaces or a ``#`` fragment."""
    if value is None:
        return None
    value = value.strip()
    if not value.startswith(("https://", "http://")) or any(c in value for c in ' #"<>\n'):
        raise Invalid("delivery.dashboard_url.invalid")
    return value


class DeliveryOptions(BaseModel):
    """Grouping, quiet hours and inhibition of one subscription (all fields defaulted)."""

    model_config = ConfigDict(extra="forbid")

    grouping: bool = Field(
        default=True,
        description="Group alert changes into one message per group (bot formats: always; "
        "standard: off by default, one event per alert change).",
    )
    group_by: list[GroupLabel] = Field(
        default_factory=_team_and_kind,
        max_length=6,
        description="Alert labels that make a group; [] puts every alert in one group.",
    )
    group_wait_s: Annotated[int, Field(ge=0, le=3600)] = Field(
        default=30, description="Wait this long after a new group's first alert change."
    )
    group_interval_s: Annotated[int, Field(ge=10, le=86_400)] = Field(
        default=300, description="Wait this long after a group's message before the next one."
    )
    repeat_interval_s: Annotated[int, Field(ge=60, le=7 * 86_400)] = Field(
        default=4 * 3600,
        description="The same change of the same alert is not sent again within this time.",
    )
    quiet_hours: bool = Field(
        default=True,
        description="Hold non-critical alerts outside the tenant's working hours and days "
        "(work calendar, work_start_hour..work_end_hour); critical ones go through.",
    )
    inhibit: bool = Field(
        default=True,
        description="A team's lag alert covers its reps' lag alerts on the same KPI and "
        "period; a company lag alert covers the sole top team's.",
    )
    dashboard_url: str | None = Field(
        default=None,
        max_length=500,
        description="The dashboard's address as the group's members open it (e.g. "
        "https://paceline.example.com/dashboard/): messages link each alert to its exact "
        "view (rep or team, KPI, period) and bots show a button; unset, no links.",
    )
    mentions: dict[Annotated[str, Field(min_length=1, max_length=200)], Mention] = Field(
        default_factory=dict,
        max_length=200,
        description='Per team id ("company" for company alerts), the responsible '
        "manager's vendor ids to @-mention on critical alerts and newly opened lag alerts "
        "(a team without an entry: its parent's). Bot formats only.",
    )

    _dashboard_url = field_validator("dashboard_url")(check_dashboard_url)


def defaults_for(fmt: str) -> DeliveryOptions:
    """The defaults of a format: machines (standard) get one event per change, no holds."""
    if fmt in BOT_FORMATS:
        return DeliveryOptions()
    return DeliveryOptions(grouping=False, quiet_hours=False, inhibit=False)


def delivery_options(fmt: str, raw: dict[str, Any] | None) -> DeliveryOptions:
    """A subscription's options: its stored values over the format's defaults."""
    base = defaults_for(fmt).model_dump()
    try:
        opts = DeliveryOptions.model_validate({**base, **(raw or {})})
    except ValidationError:
        return defaults_for(fmt)
    if fmt in BOT_FORMATS and not opts.grouping:  # a chat group is never flooded
        opts = opts.model_copy(update={"grouping": True})
    return opts


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``count`` messages in any ``window_s`` seconds."""

    count: int
    window_s: float


@dataclass(frozen=True, slots=True)
class VendorLimit:
    """A destination's published limits and how it says "too fast"."""

    limits: tuple[RateLimit, ...]
    throttle_codes: tuple[int, ...] = ()
    blocked_s: float = 60.0  # how long the vendor blocks a bot that went over


# Sources in docs/ALERTS.md ("Rate limits"). Each message is one POST to the bot.
VENDOR_LIMITS: dict[str, VendorLimit] = {
    # 企业微信 group bot: 20 messages/minute per bot; errcode 45009 when over.
    "wecom": VendorLimit((RateLimit(20, 60.0),), throttle_codes=(45009,), blocked_s=60.0),
    # 钉钉 custom robot: 20/minute per bot, then throttled for 10 minutes (errcode 130101).
    "dingtalk": VendorLimit((RateLimit(20, 60.0),), throttle_codes=(130101,), blocked_s=600.0),
    # 飞书 custom bot: 100/minute and 5/second per bot (code 11232 when over).
    "feishu": VendorLimit(
        (RateLimit(100, 60.0), RateLimit(5, 1.0)), throttle_codes=(11232,), blocked_s=60.0
    ),
    # Slack incoming webhook: about 1 message per second (HTTP 429 with Retry-After).
    "slack": VendorLimit((RateLimit(1, 1.0),), blocked_s=30.0),
}
