"""List, filter, acknowledge and resolve alerts; alert settings; digests."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.alerts import repository as repo
from paceline.api.alerts.schemas import (
    AlertEventOut,
    AlertOut,
    AlertsPage,
    AlertWithHistory,
    DigestOut,
)
from paceline.shared.alert_options import AlertOptions, alert_options
from paceline.shared.auth import Principal, Reach, reach_scopes
from paceline.shared.db import lifecycle
from paceline.shared.db.models import Alert, Tenant
from paceline.shared.errors import FieldError, Forbidden, InvalidInput, NotFound
from paceline.shared.readmodel.org import team_parents
from paceline.shared.readmodel.scopes import parse_scope, subtree

ALLOWED = {
    "kind": lifecycle.KINDS,
    "status": lifecycle.STATUSES,
    "severity": lifecycle.SEVERITIES,
}


def parse_list(value: str | None, field: str) -> list[str]:
    """A comma-separated filter, each value checked where the values are known."""
    if not value:
        return []
    items = [v.strip() for v in value.split(",") if v.strip()]
    allowed = ALLOWED.get(field)
    if allowed is not None:
        bad = [v for v in items if v not in allowed]
        if bad:
            raise InvalidInput(
                f"unknown {field} {bad[0]!r}",
                fields=[FieldError(field, f"use any of {', '.join(allowed)}, comma-separated")],
            )
    return items


def encode_cursor(alert_id: int) -> str:
    """An opaque cursor after an alert id."""
    return base64.urlsafe_b64encode(f"a:{alert_id}".encode()).decode().rstrip("=")


def decode_cursor(text: str) -> int:
    """The alert id of a cursor; 422 if it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind != "a":
            raise ValueError(raw)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(
            "the cursor is not valid",
            fields=[FieldError("cursor", "use next_cursor from a previous page")],
        ) from None


def _check_time(value: datetime | None, field: str) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise InvalidInput(
            f"{field} needs an offset", fields=[FieldError(field, "must include a UTC offset")]
        )


def alert_out(alert: Alert, team: str | None) -> AlertOut:
    """The API shape of an alert."""
    return AlertOut(
        id=alert.id,
        kind=alert.kind,
        type=alert.type,
        dedup_key=alert.dedup_key,
        scope=alert.scope,
        team=team,
        severity=alert.severity,
        status=alert.status,
        title=alert.title,
        detail=alert.detail or {},
        occurrences=int(alert.occurrences),
        first_seen_at=alert.first_seen_at,
        last_seen_at=alert.last_seen_at,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by=alert.acknowledged_by,
        resolved_at=alert.resolved_at,
    )


async def list_alerts(
    session: AsyncSession,
    *,
    tenant_id: str,
    reach: Reach | None = None,
    kind: str | None,
    status: str | None,
    type_: str | None,
    severity: str | None,
    scope: str | None,
    team: str | None,
    since: datetime | None,
    until: datetime | None,
    cursor: str | None,
    limit: int,
) -> AlertsPage:
    """Alerts by kind, status, type, severity, scope or team and time, newest first."""
    _check_time(since, "since")
    _check_time(until, "until")
    scopes: list[str] | None = None
    if scope is not None:
        scopes = [str(parse_scope(scope))]
    if team is not None:
        parents = await team_parents(session, tenant_id=tenant_id)
        if team not in parents:
            raise NotFound(f"no team {team!r}")
        teams = subtree(parents, team)
        reps = await repo.reps_of_teams(session, tenant_id=tenant_id, teams=teams)
        in_team = [f"team:{t}" for t in teams] + [f"rep:{r}" for r in reps]
        scopes = in_team if scopes is None else [s for s in scopes if s in in_team]
    if reach is not None:
        # A caller with a bounded reach: only their teams' and reps' alerts.
        scopes = [s for s in (scopes or reach_scopes(reach)) if reach.allows(s)]
        if not scopes:
            return AlertsPage(items=[], next_cursor=None)
    rows = await repo.search(
        session,
        tenant_id=tenant_id,
        kinds=parse_list(kind, "kind"),
        statuses=parse_list(status, "status"),
        types=parse_list(type_, "type"),
        severities=parse_list(severity, "severity"),
        scopes=scopes,
        since=since,
        until=until,
        before_id=decode_cursor(cursor) if cursor else None,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    teams_of = await repo.teams_of_scopes(
        session, tenant_id=tenant_id, scopes=sorted({a.scope for a in rows})
    )
    return AlertsPage(
        items=[alert_out(a, teams_of.get(a.scope)) for a in rows],
        next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
    )


async def _alert_or_404(
    session: AsyncSession, *, tenant_id: str, alert_id: int, lock: bool = False
) -> Alert:
    alert = await repo.get(session, tenant_id=tenant_id, alert_id=alert_id, lock=lock)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    return alert


async def get_alert(
    session: AsyncSession, *, principal: Principal, alert_id: int
) -> AlertWithHistory:
    """An alert with its history; 404 when it concerns a scope the caller does not see."""
    tenant_id = principal.tenant_id
    alert = await _alert_or_404(session, tenant_id=tenant_id, alert_id=alert_id)
    if not principal.sees(alert.scope):
        raise NotFound(f"no alert {alert_id}")
    events = await repo.history(session, tenant_id=tenant_id, alert_id=alert_id)
    teams_of = await repo.teams_of_scopes(session, tenant_id=tenant_id, scopes=[alert.scope])
    return AlertWithHistory(
        **alert_out(alert, teams_of.get(alert.scope)).model_dump(),
        history=[
            AlertEventOut(
                id=e.id,
                action=e.action,
                at=e.at,
                actor=e.actor,
                severity=e.severity,
                status=e.status,
                note=e.note,
            )
            for e in events
        ],
    )


async def change_alert(
    session: AsyncSession,
    *,
    principal: Principal,
    alert_id: int,
    action: str,
    note: str,
    now: datetime,
) -> tuple[AlertWithHistory, dict[str, Any], bool]:
    """Acknowledge or resolve an alert; the alert, its state before, and whether it changed.

    404 outside what the caller sees; 403 when they see it but may not act on it."""
    tenant_id, actor = principal.tenant_id, principal.actor
    alert = await _alert_or_404(session, tenant_id=tenant_id, alert_id=alert_id, lock=True)
    if not principal.sees(alert.scope):
        raise NotFound(f"no alert {alert_id}")
    if not principal.may_act_on(alert.scope):
        raise Forbidden(
            f"acknowledging or resolving {alert.scope}'s alerts is not within this "
            f"{principal.role or 'key'}'s rights (an admin, the scope's manager, or the rep)"
        )
    before = {"status": alert.status}
    if action == "acknowledge":
        changed = await lifecycle.acknowledge_alert(
            session, alert=alert, actor=actor, now=now, note=note
        )
    else:
        changed = await lifecycle.resolve_alert(
            session, alert=alert, actor=actor, now=now, note=note
        )
    return await get_alert(session, principal=principal, alert_id=alert_id), before, changed


def options_of(tenant: Tenant) -> AlertOptions:
    """The tenant's alert options."""
    return alert_options(tenant)


def update_options(tenant: Tenant, *, changes: dict[str, Any], now: datetime) -> AlertOptions:
    """Merge changes into the tenant's alert options (422 naming a bad field)."""
    merged = {**options_of(tenant).model_dump(), **changes}
    try:
        options = AlertOptions.model_validate(merged)
    except ValidationError as exc:
        errors = exc.errors()
        raise InvalidInput(
            "invalid alert settings",
            fields=[
                FieldError(".".join(str(p) for p in e["loc"]) or "body", str(e["msg"]))
                for e in errors
            ],
        ) from None
    tenant.options = {**(tenant.options or {}), "alerts": options.model_dump(mode="json")}
    tenant.updated_at = now
    return options


async def list_digests(
    session: AsyncSession,
    *,
    tenant_id: str,
    reach: Reach | None = None,
    kind: str | None,
    team: str | None,
    cursor: int | None,
    limit: int,
) -> list[DigestOut]:
    """Digests, newest first."""
    rows = await repo.digests(
        session, tenant_id=tenant_id, kind=kind, team=team, before_id=cursor, limit=limit
    )
    return [
        DigestOut(
            id=d.id,
            team=d.team_id,
            kind=d.kind,
            period=d.period,
            created_at=d.created_at,
            body=d.body,
        )
        for d in rows
    ]


async def get_digest(session: AsyncSession, *, tenant_id: str, digest_id: int) -> DigestOut:
    """A digest by id, or 404."""
    d = await repo.digest(session, tenant_id=tenant_id, digest_id=digest_id)
    if d is None:
        raise NotFound(f"no digest {digest_id}")
    return DigestOut(
        id=d.id, team=d.team_id, kind=d.kind, period=d.period, created_at=d.created_at, body=d.body
    )
