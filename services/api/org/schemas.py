"""Org chart shapes."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

ExtId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s/].*$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class TeamIn(BaseModel):
    """A team as the org chart gives it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": "north-bj", "name": "北京组", "parent_id": "north"}]
        },
        extra="forbid",
        str_strip_whitespace=True,
    )

    id: ExtId
    name: Name
    parent_id: ExtId | None = None


class RepIn(BaseModel):
    """A rep as the org chart gives it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": "r-001", "name": "王芳", "team_id": "north-bj", "role": "account_manager"}
            ]
        },
        extra="forbid",
        str_strip_whitespace=True,
    )

    id: ExtId = Field(description="The rep_id that events carry.")
    name: Name
    team_id: ExtId | None = None
    role: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="e.g. account_manager, channel_manager, presales"
    )


class OrgIn(BaseModel):
    """The whole org chart: what is not listed becomes inactive (history is kept)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "teams": [
                        {"id": "north", "name": "华北区"},
                        {"id": "north-bj", "name": "北京组", "parent_id": "north"},
                    ],
                    "reps": [
                        {
                            "id": "r-001",
                            "name": "王芳",
                            "team_id": "north-bj",
                            "role": "account_manager",
                        }
                    ],
                    "effective_from": "2026-11-01",
                }
            ]
        },
        extra="forbid",
    )

    teams: Annotated[list[TeamIn], Field(max_length=10_000)] = []
    reps: Annotated[list[RepIn], Field(max_length=100_000)] = []
    effective_from: date | None = Field(
        default=None,
        description=(
            "The first day on which team moves and role changes in this chart apply "
            "(tenant-local). Default: today. A rep's first team and role apply to all their "
            "history."
        ),
    )


class TeamOut(BaseModel):
    """A team."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": "north-bj", "name": "北京组", "parent_id": "north", "active": True}]
        }
    )

    id: str
    name: str
    parent_id: str | None
    active: bool


class MembershipOut(BaseModel):
    """A stretch of time a rep spent in a team."""

    team_id: str
    valid_from: date
    valid_to: date | None


class RepOut(BaseModel):
    """A rep and their current team."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "r-001",
                    "name": "王芳",
                    "team_id": "north-bj",
                    "role": "account_manager",
                    "active": True,
                    "memberships": [
                        {"team_id": "north-bj", "valid_from": "1970-01-01", "valid_to": None}
                    ],
                }
            ]
        }
    )

    id: str
    name: str
    team_id: str | None
    role: str | None
    active: bool
    memberships: list[MembershipOut] = []


class OrgChanges(BaseModel):
    """What an org update changed (all zero when the same chart is sent again)."""

    teams_added: int = 0
    teams_updated: int = 0
    teams_deactivated: int = 0
    reps_added: int = 0
    reps_updated: int = 0
    reps_deactivated: int = 0
    reps_moved: int = 0


class OrgOut(BaseModel):
    """The org chart."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "teams": [
                        {"id": "north", "name": "华北区", "parent_id": None, "active": True},
                        {"id": "north-bj", "name": "北京组", "parent_id": "north", "active": True},
                    ],
                    "reps": [
                        {
                            "id": "r-001",
                            "name": "王芳",
                            "team_id": "north-bj",
                            "role": "account_manager",
                            "active": True,
                            "memberships": [
                                {
                                    "team_id": "north-bj",
                                    "valid_from": "1970-01-01",
                                    "valid_to": None,
                                }
                            ],
                        }
                    ],
                    "changes": None,
                }
            ]
        }
    )

    teams: list[TeamOut]
    reps: list[RepOut]
    changes: OrgChanges | None = None
