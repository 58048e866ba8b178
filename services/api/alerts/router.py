"""Alert routes: ``GET /v1/alerts`` (filtered, cursor-paginated), acknowledge, resolve,
history, the tenant's alert settings and digests."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from paceline.api.alerts import service
from paceline.api.alerts.schemas import AlertAction, AlertsPage, AlertWithHistory, DigestOut
from paceline.api.deps import LocaleDep, TenantDep
from paceline.shared.alert_options import AlertOptions
from paceline.shared.auth import Principal
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.errors import NotFound
from paceline.shared.i18n import msg
from paceline.shared.web.deps import (
    ActingPrincipal,
    AdminPrincipal,
    AuditDep,
    ReadPrincipal,
    ReadSessionDep,
    StateDep,
    WriteSessionDep,
    within_reach,
)
from paceline.shared.web.pagination import CursorQuery, int_cursor, page_limit, set_next_page

router = APIRouter(prefix="/v1", tags=["alerts"])


@router.get("/alerts", response_model=AlertsPage, summary="List alerts")
@within_reach("filtered")
async def list_alerts(
    request: Request,
    response: Response,
    principal: ReadPrincipal,
    session: ReadSessionDep,
    locale: LocaleDep,
    kind: Annotated[
        str | None, Query(description="lag, anomaly, data_quality, system (comma-separated)")
    ] = None,
    status: Annotated[
        str | None, Query(description="open, acknowledged, resolved (comma-separated)")
    ] = None,
    type: Annotated[
        str | None, Query(description="e.g. lag,rep_silent,burst (comma-separated)")
    ] = None,  # query name
    severity: Annotated[
        str | None, Query(description="info, warning, critical (comma-separated)")
    ] = None,
    scope: Annotated[str | None, Query(description="company, team:ID or rep:ID (exact)")] = None,
    team: Annotated[
        str | None, Query(description="A team: its own, its sub-teams' and its reps' alerts")
    ] = None,
    since: Annotated[datetime | None, Query(description="Seen at or after (with offset)")] = None,
    until: Annotated[datetime | None, Query(description="First seen before (with offset)")] = None,
    cursor: CursorQuery = None,
    limit: Annotated[int, page_limit(500)] = 100,
) -> AlertsPage:
    """Alerts, newest first, filtered by kind, status, type, severity, scope or team and time.

    `title` is in the caller's language (`Accept-Language`, else the tenant's locale), with
    `title_code` and `title_params` for machines; `scope_name` names the rep or team."""
    page = await service.list_alerts(
        session,
        tenant_id=principal.tenant_id,
        reach=principal.reach,
        kind=kind,
        status=status,
        type_=type,
        severity=severity,
        scope=scope,
        team=team,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
        locale=locale,
    )
    set_next_page(request, response, page.next_cursor)
    return page


@router.get("/alerts/settings", response_model=AlertOptions, summary="Alert settings")
async def get_alert_settings(tenant: TenantDep) -> AlertOptions:
    """When and how alerts are raised for this tenant (thresholds, schedule, digests)."""
    return service.options_of(tenant)


@router.put("/alerts/settings", response_model=AlertOptions, summary="Change alert settings")
async def put_alert_settings(
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
    changes: Annotated[
        dict[str, Any],
        Body(
            description="Fields to change; the others keep their value.",
            openapi_examples={
                "lag": {
                    "summary": "Later lag warnings, judged every 30 minutes",
                    "value": {"min_elapsed_share": 0.3, "lag_every_minutes": 30},
                }
            },
        ),
    ],
) -> AlertOptions:
    """Change some alert settings (validated as a whole)."""
    tenant = await tenant_repo.get_tenant(session, tenant_id=principal.tenant_id)
    if tenant is None:
        raise NotFound(msg("errors.tenant.gone"))
    before = service.options_of(tenant).model_dump(mode="json")
    options = service.update_options(tenant, changes=changes, now=state.clock.now())
    await audit.record(
        "alerts.settings",
        target="alert_settings",
        before=before,
        after=options.model_dump(mode="json"),
    )
    return options


@router.get("/alerts/digests", response_model=list[DigestOut], summary="List digests")
async def list_digests(
    request: Request,
    response: Response,
    principal: ReadPrincipal,
    session: ReadSessionDep,
    locale: LocaleDep,
    kind: Annotated[str | None, Query(pattern="^(weekly|month_end)$")] = None,
    team: str | None = None,
    cursor: CursorQuery = None,
    before_id: Annotated[
        int | None,
        Query(
            ge=0,
            le=2**63 - 1,
            deprecated=True,
            description="The last id of the previous page (older `cursor`).",
        ),
    ] = None,
    limit: Annotated[int, page_limit(200)] = 50,
) -> list[DigestOut]:
    """Weekly and month-end digests made so far, newest first. A page is a JSON array; the
    next page's cursor is in `X-Next-Cursor` and `Link`. Titles and summary lines are in
    the caller's language."""
    digests = await service.list_digests(
        session,
        tenant_id=principal.tenant_id,
        kind=kind,
        team=team,
        cursor=int_cursor(cursor, before_id),
        limit=limit + 1,
        locale=locale,
    )
    set_next_page(request, response, str(digests[limit - 1].id) if len(digests) > limit else None)
    return digests[:limit]


@router.get("/alerts/digests/{digest_id}", response_model=DigestOut, summary="A digest")
async def get_digest(
    digest_id: int, principal: ReadPrincipal, session: ReadSessionDep, locale: LocaleDep
) -> DigestOut:
    """One digest, as it was sent, its words in the caller's language."""
    return await service.get_digest(
        session, tenant_id=principal.tenant_id, digest_id=digest_id, locale=locale
    )


@router.get(
    "/alerts/{alert_id}", response_model=AlertWithHistory, summary="An alert and its history"
)
@within_reach("filtered")
async def get_alert(
    alert_id: int, principal: ReadPrincipal, session: ReadSessionDep, locale: LocaleDep
) -> AlertWithHistory:
    """An alert with every change it went through (404 outside the caller's teams)."""
    return await service.get_alert(session, principal=principal, alert_id=alert_id, locale=locale)


async def _change(
    action: str,
    alert_id: int,
    body: AlertAction | None,
    principal: Principal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
    locale: str,
) -> AlertWithHistory:
    note = body.note if body is not None else ""
    out, before, changed = await service.change_alert(
        session,
        principal=principal,
        alert_id=alert_id,
        action=action,
        note=note,
        now=state.clock.now(),
        locale=locale,
    )
    if changed:
        await audit.record(
            f"alerts.{action}",
            target=f"alert:{alert_id}",
            before=before,
            after={"status": out.status, "note": note},
        )
    return out


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=AlertWithHistory,
    summary="Acknowledge an alert",
)
@within_reach("filtered")
async def acknowledge_alert(
    alert_id: int,
    principal: ActingPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
    locale: LocaleDep,
    body: AlertAction | None = None,
) -> AlertWithHistory:
    """open -> acknowledged (someone is on it); an alert in another state is returned as it is.

    Acknowledging is acting, not reading: an admin (or a service key with the admin
    scope), a manager on their teams' alerts, a rep on their own; viewers and BI never."""
    return await _change("acknowledge", alert_id, body, principal, session, state, audit, locale)


@router.post(
    "/alerts/{alert_id}/resolve", response_model=AlertWithHistory, summary="Resolve an alert"
)
@within_reach("filtered")
async def resolve_alert(
    alert_id: int,
    principal: ActingPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
    locale: LocaleDep,
    body: AlertAction | None = None,
) -> AlertWithHistory:
    """open or acknowledged -> resolved; the evaluator raises it again if the cause returns."""
    return await _change("resolve", alert_id, body, principal, session, state, audit, locale)
