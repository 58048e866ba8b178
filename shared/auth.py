"""API keys: generated once, shown once, stored as a SHA-256 hash; scopes decide access.

Keys are 32 random bytes (``pl_<prefix>_<secret>``), so a fast hash is the right choice:
there is nothing to brute-force that a slow hash would protect (unlike a password).
A bootstrap key given by the operator may have any form; it is hashed the same way.

Scopes: ``ingest`` (send events), ``read`` (read everything of the tenant) and ``admin``
(everything of the tenant, including its keys, org and settings). A key may act for a
user (a person with a role, :data:`ROLES`): its scopes are then cut to the role's, and
what it reads to the role's :class:`Reach` (a manager's team subtree, a rep's self).
``platform`` belongs to the operator above the tenants: it creates and lists tenants
and manages any tenant's keys, and grants nothing inside a tenant. Platform keys live
in the reserved tenant ``_platform`` (tenant ids given by users cannot start with ``_``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final, Literal

Scope = Literal["ingest", "read", "admin", "platform"]
Role = Literal["admin", "manager", "rep", "viewer", "bi"]
ROLES: Final[tuple[Role, ...]] = ("admin", "manager", "rep", "viewer", "bi")
# The scopes a user of each role may hold (keys and sign-ins of the user are cut to them).
ROLE_SCOPES: Final[dict[str, frozenset[str]]] = {
    "admin": frozenset({"admin", "read", "ingest"}),
    "manager": frozenset({"read"}),
    "rep": frozenset({"read"}),
    "viewer": frozenset({"read"}),
    "bi": frozenset({"read"}),
}
# Roles whose people act on what they see (acknowledge alerts and targets); viewers and
# BI tools only read. A service key acts with the admin scope only.
ACTING_ROLES: Final = frozenset({"admin", "manager", "rep"})
SCOPES: Final[tuple[Scope, ...]] = ("ingest", "read", "admin", "platform")
TENANT_SCOPES: Final[tuple[Scope, ...]] = ("ingest", "read", "admin")
PLATFORM_TENANT: Final = "_platform"
KEY_PREFIX: Final = "pl_"  # every key Paceline makes starts with it

# What each scope grants beyond itself.
_IMPLIED: Final[dict[str, frozenset[str]]] = {
    "admin": frozenset({"admin", "read", "ingest"}),
    "read": frozenset({"read"}),
    "ingest": frozenset({"ingest"}),
    "platform": frozenset({"platform"}),
}


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly generated key: the plaintext exists only here."""

    id: str
    plaintext: str
    prefix: str
    key_hash: str


@dataclass(frozen=True, slots=True)
class Reach:
    """What a restricted user may read: the aggregates of ``teams``, the figures of
    ``reps``, and the company's if ``company``. Scopes are ``company``, ``team:ID`` and
    ``rep:ID`` (:mod:`paceline.shared.readmodel.scopes`)."""

    teams: frozenset[str] = frozenset()
    reps: frozenset[str] = frozenset()
    company: bool = False

    def allows(self, scope: str) -> bool:
        """Whether a scope's figures are within reach."""
        kind, _, ident = scope.partition(":")
        if kind == "company":
            return self.company
        if kind == "team":
            return ident in self.teams
        if kind == "rep":
            return ident in self.reps
        return False


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a tenant, through one key (or a user's sign-in), with its scopes.

    ``user_id`` and ``role`` name the person a key or sign-in acts for (None: a service
    key); ``reach`` bounds what they read (None: the whole tenant)."""

    tenant_id: str
    key_id: str
    scopes: frozenset[str]
    user_id: str | None = None
    role: str | None = None
    reach: Reach | None = None
    locale: str | None = None  # the tenant's (zh-CN or en); Accept-Language overrides

    def allows(self, scope: Scope) -> bool:
        """Whether the key's scopes grant ``scope``."""
        return any(scope in _IMPLIED.get(s, frozenset()) for s in self.scopes)

    @property
    def actor(self) -> str:
        """Who did it, for the audit log and target versions: ``user:<id>`` for a person
        (whether through a key or a sign-in), ``key:<id>`` for a service key."""
        return f"user:{self.user_id}" if self.user_id is not None else f"key:{self.key_id}"

    def sees(self, scope: str) -> bool:
        """Whether the caller may read a scope's figures."""
        return self.reach is None or self.reach.allows(scope)

    @property
    def acts(self) -> bool:
        """Whether the caller may acknowledge and resolve (not only read)."""
        if self.role is not None:
            return self.role in ACTING_ROLES
        return self.allows("admin")

    def may_act_on(self, scope: str) -> bool:
        """Whether the caller may acknowledge or resolve what concerns ``scope``: a rep
        their own, a manager what they see, an admin (or a service key with the admin
        scope) anything."""
        if not self.acts:
            return False
        if self.role == "rep":
            return self.reach is not None and scope in {f"rep:{r}" for r in self.reach.reps}
        return self.sees(scope)


def reach_scopes(reach: Reach) -> list[str]:
    """Every scope a reach covers (team and rep scopes; company if it does)."""
    out = [f"team:{t}" for t in sorted(reach.teams)] + [f"rep:{r}" for r in sorted(reach.reps)]
    return ["company", *out] if reach.company else out


def role_scopes(role: str, scopes: frozenset[str] | None = None) -> frozenset[str]:
    """A user's scopes: ``scopes`` (a key's) cut to what the role may hold; the role's own
    when None (a sign-in)."""
    allowed = ROLE_SCOPES.get(role, frozenset())
    if scopes is None:
        return allowed
    return frozenset(s for s in scopes if s in allowed)


def implies(scope: str, other: str) -> bool:
    """Whether a key with ``scope`` is granted ``other``."""
    return other in _IMPLIED.get(scope, frozenset())


def hash_key(plaintext: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def generate_key() -> NewKey:
    """A new random key."""
    key_id = secrets.token_hex(8)
    prefix = f"{KEY_PREFIX}{key_id[:8]}"
    plaintext = f"{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(id=key_id, plaintext=plaintext, prefix=prefix, key_hash=hash_key(plaintext))


def display_prefix(plaintext: str) -> str:
    """What may be shown of a key after creation."""
    if plaintext.startswith(KEY_PREFIX) and plaintext.count("_") >= 2:
        return "_".join(plaintext.split("_")[:2])
    return plaintext[:4] + "…"


def same_hash(a: str, b: str) -> bool:
    """Constant-time comparison of two hashes."""
    return hmac.compare_digest(a, b)
