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
from paceline.shared.i18n import DEFAULT_LOCALE, Code, Msg, from_json, msg, render
from paceline.shared.readmodel.org import team_parents
from paceline.shared.readmodel.scopes import parse_scope, subtree
from paceline.shared.web.errors import reason_of

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
                msg("alerts.errors.unknown_value", field=field, value=bad[0]),
                fields=[
                    FieldError(
                        field, msg("alerts.errors.use_any_of", values=[Code(v) for v in allowed])
                    )
                ],
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
            msg("alerts.errors.bad_cursor"),
            fields=[FieldError("cursor", msg("alerts.errors.use_next_cursor"))],
        ) from None


def _check_time(value: datetime | None, field: str) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise InvalidInput(
            msg("alerts.errors.needs_offset", field=field),
            fields=[FieldError(field, msg("alerts.errors.include_offset"))],
        )


def _title(alert: Alert, locale: str) -> tuple[str, str | None, dict[str, Any] | None]:
    """The title in ``locale`` with its code and parameters; an alert from before titles
    were messages keeps its stored title (and has neither)."""
    stored = alert.message or None
    if not stored:
        return alert.title, None, None
    return render(from_json(stored), locale), str(stored["code"]), dict(stored.get("params") or {})


def alert_out(
    alert: Alert,
    team: str | None,
    *,
    locale: str = DEFAULT_LOCALE,
    scope_name: str | Msg | None = None,
) -> AlertOut:
    """The API shape of an alert, its words in ``locale``."""
    title, code, params = _title(alert, locale)
    name = scope_name if scope_name is not None else alert.scope
    return AlertOut(
        id=alert.id,
        kind=alert.kind,
        type=alert.type,
        dedup_key=alert.dedup_key,
        scope=alert.scope,
        scope_name=render(name, locale) if isinstance(name, Msg) else name,
        team=team,
        severity=alert.severity,
        status=alert.status,
        title=title,
        title_code=code,
        title_params=params,
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
    locale: str = DEFAULT_LOCALE,
) -> AlertsPage:
    """Alerts by kind, status, type, severity, scope or team and time, newest first; their
    words in ``locale``."""
    _check_time(since, "since")
    _check_time(until, "until")
    scopes: list[str] | None = None
    if scope is not None:
        scopes = [str(parse_scope(scope))]
    if team is not None:
        parents = await team_parents(session, tenant_id=tenant_id)
        if team not in parents:
            raise NotFound(msg("alerts.errors.no_team", team=team))
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
    scopes_seen = sorted({a.scope for a in rows})
    teams_of = await repo.teams_of_scopes(session, tenant_id=tenant_id, scopes=scopes_seen)
    names = await lifecycle.scope_names(session, tenant_id=tenant_id, scopes=scopes_seen)
    return AlertsPage(
        items=[
            alert_out(a, teams_of.get(a.scope), locale=locale, scope_name=names.get(a.scope))
            for a in rows
        ],
        next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
    )


async def _alert_or_404(
    session: AsyncSession, *, tenant_id: str, alert_id: int, lock: bool = False
) -> Alert:
    alert = await repo.get(session, tenant_id=tenant_id, alert_id=alert_id, lock=lock)
    if alert is None:
        raise NotFound(_no_alert(alert_id))
    return alert


def _no_alert(alert_id: int) -> Msg:
    return msg("alerts.errors.no_alert", id=str(alert_id))


def _note(note: str, stored: dict[str, Any] | None, locale: str) -> tuple[str, str | None, Any]:
    """A history note in ``locale`` with its code and parameters (a person's note: their
    words, without a code)."""
    if not stored:
        return note, None, None
    return render(from_json(stored), locale), str(stored["code"]), dict(stored.get("params") or {})


async def get_alert(
    session: AsyncSession,
    *,
    principal: Principal,
    alert_id: int,
    locale: str = DEFAULT_LOCALE,
) -> AlertWithHistory:
    """An alert with its history, its words in ``locale``; 404 when it concerns a scope
    the caller does not see."""
    tenant_id = principal.tenant_id
    alert = await _alert_or_404(session, tenant_id=tenant_id, alert_id=alert_id)
    if not principal.sees(alert.scope):
        raise NotFound(_no_alert(alert_id))
    events = await repo.history(session, tenant_id=tenant_id, alert_id=alert_id)
    teams_of = await repo.teams_of_scopes(session, tenant_id=tenant_id, scopes=[alert.scope])
    name = await lifecycle.scope_name(session, tenant_id=tenant_id, scope=alert.scope)
    history = []
    for e in events:
        note, code, params = _note(e.note, e.note_message, locale)
        history.append(
            AlertEventOut(
                id=e.id,
                action=e.action,
                at=e.at,
                actor=e.actor,
                severity=e.severity,
                status=e.status,
                note=note,
                note_code=code,
                note_params=params,
            )
        )
    return AlertWithHistory(
        **alert_out(alert, teams_of.get(alert.scope), locale=locale, scope_name=name).model_dump(),
        history=history,
    )


async def change_alert(
    session: AsyncSession,
    *,
    principal: Principal,
    alert_id: int,
    action: str,
    note: str,
    now: datetime,
    locale: str = DEFAULT_LOCALE,
) -> tuple[AlertWithHistory, dict[str, Any], bool]:
    """Acknowledge or resolve an alert; the alert, its state before, and whether it changed.

    404 outside what the caller sees; 403 when they see it but may not act on it."""
    tenant_id, actor = principal.tenant_id, principal.actor
    alert = await _alert_or_404(session, tenant_id=tenant_id, alert_id=alert_id, lock=True)
    if not principal.sees(alert.scope):
        raise NotFound(_no_alert(alert_id))
    if not principal.may_act_on(alert.scope):
        raise Forbidden(
            msg(
                "alerts.errors.may_not_act",
                scope=await lifecycle.scope_name(session, tenant_id=tenant_id, scope=alert.scope),
                role=principal.role or "key",
            )
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
    out = await get_alert(session, principal=principal, alert_id=alert_id, locale=locale)
    return out, before, changed


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
            msg("alerts.errors.invalid_settings"),
            fields=[
                FieldError(".".join(str(p) for p in e["loc"]) or "body", reason_of(e))
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
    locale: str = DEFAULT_LOCALE,
) -> list[DigestOut]:
    """Digests, newest first, their words in ``locale``."""
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
            body=render_body(d.body, locale),
        )
        for d in rows
    ]


async def get_digest(
    session: AsyncSession, *, tenant_id: str, digest_id: int, locale: str = DEFAULT_LOCALE
) -> DigestOut:
    """A digest by id with its words in ``locale``, or 404."""
    d = await repo.digest(session, tenant_id=tenant_id, digest_id=digest_id)
    if d is None:
        raise NotFound(msg("alerts.errors.no_digest", id=str(digest_id)))
    return DigestOut(
        id=d.id,
        team=d.team_id,
        kind=d.kind,
        period=d.period,
        created_at=d.created_at,
        body=render_body(d.body, locale),
    )


def render_body(body: dict[str, Any], locale: str) -> dict[str, Any]:
    """A stored digest body with its words in ``locale``: the title, the summary lines
    and the open alerts' titles, rendered again from their messages (a body from before
    digests kept messages is returned as it is)."""
    out = dict(body)
    if body.get("title_code"):
        out["title"] = render(
            from_json({"code": body["title_code"], "params": body.get("title_params") or {}}),
            locale,
        )
    if isinstance(body.get("summary_messages"), list):
        out["summary"] = [render(from_json(m), locale) for m in body["summary_messages"]]
    if isinstance(body.get("open_alerts"), list):
        out["open_alerts"] = [
            {
                **a,
                "title": render(
                    from_json({"code": a["title_code"], "params": a.get("title_params") or {}}),
                    locale,
                ),
                **(
                    {"scope_name": render(lifecycle.COMPANY, locale)}
                    if a.get("scope") == "company"
                    else {}
                ),
            }
            if isinstance(a, dict) and a.get("title_code")
            else a
            for a in body["open_alerts"]
        ]
    if "locale" in body:
        out["locale"] = locale
    return out
