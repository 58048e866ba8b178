"""People: users of a tenant with a role, and their dashboard sessions (docs/SECURITY.md).

* ``users``: a person of a tenant — ``admin``, ``manager`` (of ``team_id`` and every team
  below it), ``rep`` (``rep_id``: themselves, and their team's aggregates if the tenant
  allows), ``viewer`` (reads the whole tenant) or ``bi`` (reads the whole tenant, for BI
  tools: no acknowledgements). Signed in through OpenID Connect by ``(oidc_issuer,
  oidc_subject)``, linked on first sign-in by verified e-mail. API keys may belong to a
  user (``api_keys.user_id``) and then act with at most the user's rights.
* ``user_sessions``: a dashboard sign-in; only the SHA-256 of the cookie's token is stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from paceline.shared.db.base import Base, UTCDateTime
from paceline.shared.db.models import EXT_ID, TENANT_ID


class User(Base):
    """A person of a tenant and the role that decides what they may see and do."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email"),
        Index("ux_users_oidc", "oidc_issuer", "oidc_subject", unique=True),
    )

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    team_id: Mapped[str | None] = mapped_column(String(EXT_ID), nullable=True)
    rep_id: Mapped[str | None] = mapped_column(String(EXT_ID), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    oidc_issuer: Mapped[str | None] = mapped_column(String(500), nullable=True)
    oidc_subject: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class UserSession(Base):
    """A dashboard sign-in of a user: the cookie holds the token, this row its hash."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user", "tenant_id", "user_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID))
    user_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
