"""Sign-in: ``/v1/auth/oidc`` (a tenant's provider, admin), ``/auth/...`` (the browser's
legs of the sign-in, and sign-out) and ``/v1/me`` (who the caller is)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paceline.api.auth import service, text
from paceline.api.auth.oidc import Provider, ProviderError, TokenRefused
from paceline.api.auth.schemas import (
    MeOut,
    OidcConfigIn,
    OidcConfigOut,
    ReachOut,
    SignInOptionsOut,
    UserOut,
)
from paceline.shared.auth import Principal
from paceline.shared.crypto import SecretBox
from paceline.shared.db import sessions as session_repo
from paceline.shared.db import users as users_repo
from paceline.shared.db.models import Tenant
from paceline.shared.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    PacelineError,
    Unauthorized,
    Unavailable,
)
from paceline.shared.i18n import locale_of, msg
from paceline.shared.web import sessions as signin
from paceline.shared.web.deps import (
    AdminPrincipal,
    AppState,
    AuditDep,
    Auditor,
    ReadSessionDep,
    StateDep,
    WriteSessionDep,
    require_any,
    within_reach,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["sign-in"])
pages = APIRouter(prefix="/auth", tags=["sign-in"])

FLOW_COOKIE = "paceline_oidc"
_TENANT = Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
AnyPrincipal = Annotated[Principal, Depends(require_any("read", "ingest"))]


def _box(state: AppState) -> SecretBox:
    if state.box is None:
        raise Unavailable(msg("web.secrets.no_key"))
    return state.box


def _provider(state: AppState) -> Provider:
    provider = state.extras.get("oidc")
    if not isinstance(provider, Provider):
        provider = Provider(state.settings)
        state.extras["oidc"] = provider
    return provider


def _base_url(state: AppState, request: Request) -> str:
    return state.settings.public_url or str(request.base_url).rstrip("/")


def _secure(state: AppState, request: Request) -> bool:
    return request.url.scheme == "https" or state.settings.session_cookie_secure


# -- the tenant's provider (admin) ------------------------------------------------------------


@router.get(
    "/auth/oidc",
    response_model=OidcConfigOut,
    summary="The sign-in provider",
    responses={404: {"description": "No provider is configured for this tenant"}},
)
async def get_oidc(
    request: Request, principal: AdminPrincipal, session: ReadSessionDep, state: StateDep
) -> OidcConfigOut:
    """The tenant's OpenID Connect provider (its client secret is never shown)."""
    tenant = await session.get(Tenant, principal.tenant_id)
    stored = service.stored_config(tenant) if tenant is not None else None
    if stored is None:
        raise NotFound(msg("auth.oidc.not_configured"))
    return service.config_out(
        stored, base_url=_base_url(state, request), tenant_id=principal.tenant_id
    )


@router.put("/auth/oidc", response_model=OidcConfigOut, summary="Set the sign-in provider")
async def put_oidc(
    request: Request,
    body: OidcConfigIn,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> OidcConfigOut:
    """Set the tenant's OpenID Connect provider. The issuer's discovery document is fetched
    and checked first (422 naming ``issuer`` if it cannot be used); ``client_secret`` may
    be left out to keep the stored one."""
    tenant = await session.get(Tenant, principal.tenant_id)
    if tenant is None:
        raise NotFound(msg("errors.tenant.gone"))
    stored, before = await service.save_config(
        tenant=tenant,
        body=body,
        box=_box(state),
        provider=_provider(state),
        allow_private=state.settings.outbound_private_allowed,
        now=state.clock.now(),
    )
    await audit.record(
        "auth.oidc.set",
        target="oidc",
        before=service.shown(before) if before else None,
        after=service.shown(stored),
    )
    return service.config_out(
        stored, base_url=_base_url(state, request), tenant_id=principal.tenant_id
    )


@router.delete(
    "/auth/oidc",
    status_code=204,
    summary="Remove the sign-in provider",
    responses={404: {"description": "No provider is configured for this tenant"}},
)
async def delete_oidc(
    principal: AdminPrincipal, session: WriteSessionDep, state: StateDep, audit: AuditDep
) -> Response:
    """Turn sign-in off for the tenant (open sign-ins last until they expire or sign out)."""
    tenant = await session.get(Tenant, principal.tenant_id)
    before = service.remove_config(tenant, state.clock.now()) if tenant is not None else None
    if before is None:
        raise NotFound(msg("auth.oidc.not_configured"))
    await audit.record("auth.oidc.delete", target="oidc", before=service.shown(before))
    return Response(status_code=204)


# -- who is calling ----------------------------------------------------------------------------


@router.get("/me", response_model=MeOut, summary="Who is calling")
@within_reach("own")
async def get_me(principal: AnyPrincipal, session: ReadSessionDep) -> MeOut:
    """The caller: the person (through a sign-in or a key of theirs) with their role and
    what they may read, or the service key."""
    user = None
    if principal.user_id is not None:
        row = await users_repo.get_user(
            session, tenant_id=principal.tenant_id, user_id=principal.user_id
        )
        if row is not None:
            user = UserOut(
                id=row.id,
                email=row.email,
                name=row.name,
                role=row.role,
                team_id=row.team_id,
                rep_id=row.rep_id,
            )
    via_session = principal.key_id.startswith(signin.SESSION_KEY_PREFIX)
    reach = principal.reach
    return MeOut(
        tenant_id=principal.tenant_id,
        kind="user" if principal.user_id is not None else "key",
        via="session" if via_session else "key",
        key_id=None if via_session else principal.key_id,
        scopes=sorted(principal.scopes),
        user=user,
        role=principal.role,
        reach=None
        if reach is None
        else ReachOut(company=reach.company, teams=sorted(reach.teams), reps=sorted(reach.reps)),
        acts=principal.acts,
    )


# -- the browser's legs ------------------------------------------------------------------------


class ProviderFailed(PacelineError):
    """The identity provider could not complete the sign-in."""

    status = 502
    code = "provider_error"
    retriable = True


_ERRORS: dict[int, type[PacelineError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    502: ProviderFailed,
}


def _refused(request: Request, code: str, status: int, tenant_locale: str | None) -> HTMLResponse:
    """A refused sign-in: a page saying why for a browser (it asks for HTML), else the
    error shape of the API; in the caller's language (``Accept-Language``, else the
    tenant's locale)."""
    locale = locale_of(request.headers.get("accept-language"), tenant_locale)
    if "text/html" not in request.headers.get("accept", ""):
        request.state.locale = locale  # the error handler's language
        raise _ERRORS[status](text.refusal(code))
    response = HTMLResponse(text.refusal_page(code, locale), status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


@pages.get("/options", response_model=SignInOptionsOut, summary="Sign-in choices (public)")
async def sign_in_options(
    request: Request,
    session: ReadSessionDep,
    state: StateDep,
    tenant: Annotated[str | None, _TENANT] = None,
) -> SignInOptionsOut:
    """Whether a tenant (default: the server's default tenant) offers sign-in through
    OpenID Connect, for the dashboard's sign-in button. Says nothing else of the tenant."""
    tenant_id = tenant or state.settings.default_tenant
    row = await session.get(Tenant, tenant_id)
    configured = row is not None and service.stored_config(row) is not None
    return SignInOptionsOut(
        tenant=tenant_id,
        oidc=configured,
        login_url=f"/auth/{tenant_id}/login" if configured else None,
    )


@pages.get("/{tenant}/login", summary="Sign in (to the provider)", status_code=302)
async def login(
    request: Request,
    tenant: str,
    session: ReadSessionDep,
    state: StateDep,
    next: Annotated[str | None, Query(max_length=500)] = None,  # the usual name
) -> Response:
    """Redirects to the tenant's provider (authorization code with PKCE S256, a state and
    a nonce kept in an encrypted cookie for ten minutes)."""
    row = await session.get(Tenant, tenant) if len(tenant) <= 64 else None
    stored = service.stored_config(row) if row is not None else None
    if row is None or stored is None:
        return _refused(request, "not_configured", 404, row.locale if row else None)
    redirect_to = service.redirect_uri(_base_url(state, request), tenant)
    try:
        auth, flow = await service.begin(
            stored=stored,
            provider=_provider(state),
            redirect_to=redirect_to,
            tenant_id=tenant,
            next_path=next,
            now=state.clock.now(),
        )
    except ProviderError as exc:
        log.warning("sign-in of tenant %s: the provider failed: %s", tenant, exc)
        return _refused(request, "provider_error", 502, row.locale)
    response = RedirectResponse(auth.url, status_code=302)
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        FLOW_COOKIE,
        flow.seal(_box(state)),
        max_age=int(service.FLOW_TTL.total_seconds()),
        path=f"/auth/{tenant}/callback",
        httponly=True,
        samesite="lax",
        secure=_secure(state, request),
    )
    return response


@pages.get("/{tenant}/callback", summary="Sign in (back from the provider)", status_code=303)
async def callback(
    request: Request,
    tenant: str,
    session: WriteSessionDep,
    state: StateDep,
    code: Annotated[str | None, Query(max_length=4000)] = None,
    state_param: Annotated[str | None, Query(alias="state", max_length=500)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Checks the provider's answer and the ID token, finds the user, opens a session
    (HttpOnly cookie) and goes on to the dashboard; a refusal is a page saying why."""
    row = await session.get(Tenant, tenant) if len(tenant) <= 64 else None
    stored = service.stored_config(row) if row is not None else None
    if row is None or stored is None:
        return _refused(request, "not_configured", 404, row.locale if row else None)
    locale = row.locale
    box = _box(state)
    now = state.clock.now()
    flow = service.Flow.opened(box, request.cookies.get(FLOW_COOKIE))
    if (
        flow is None
        or flow.tenant_id != tenant
        or not (flow.started <= now < flow.started + service.FLOW_TTL)
        or state_param is None
        or not signin.same(flow.state, state_param)
    ):
        log.info("sign-in of tenant %s refused: no matching sign-in request", tenant)
        return _clear_flow(_refused(request, "expired_request", 400, locale), tenant)
    if error is not None or not code:
        log.info("sign-in of tenant %s: the provider answered error=%s", tenant, error)
        status = 401 if error is not None else 400  # refused at the provider, or no code
        return _clear_flow(_refused(request, "provider_error", status, locale), tenant)
    redirect_to = service.redirect_uri(_base_url(state, request), tenant)
    try:
        _metadata, claims = await service.identify(
            stored=stored,
            provider=_provider(state),
            box=box,
            flow=flow,
            code=code,
            redirect_to=redirect_to,
            now=now,
        )
        user, linked = await service.find_user(
            session, tenant_id=tenant, stored=stored, claims=claims
        )
    except ProviderError as exc:
        log.warning("sign-in of tenant %s: the provider failed: %s", tenant, exc)
        return _clear_flow(_refused(request, "provider_error", 502, locale), tenant)
    except TokenRefused as exc:
        log.warning("sign-in of tenant %s: ID token refused: %s", tenant, exc)
        return _clear_flow(_refused(request, "token_refused", 401, locale), tenant)
    except service.Refused as exc:
        log.info("sign-in of tenant %s refused (%s): %s", tenant, exc.code, exc.detail)
        return _clear_flow(_refused(request, exc.code, exc.status, locale), tenant)
    token = await service.open_session(
        session, user=user, now=now, ttl=timedelta(hours=state.settings.session_ttl_h)
    )
    await _auditor(request, state, session, user.tenant_id, user.id).record(
        "auth.sign_in",
        target=f"user:{user.id}",
        after={"issuer": stored["issuer"], "linked": linked},
    )
    response = RedirectResponse(flow.next, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    secure = _secure(state, request)
    max_age = int(state.settings.session_ttl_h * 3600)
    response.set_cookie(
        signin.SESSION_COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    response.set_cookie(
        signin.CSRF_COOKIE,
        signin.csrf_of(token),
        max_age=max_age,
        path="/",
        httponly=False,
        samesite="lax",
        secure=secure,
    )
    return _clear_flow(response, tenant)


def _clear_flow(response: Response, tenant: str) -> Response:
    response.delete_cookie(FLOW_COOKIE, path=f"/auth/{tenant}/callback")
    return response


def _auditor(
    request: Request, state: AppState, session: WriteSessionDep, tenant_id: str, user_id: str
) -> Auditor:
    return Auditor(
        session=session,
        actor=f"user:{user_id}",
        tenant_id=tenant_id,
        request_id=getattr(request.state, "request_id", None),
        clock=state.clock,
    )


@pages.post("/logout", status_code=204, summary="Sign out")
async def logout(request: Request, session: WriteSessionDep, state: StateDep) -> Response:
    """Ends the caller's sign-in at once and clears its cookies. Like every unsafe request
    of a signed-in browser it needs the ``X-CSRF-Token`` header."""
    token = request.cookies.get(signin.SESSION_COOKIE)
    if token and len(token) <= 512:
        if not signin.csrf_matches(
            token,
            request.headers.get(signin.CSRF_HEADER),
            request.cookies.get(signin.CSRF_COOKIE),
        ):
            raise Forbidden(
                msg(
                    "auth.signout.csrf_missing",
                    header=signin.CSRF_HEADER,
                    cookie=signin.CSRF_COOKIE,
                )
            )
        digest = signin.token_hash(token)
        row = await session_repo.session_by_hash(session, token_hash=digest)
        if await service.close_session(session, token=token, now=state.clock.now()):
            state.keys.revoked(signin.session_key_id(digest))
            if row is not None:
                await _auditor(request, state, session, row.tenant_id, row.user_id).record(
                    "auth.sign_out", target=f"user:{row.user_id}"
                )
    response = Response(status_code=204)
    response.delete_cookie(signin.SESSION_COOKIE, path="/")
    response.delete_cookie(signin.CSRF_COOKIE, path="/")
    return response
