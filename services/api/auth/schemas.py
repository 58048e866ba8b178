"""Shapes of sign-in configuration and of ``/v1/me``."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from paceline.shared.i18n import Invalid

_SCOPE = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]{1,100}$")  # RFC 6749 3.3 scope-token
_CLAIM = re.compile(r"^[A-Za-z0-9_.:/-]{1,100}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class OidcConfigIn(BaseModel):
    """A tenant's OpenID Connect provider. ``client_secret`` may be left out to keep the
    stored one; it is encrypted at rest and never shown again."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "issuer": "https://login.example.cn/realms/acme",
                    "client_id": "paceline",
                    "client_secret": "s3cr3t-from-the-provider",
                    "scopes": ["openid", "email", "profile"],
                    "allowed_email_domains": ["example.cn"],
                }
            ]
        },
    )

    issuer: Annotated[
        str,
        Field(
            min_length=8,
            max_length=500,
            description="The provider's issuer URL, exactly as its discovery document "
            "names it (https://login.example.com/realms/acme)",
        ),
    ]
    client_id: Annotated[str, Field(min_length=1, max_length=255)]
    client_secret: Annotated[SecretStr | None, Field(max_length=2000)] = None
    scopes: Annotated[list[str], Field(min_length=1, max_length=20)] = [
        "openid",
        "email",
        "profile",
    ]
    allowed_email_domains: Annotated[list[str], Field(max_length=50)] = Field(
        default_factory=list,
        description="Sign-in only for e-mail addresses of these domains (empty: any)",
    )
    email_claim: Annotated[
        str, Field(description="The ID token claim that carries the e-mail address")
    ] = "email"
    require_email_verified: bool = Field(
        default=True,
        description="Link a first sign-in by e-mail only if the token says "
        "email_verified=true; turn off only for providers whose addresses are all managed "
        "by the organisation and that send no email_verified claim",
    )

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        for scope in value:
            if not _SCOPE.match(scope):
                raise Invalid("auth.oidc.scope_invalid", scope=repr(scope[:100]))
        if "openid" not in value:
            raise Invalid("auth.oidc.scope_openid")
        return list(dict.fromkeys(value))

    @field_validator("allowed_email_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        out = []
        for domain in value:
            clean = domain.strip().lower().lstrip("@")
            if not _DOMAIN.match(clean):
                raise Invalid("auth.oidc.domain_invalid", domain=repr(domain[:100]))
            out.append(clean)
        return list(dict.fromkeys(out))

    @field_validator("email_claim")
    @classmethod
    def _claim(cls, value: str) -> str:
        if not _CLAIM.match(value):
            raise Invalid("auth.oidc.claim_invalid")
        return value


class OidcConfigOut(BaseModel):
    """A tenant's sign-in configuration, without its secret."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "issuer": "https://login.example.cn/realms/acme",
                    "client_id": "paceline",
                    "client_secret_set": True,
                    "scopes": ["openid", "email", "profile"],
                    "allowed_email_domains": ["example.cn"],
                    "email_claim": "email",
                    "require_email_verified": True,
                    "redirect_uri": "https://kpi.example.cn/auth/acme/callback",
                    "login_url": "https://kpi.example.cn/auth/acme/login",
                    "updated_at": "2026-12-04T08:00:00Z",
                }
            ]
        }
    )

    issuer: str
    client_id: str
    client_secret_set: bool
    scopes: list[str]
    allowed_email_domains: list[str]
    email_claim: str
    require_email_verified: bool
    redirect_uri: str = Field(description="Register this at the provider as the redirect URI")
    login_url: str = Field(description="Where the dashboard's sign-in button leads")
    updated_at: datetime | None = None


class SignInOptionsOut(BaseModel):
    """What the dashboard may offer before anyone is signed in."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"tenant": "acme", "oidc": True, "login_url": "/auth/acme/login"}]
        }
    )

    tenant: str
    oidc: bool
    login_url: str | None = None


class ReachOut(BaseModel):
    """What a signed-in person may read: None (in :class:`MeOut`) is the whole tenant."""

    company: bool
    teams: list[str]
    reps: list[str]


class UserOut(BaseModel):
    """The person behind the caller."""

    id: str
    email: str
    name: str
    role: str
    team_id: str | None
    rep_id: str | None


class MeOut(BaseModel):
    """Who is calling."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tenant_id": "acme",
                    "kind": "user",
                    "via": "session",
                    "key_id": None,
                    "scopes": ["read"],
                    "user": {
                        "id": "5f0c2a9e1b7d4c3a",
                        "email": "li.na@example.cn",
                        "name": "李娜",
                        "role": "manager",
                        "team_id": "north",
                        "rep_id": None,
                    },
                    "role": "manager",
                    "reach": {"company": False, "teams": ["north", "north-a"], "reps": ["n1"]},
                    "acts": True,
                }
            ]
        }
    )

    tenant_id: str
    kind: Literal["user", "key"] = Field(description="A person (key or sign-in) or a service key")
    via: Literal["session", "key"] = Field(description="Through a sign-in cookie or a key")
    key_id: str | None = Field(description="The key's id (None for a sign-in)")
    scopes: list[str]
    user: UserOut | None
    role: str | None
    reach: ReachOut | None = Field(description="None: the whole tenant")
    acts: bool = Field(description="May acknowledge and resolve, not only read")
