"""User shapes: what an admin may set, and what is shown."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

RoleName = Literal["admin", "manager", "rep", "viewer", "bi"]
UserIdPath = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,63}$"

ROLE_HELP = (
    "admin (everything of the tenant), manager (reads the figures of team_id and every "
    "team below it, and their members; acknowledges), rep (reads their own figures, "
    "rep_id, and their team's aggregates unless the tenant turns that off; acknowledges "
    "their own), viewer (reads the whole tenant), bi (reads the whole tenant, for BI "
    "tools; never acknowledges)"
)


class UserIn(BaseModel):
    """A user to create."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "email": "li.na@example.cn",
                    "name": "李娜",
                    "role": "manager",
                    "team_id": "north",
                }
            ]
        },
    )

    email: Annotated[str, Field(max_length=254, pattern=EMAIL_PATTERN)] = Field(
        description="The person's e-mail: how a first OpenID Connect sign-in finds them."
    )
    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: RoleName = Field(description=ROLE_HELP)
    team_id: Annotated[str | None, Field(max_length=200)] = Field(
        default=None, description="A manager's team (required for a manager)."
    )
    rep_id: Annotated[str | None, Field(max_length=200)] = Field(
        default=None, description="A rep's own id in the org chart (required for a rep)."
    )
    active: bool = True


class UserOut(BaseModel):
    """A user as shown."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "u-7f3a9c",
                    "email": "li.na@example.cn",
                    "name": "李娜",
                    "role": "manager",
                    "team_id": "north",
                    "rep_id": None,
                    "active": True,
                    "signs_in_with_oidc": False,
                    "created_at": "2026-12-01T02:00:00Z",
                    "updated_at": "2026-12-01T02:00:00Z",
                    "last_sign_in_at": None,
                }
            ]
        }
    )

    id: str
    email: str
    name: str
    role: str
    team_id: str | None
    rep_id: str | None
    active: bool
    signs_in_with_oidc: bool = Field(description="Whether a sign-in has linked the user.")
    created_at: datetime
    updated_at: datetime
    last_sign_in_at: datetime | None


class UserPage(BaseModel):
    """A page of users."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": "u-7f3a9c",
                            "email": "li.na@example.cn",
                            "name": "李娜",
                            "role": "manager",
                            "team_id": "north",
                            "rep_id": None,
                            "active": True,
                            "signs_in_with_oidc": False,
                            "created_at": "2026-12-01T02:00:00Z",
                            "updated_at": "2026-12-01T02:00:00Z",
                            "last_sign_in_at": None,
                        }
                    ],
                    "next_cursor": "u-7f3a9c",
                }
            ]
        }
    )

    items: list[UserOut]
    next_cursor: str | None
