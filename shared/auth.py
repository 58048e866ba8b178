"""API keys: generated once, shown once, stored as a SHA-256 hash; scopes decide access.

Keys are 32 random bytes (``pl_<prefix>_<secret>``), so a fast hash is the right choice:
there is nothing to brute-force that a slow hash would protect (unlike a password).
A bootstrap key given by the operator may have any form; it is hashed the same way.

Scopes: ``ingest`` (send events), ``read`` (read everything of the tenant) and ``admin``
(everything of the tenant, including its keys, org and settings). ``platform`` belongs to
the operator above the tenants: it creates and lists tenants and manages any tenant's
keys, and grants nothing inside a tenant. Platform keys live in the reserved tenant
``_platform`` (tenant ids given by users cannot start with ``_``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final, Literal

Scope = Literal["ingest", "read", "admin", "platform"]
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
class Principal:
    """Who is calling: a tenant, through one key, with its scopes."""

    tenant_id: str
    key_id: str
    scopes: frozenset[str]

    def allows(self, scope: Scope) -> bool:
        """Whether the key's scopes grant ``scope``."""
        return any(scope in _IMPLIED.get(s, frozenset()) for s in self.scopes)


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
