"""The relying party's side of OpenID Connect: discovery, the authorization request, the
code exchange and the ID token's checks — with Authlib (and joserfc, its JOSE library).

Everything the provider is asked goes through the one guarded HTTP client
(:func:`paceline.shared.outbound.outbound_client`): the issuer is a tenant-chosen URL.

The ID token is checked as OpenID Connect Core 1.0 section 3.1.3.7 says: its signature
with a key of the provider's JWKS (asymmetric algorithms only, those the provider
announces), ``iss`` equal to the configured issuer, ``aud`` containing our client id
(``azp`` too when several audiences), ``exp`` and ``iat`` against the app's injected
clock with :data:`LEEWAY_S` of leeway, and ``nonce`` equal to the one we sent.

Exceptions: :class:`ProviderError` (the provider could not be reached or answered
something that is not OpenID Connect) and :class:`TokenRefused` (the ID token fails a
check); both carry a short reason meant for the log, never a secret.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote

import httpx
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from paceline.shared.i18n import Msg, msg
from paceline.shared.outbound import outbound_client
from paceline.shared.settings import Settings
from paceline.shared.web.security import url_refusal

# Seconds of clock skew allowed between the provider and us on exp, iat and nbf.
LEEWAY_S: Final = 60
# Asymmetric signatures only: an HS256 token would be signed with the client secret,
# which we hold and so could have forged ourselves.
ALGORITHMS: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_METADATA_TTL_S: Final = 600.0
_MAX_BODY: Final = 1_000_000


class ProviderError(Exception):
    """The provider is unreachable or does not answer as OpenID Connect says: ``reason``
    in the catalog's words (``auth.oidc.provider.*``); ``str()`` in English for the log."""

    def __init__(self, reason: Msg | str) -> None:
        super().__init__(str(reason))
        self.reason = reason if isinstance(reason, Msg) else None


class TokenRefused(Exception):
    """The ID token fails a check (signature, issuer, audience, time, nonce)."""


@dataclass(frozen=True, slots=True)
class Metadata:
    """What discovery told about a provider (OpenID Connect Discovery 1.0 section 3)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]
    auth_methods: tuple[str, ...]
    userinfo_endpoint: str | None = None


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """One authorization request: what goes to the provider and what we keep."""

    url: str
    state: str
    nonce: str
    verifier: str


@dataclass(slots=True)
class _Entry:
    metadata: Metadata
    jwks: dict[str, Any] | None
    until: float


class Provider:
    """Talks to OpenID Connect providers; discovery and JWKS are cached for ten minutes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._cache: dict[str, _Entry] = {}

    def _client(self) -> httpx.AsyncClient:
        return outbound_client(
            timeout=httpx.Timeout(self.settings.outbound_timeout_s),
            allow_private=self.settings.outbound_private_allowed,
        )

    async def _get_json(self, client: httpx.AsyncClient, url: str, what: Msg) -> dict[str, Any]:
        try:
            resp = await client.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise ProviderError(
                msg("auth.oidc.provider.unreachable", what=what, error=type(exc).__name__)
            ) from None
        if resp.status_code != 200:
            raise ProviderError(
                msg("auth.oidc.provider.http_status", what=what, status=str(resp.status_code))
            )
        if len(resp.content) > _MAX_BODY:
            raise ProviderError(msg("auth.oidc.provider.too_large", what=what, limit=_MAX_BODY))
        try:
            body = resp.json()
        except ValueError:
            raise ProviderError(msg("auth.oidc.provider.not_json", what=what)) from None
        if not isinstance(body, dict):
            raise ProviderError(msg("auth.oidc.provider.not_object", what=what))
        return body

    async def discover(self, issuer: str, *, fresh: bool = False) -> Metadata:
        """The provider's metadata from ``{issuer}/.well-known/openid-configuration``."""
        entry = self._cache.get(issuer)
        if entry is not None and not fresh and entry.until > time.monotonic():
            return entry.metadata
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        async with self._client() as client:
            doc = await self._get_json(client, url, msg("auth.oidc.doc.discovery"))
        metadata = self._metadata(issuer, doc)
        self._cache[issuer] = _Entry(metadata, None, time.monotonic() + _METADATA_TTL_S)
        return metadata

    def _metadata(self, issuer: str, doc: Mapping[str, Any]) -> Metadata:
        if doc.get("issuer") != issuer:
            raise ProviderError(
                msg("auth.oidc.provider.issuer_mismatch", found=repr(str(doc.get("issuer"))[:200]))
            )
        endpoints = {}
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = doc.get(name)
            if not isinstance(value, str):
                raise ProviderError(msg("auth.oidc.provider.missing_endpoint", name=name))
            problem = url_refusal(value, allow_private=self.settings.outbound_private_allowed)
            if problem is not None:
                raise ProviderError(
                    msg("auth.oidc.provider.bad_endpoint", name=name, reason=problem)
                )
            endpoints[name] = value
        response_types = doc.get("response_types_supported") or ["code"]
        if "code" not in response_types:
            raise ProviderError(msg("auth.oidc.provider.no_code_flow"))
        methods = doc.get("code_challenge_methods_supported")
        if isinstance(methods, list) and methods and "S256" not in methods:
            raise ProviderError(msg("auth.oidc.provider.no_pkce"))
        announced = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = tuple(a for a in announced if a in ALGORITHMS)
        if not algorithms:
            raise ProviderError(
                msg("auth.oidc.provider.no_algorithm", algorithms=", ".join(sorted(ALGORITHMS)))
            )
        auth_methods = doc.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        userinfo = doc.get("userinfo_endpoint")
        return Metadata(
            issuer=issuer,
            authorization_endpoint=endpoints["authorization_endpoint"],
            token_endpoint=endpoints["token_endpoint"],
            jwks_uri=endpoints["jwks_uri"],
            algorithms=algorithms,
            auth_methods=tuple(str(m) for m in auth_methods),
            userinfo_endpoint=userinfo if isinstance(userinfo, str) else None,
        )

    async def _jwks(self, metadata: Metadata, *, fresh: bool) -> dict[str, Any]:
        entry = self._cache.get(metadata.issuer)
        if entry is not None and entry.jwks is not None and not fresh:
            return entry.jwks
        async with self._client() as client:
            jwks = await self._get_json(client, metadata.jwks_uri, msg("auth.oidc.doc.jwks"))
        if not isinstance(jwks.get("keys"), list):
            raise ProviderError("the JWKS has no keys")
        if entry is not None:
            entry.jwks = jwks
        return jwks

    def authorization_request(
        self, metadata: Metadata, *, client_id: str, redirect_uri: str, scopes: list[str]
    ) -> AuthRequest:
        """A new authorization code request with PKCE (S256), state and nonce."""
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        url = add_params_to_uri(
            metadata.authorization_endpoint,
            [
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", redirect_uri),
                ("scope", " ".join(scopes)),
                ("state", state),
                ("nonce", nonce),
                ("code_challenge", _s256(verifier)),
                ("code_challenge_method", "S256"),
            ],
        )
        return AuthRequest(url=url, state=state, nonce=nonce, verifier=verifier)

    async def exchange(
        self,
        metadata: Metadata,
        *,
        code: str,
        redirect_uri: str,
        verifier: str,
        client_id: str,
        client_secret: str,
    ) -> dict[str, Any]:
        """The token endpoint's answer to the code (RFC 6749 4.1.3, RFC 7636 4.5)."""
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        headers = {"Accept": "application/json"}
        if "client_secret_basic" in metadata.auth_methods:
            pair = f"{_form(client_id)}:{_form(client_secret)}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        else:  # client_secret_post
            data |= {"client_id": client_id, "client_secret": client_secret}
        async with self._client() as client:
            try:
                resp = await client.post(
                    metadata.token_endpoint,
                    data=data,
                    headers=headers,
                )
            except httpx.HTTPError as exc:
                raise ProviderError(f"the token endpoint failed: {type(exc).__name__}") from None
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            raise ProviderError(
                f"the token endpoint answered HTTP {resp.status_code}"
                + (f" ({str(error)[:100]})" if error else "")
            )
        if not isinstance(body.get("id_token"), str):
            raise ProviderError("the token endpoint's answer has no id_token")
        return body

    async def verify(
        self,
        metadata: Metadata,
        tokens: Mapping[str, Any],
        *,
        client_id: str,
        nonce: str,
        now: datetime,
    ) -> dict[str, Any]:
        """The ID token's claims after every check; TokenRefused naming the first that fails."""
        raw = str(tokens["id_token"])
        registry = JWSRegistry(algorithms=list(metadata.algorithms), strict_check_header=False)
        try:
            try:
                keys = KeySet.import_key_set(await self._jwks(metadata, fresh=False))  # type: ignore[arg-type]  # a JWKS as JSON
                token = jwt.decode(raw, keys, registry=registry)
            except InvalidKeyIdError:  # the provider rotated its keys: fetch them once more
                keys = KeySet.import_key_set(await self._jwks(metadata, fresh=True))  # type: ignore[arg-type]  # a JWKS as JSON
                token = jwt.decode(raw, keys, registry=registry)
            claims = CodeIDToken(
                token.claims,
                token.header,
                {
                    "iss": {"essential": True, "values": [metadata.issuer]},
                    "aud": {"essential": True, "values": [client_id]},
                },
                {
                    "nonce": nonce,
                    "client_id": client_id,
                    "access_token": tokens.get("access_token"),
                },
            )
            claims.validate(now=int(now.timestamp()), leeway=LEEWAY_S)
        except JoseError as exc:
            raise TokenRefused(_reason(exc)) from None
        except (ValueError, TypeError, KeyError) as exc:
            raise TokenRefused(f"the ID token is malformed ({type(exc).__name__})") from None
        return dict(claims)


def _s256(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier (RFC 7636 4.2)."""
    challenge: str = create_s256_code_challenge(verifier)  # type: ignore[no-untyped-call]  # untyped in the stubs
    return challenge


def _form(value: str) -> str:
    """A client id or secret as client_secret_basic wants it (RFC 6749 2.3.1)."""
    return quote(value, safe="")


def _reason(exc: JoseError) -> str:
    """A short reason for the log: the error's kind and the claim it names."""
    name = type(exc).__name__
    detail = getattr(exc, "description", None) or getattr(exc, "error", None) or ""
    return f"{name}: {str(detail)[:200]}" if detail else name
