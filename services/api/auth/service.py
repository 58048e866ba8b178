"""Sign-in through OpenID Connect: a tenant's provider configuration, the sign-in's two
legs (to the provider and back), and who a signed-in caller is.

The configuration lives in the tenant's ``options["oidc"]`` (no table of its own); the
client secret is encrypted with the process's :class:`SecretBox` and never shown again.

Who may sign in: a user the tenant's admins created (``/v1/users``), found by the
provider's ``(issuer, sub)`` once linked, else — on a first sign-in — by the e-mail
address the ID token carries, if the provider says it is verified; the subject is then
linked to that user. Nobody is created by a sign-in (no auto-provisioning): a person's
role and teams decide what they see, and only an admin can choose them.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.auth.oidc import AuthRequest, Metadata, Provider, ProviderError
from paceline.api.auth.schemas import OidcConfigIn, OidcConfigOut
from paceline.shared.crypto import SecretBox
from paceline.shared.db import sessions as session_repo
from paceline.shared.db import users as users_repo
from paceline.shared.db.models import Tenant
from paceline.shared.db.models_users import User
from paceline.shared.errors import FieldError, InvalidInput
from paceline.shared.i18n import Msg, msg
from paceline.shared.web import sessions as signin
from paceline.shared.web.deps import REDACTED
from paceline.shared.web.security import url_refusal

log = logging.getLogger(__name__)

OPTION = "oidc"
FLOW_TTL = timedelta(minutes=10)  # from the sign-in button to the provider's answer
_NEXT = re.compile(r"^/(?![/\\])[\x21-\x7e]{0,499}$")


def stored_config(tenant: Tenant) -> dict[str, Any] | None:
    """The tenant's provider configuration as stored (secret encrypted), if any."""
    value = (tenant.options or {}).get(OPTION)
    return value if isinstance(value, dict) and value.get("issuer") else None


def _invalid(field: str, reason: Msg) -> InvalidInput:
    return InvalidInput(
        msg("errors.field_reason", field=field, reason=reason), fields=[FieldError(field, reason)]
    )


async def save_config(
    *,
    tenant: Tenant,
    body: OidcConfigIn,
    box: SecretBox,
    provider: Provider,
    allow_private: bool,
    now: datetime,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Check the configuration (the issuer's discovery document is fetched) and store it;
    (the new stored form, the old one). 422 naming the field that is wrong."""
    problem = url_refusal(body.issuer, allow_private=allow_private)
    if problem is None and not allow_private and not body.issuer.startswith("https://"):
        problem = msg("auth.oidc.issuer_not_https")
    if problem is None and ("?" in body.issuer or "#" in body.issuer):
        problem = msg("auth.oidc.issuer_query")
    if problem is not None:
        raise _invalid("issuer", problem)
    before = stored_config(tenant)
    if body.client_secret is not None and body.client_secret.get_secret_value():
        secret_enc = box.encrypt(body.client_secret.get_secret_value())
    elif before is not None and before.get("client_secret_enc"):
        secret_enc = str(before["client_secret_enc"])
    else:
        raise _invalid("client_secret", msg("auth.oidc.secret_required"))
    try:
        await provider.discover(body.issuer, fresh=True)
    except ProviderError as exc:
        raise _invalid(
            "issuer", exc.reason or msg("auth.oidc.provider_failed", detail=str(exc))
        ) from None
    stored = {
        "issuer": body.issuer,
        "client_id": body.client_id,
        "client_secret_enc": secret_enc,
        "scopes": body.scopes,
        "allowed_email_domains": body.allowed_email_domains,
        "email_claim": body.email_claim,
        "require_email_verified": body.require_email_verified,
        "updated_at": now.isoformat(),
    }
    tenant.options = {**(tenant.options or {}), OPTION: stored}
    tenant.updated_at = now
    return stored, before


def remove_config(tenant: Tenant, now: datetime) -> dict[str, Any] | None:
    """Forget the tenant's provider; the old configuration, if there was one."""
    before = stored_config(tenant)
    if before is not None:
        tenant.options = {k: v for k, v in (tenant.options or {}).items() if k != OPTION}
        tenant.updated_at = now
    return before


def shown(stored: dict[str, Any]) -> dict[str, Any]:
    """The stored configuration as the audit log shows it: the secret redacted."""
    out = {k: v for k, v in stored.items() if k != "client_secret_enc"}
    out["client_secret"] = REDACTED
    return out


def redirect_uri(base_url: str, tenant_id: str) -> str:
    """The address the provider sends people back to (register it at the provider)."""
    return f"{base_url}/auth/{tenant_id}/callback"


def config_out(stored: dict[str, Any], *, base_url: str, tenant_id: str) -> OidcConfigOut:
    """The configuration as the API shows it."""
    updated = stored.get("updated_at")
    return OidcConfigOut(
        issuer=stored["issuer"],
        client_id=stored["client_id"],
        client_secret_set=bool(stored.get("client_secret_enc")),
        scopes=list(stored.get("scopes") or ["openid"]),
        allowed_email_domains=list(stored.get("allowed_email_domains") or []),
        email_claim=str(stored.get("email_claim") or "email"),
        require_email_verified=bool(stored.get("require_email_verified", True)),
        redirect_uri=redirect_uri(base_url, tenant_id),
        login_url=f"{base_url}/auth/{tenant_id}/login",
        updated_at=datetime.fromisoformat(updated) if isinstance(updated, str) else None,
    )


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this site, else the dashboard."""
    if value and _NEXT.match(value):
        return value
    return "/dashboard/"


# -- the two legs ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Flow:
    """What the browser carries between the two legs (encrypted in a cookie)."""

    tenant_id: str
    state: str
    nonce: str
    verifier: str
    started: datetime
    next: str

    def seal(self, box: SecretBox) -> str:
        """The cookie's value."""
        return box.encrypt(
            json.dumps(
                {
                    "t": self.tenant_id,
                    "s": self.state,
                    "n": self.nonce,
                    "v": self.verifier,
                    "at": self.started.isoformat(),
                    "next": self.next,
                }
            )
        )

    @classmethod
    def opened(cls, box: SecretBox, sealed: str | None) -> Flow | None:
        """The flow in a cookie, or None if there is none or it is not ours."""
        if not sealed or len(sealed) > 4000:
            return None
        try:
            raw = json.loads(box.decrypt(sealed))
            return cls(
                tenant_id=str(raw["t"]),
                state=str(raw["s"]),
                nonce=str(raw["n"]),
                verifier=str(raw["v"]),
                started=datetime.fromisoformat(str(raw["at"])),
                next=safe_next(raw.get("next")),
            )
        except (ValueError, KeyError, TypeError):
            return None


async def begin(
    *,
    stored: dict[str, Any],
    provider: Provider,
    redirect_to: str,
    tenant_id: str,
    next_path: str | None,
    now: datetime,
) -> tuple[AuthRequest, Flow]:
    """The provider's authorization URL and the flow to keep in the browser."""
    metadata = await provider.discover(stored["issuer"])
    request = provider.authorization_request(
        metadata,
        client_id=stored["client_id"],
        redirect_uri=redirect_to,
        scopes=list(stored.get("scopes") or ["openid"]),
    )
    flow = Flow(
        tenant_id=tenant_id,
        state=request.state,
        nonce=request.nonce,
        verifier=request.verifier,
        started=now,
        next=safe_next(next_path),
    )
    return request, flow


class Refused(Exception):
    """A sign-in refused for a reason people are told (``code``, in the text catalog)."""

    def __init__(self, code: str, status: int, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.detail = detail


async def identify(
    *,
    stored: dict[str, Any],
    provider: Provider,
    box: SecretBox,
    flow: Flow,
    code: str,
    redirect_to: str,
    now: datetime,
) -> tuple[Metadata, dict[str, Any]]:
    """The verified ID token's claims for the code the provider sent back."""
    metadata = await provider.discover(stored["issuer"])
    tokens = await provider.exchange(
        metadata,
        code=code,
        redirect_uri=redirect_to,
        verifier=flow.verifier,
        client_id=stored["client_id"],
        client_secret=box.decrypt(stored["client_secret_enc"]),
    )
    claims = await provider.verify(
        metadata, tokens, client_id=stored["client_id"], nonce=flow.nonce, now=now
    )
    return metadata, claims


async def find_user(
    session: AsyncSession, *, tenant_id: str, stored: dict[str, Any], claims: dict[str, Any]
) -> tuple[User, bool]:
    """The user the claims sign in as and whether the subject was linked just now;
    Refused when there is none, or they may not sign in."""
    issuer, subject = str(stored["issuer"]), str(claims["sub"])
    user = await users_repo.user_by_subject(session, issuer=issuer, subject=subject)
    linked = False
    if user is not None and user.tenant_id != tenant_id:
        raise Refused("linked_elsewhere", 403, "the subject belongs to a user of another tenant")
    if user is None:
        email = claims.get(str(stored.get("email_claim") or "email"))
        if not isinstance(email, str) or "@" not in email:
            raise Refused("unknown_user", 403, "no e-mail address in the ID token")
        email = email.strip().lower()
        domains = list(stored.get("allowed_email_domains") or [])
        if domains and email.rpartition("@")[2] not in domains:
            raise Refused("domain_refused", 403, "e-mail domain not allowed")
        if bool(stored.get("require_email_verified", True)) and claims.get(
            "email_verified"
        ) not in (True, "true"):
            raise Refused("email_unverified", 403, "email_verified is not true")
        user = await users_repo.user_by_email(session, tenant_id=tenant_id, email=email)
        if user is None:
            raise Refused("unknown_user", 403, "no user with this e-mail address")
        if user.oidc_subject is not None and (user.oidc_issuer, user.oidc_subject) != (
            issuer,
            subject,
        ):
            raise Refused("linked_elsewhere", 403, "the user is linked to another subject")
        user.oidc_issuer, user.oidc_subject = issuer, subject
        linked = True
    if not user.active:
        raise Refused("inactive_user", 403, "the user is deactivated")
    return user, linked


async def open_session(session: AsyncSession, *, user: User, now: datetime, ttl: timedelta) -> str:
    """A new sign-in of ``user``: the cookie's token (the database keeps its hash)."""
    token = signin.new_token()
    await session_repo.add_session(
        session,
        token_hash=signin.token_hash(token),
        tenant_id=user.tenant_id,
        user_id=user.id,
        now=now,
        expires_at=now + ttl,
    )
    user.last_sign_in_at = now
    return token


async def close_session(session: AsyncSession, *, token: str, now: datetime) -> bool:
    """Sign out: the session ends at once; whether one was open."""
    return await session_repo.revoke_session(session, token_hash=signin.token_hash(token), now=now)
