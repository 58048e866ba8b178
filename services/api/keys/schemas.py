"""API key shapes: what may be asked for, and what is shown (never the hash)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from paceline.api.tenants.schemas import TenantIdField

KeyScope = Literal["ingest", "read", "admin", "platform"]
KeyStatus = Literal["active", "expired", "revoked"]
KeyIdPath = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]

MAX_GRACE_S = 30 * 86_400


class KeyIn(BaseModel):
    """A key to create."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "hubspot-sync",
                    "scopes": ["ingest"],
                    "expires_at": "2027-12-31T23:59:59+08:00",
                }
            ]
        },
        extra="forbid",
        str_strip_whitespace=True,
    )

    name: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="What the key is for, e.g. 'hubspot webhooks' or 'superset'."
    )
    scopes: Annotated[list[KeyScope], Field(min_length=1, max_length=4)] = Field(
        description="ingest (send events), read (read the tenant's data), admin (everything "
        "of the tenant). platform is the operator's scope: only a platform key may give it, "
        "and a platform key has no other scope."
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the key stops working (with offset); none: never."
    )
    tenant_id: TenantIdField | None = Field(
        default=None,
        description="Whose key: the caller's tenant by default. Only platform keys name "
        "another tenant.",
    )
    user_id: Annotated[str | None, Field(max_length=32, pattern=r"^[A-Za-z0-9_-]+$")] = Field(
        default=None,
        description="The person the key acts for (a user of the tenant): it then has at most "
        "the user's rights — scopes within the role's, figures within the role's reach — and "
        "stops when the user is deactivated. None: a service key.",
    )


class KeyOut(BaseModel):
    """A key as listed: never the key itself, nor its hash."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5f064dadd809b648",
                    "tenant_id": "default",
                    "name": "hubspot-sync",
                    "prefix": "pl_5f064dad",
                    "scopes": ["ingest"],
                    "status": "active",
                    "created_at": "2026-11-26T02:00:00Z",
                    "expires_at": "2027-12-31T15:59:59Z",
                    "last_used_at": None,
                    "revoked_at": None,
                }
            ]
        }
    )

    id: str
    tenant_id: str
    name: str
    prefix: str = Field(description="The start of the key, to recognise it (pl_xxxxxxxx).")
    scopes: list[str]
    user_id: str | None = Field(default=None, description="The user the key acts for.")
    status: KeyStatus
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(
        description="Last use, recorded at most once a minute per process."
    )
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    """A new key, with its plaintext: shown in this answer only, never again."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5f064dadd809b648",
                    "tenant_id": "default",
                    "name": "hubspot-sync",
                    "prefix": "pl_5f064dad",
                    "scopes": ["ingest"],
                    "status": "active",
                    "created_at": "2026-11-26T02:00:00Z",
                    "expires_at": "2027-12-31T23:59:59+08:00",
                    "last_used_at": None,
                    "revoked_at": None,
                    "key": "pl_5f064dad_<secret, shown once>",
                }
            ]
        }
    )

    key: str = Field(description="The API key. Store it now: Paceline keeps only its hash.")


class KeyRotation(BaseModel):
    """How to rotate a key."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"grace_period_s": 3600}]}, extra="forbid"
    )

    grace_period_s: Annotated[int, Field(ge=0, le=MAX_GRACE_S)] = Field(
        default=86_400,
        description="How long the old key keeps working (default a day; 0: stops now).",
    )
    expires_at: AwareDatetime | None = Field(
        default=None,
        description="Expiry of the new key; default: the old key's lifetime, counted from now.",
    )


class KeyRotated(KeyCreated):
    """The new key (shown once) and the old one, now expiring after the grace period."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "8a41c0d2e97b3f15",
                    "tenant_id": "default",
                    "name": "hubspot-sync",
                    "prefix": "pl_8a41c0d2",
                    "scopes": ["ingest"],
                    "status": "active",
                    "created_at": "2026-11-27T02:00:00Z",
                    "expires_at": "2027-12-31T15:59:59Z",
                    "last_used_at": None,
                    "revoked_at": None,
                    "key": "pl_8a41c0d2_<secret, shown once>",
                    "replaced": {
                        "id": "5f064dadd809b648",
                        "tenant_id": "default",
                        "name": "hubspot-sync",
                        "prefix": "pl_5f064dad",
                        "scopes": ["ingest"],
                        "status": "active",
                        "created_at": "2026-11-26T02:00:00Z",
                        "expires_at": "2026-11-27T03:00:00Z",
                        "last_used_at": "2026-11-27T01:58:12Z",
                        "revoked_at": None,
                    },
                }
            ]
        }
    )

    replaced: KeyOut


class KeyPage(BaseModel):
    """A page of keys."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": "5f064dadd809b648",
                            "tenant_id": "default",
                            "name": "hubspot-sync",
                            "prefix": "pl_5f064dad",
                            "scopes": ["ingest"],
                            "status": "active",
                            "created_at": "2026-11-26T02:00:00Z",
                            "expires_at": "2027-12-31T15:59:59Z",
                            "last_used_at": None,
                            "revoked_at": None,
                        }
                    ],
                    "next_cursor": "WyIyMDI2LTExLTI2VDAyOjAwOjAwWiIsIjVmMDY0ZCJd",
                }
            ]
        }
    )

    items: list[KeyOut]
    next_cursor: str | None
