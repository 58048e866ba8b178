"""The alert lifecycle: raise, escalate, acknowledge, resolve; one row per dedup key.

Every change of an alert's state writes an ``alert_events`` row in the same transaction
(history, and the outbox that deliveries and log publications are made from after the
commit). A repeated occurrence of an open alert only counts (``occurrences``, detail);
it notifies nobody.

::

    (none) --raise--> open --acknowledge--> acknowledged
      open/acknowledged --raise, higher severity--> (same status), escalated
      open/acknowledged --resolve--> resolved --raise--> open (reopened)

Words: an alert's title is a catalog message (:class:`~paceline.shared.i18n.Msg`, names
not ids) kept in ``alerts.message``; ``alerts.title`` holds it rendered in the tenant's
locale (cut to the column's 400 characters) for the BI views and older readers. Notes the
system writes are messages too (``alert_events.note_message``). Snapshots carry
``title_code``, ``title_params`` and ``scope_name`` so each subscriber renders the title
in its own language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Alert, Rep, RepMembership, Team, Tenant
from paceline.shared.db.models_alerts import AlertEvent
from paceline.shared.db.upsert import insert_for
from paceline.shared.i18n import DEFAULT_LOCALE, LOCALES, Msg, msg, render, to_json

SEVERITIES = ("info", "warning", "critical")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
KINDS = ("lag", "anomaly", "data_quality", "system")
STATUSES = ("open", "acknowledged", "resolved")
ACTIONS = ("opened", "reopened", "escalated", "deescalated", "acknowledged", "resolved")
SYSTEM = "system"
TITLE_CHARS = 400  # alerts.title
COMPANY = msg("alerts.scope.company")


def text_of(message: str | Msg, locale: str) -> tuple[str, dict[str, Any] | None]:
    """A title or note as stored: its text in ``locale`` and its message as JSON (None
    for plain text, e.g. a person's note)."""
    if isinstance(message, Msg):
        return render(message, locale), to_json(message)
    return message, None


async def tenant_locale(session: AsyncSession, *, tenant_id: str) -> str:
    """The tenant's locale (zh-CN when the tenant or its setting is unknown)."""
    tenant = await session.get(Tenant, tenant_id)
    locale = tenant.locale if tenant is not None else None
    return locale if locale in LOCALES else DEFAULT_LOCALE


async def scope_names(
    session: AsyncSession, *, tenant_id: str, scopes: Sequence[str]
) -> dict[str, str | Msg]:
    """What people call each scope: a rep's or team's name (its id when the org chart
    has no name for it), the company as a message (公司 / Company)."""
    out: dict[str, str | Msg] = {}
    for scope in scopes:
        kind, _, ident = scope.partition(":")
        if kind == "company":
            out[scope] = COMPANY
            continue
        row: Rep | Team | None = None
        if kind == "rep":
            row = await session.get(Rep, (tenant_id, ident))
        elif kind == "team":
            row = await session.get(Team, (tenant_id, ident))
        out[scope] = row.name if row is not None and row.name else (ident or scope)
    return out


async def scope_name(session: AsyncSession, *, tenant_id: str, scope: str) -> str | Msg:
    """What people call a scope (:func:`scope_names`)."""
    return (await scope_names(session, tenant_id=tenant_id, scopes=[scope]))[scope]


async def rep_name(session: AsyncSession, *, tenant_id: str, rep_id: str) -> str:
    """A rep's name, or the id when the org chart has none."""
    name = await scope_name(session, tenant_id=tenant_id, scope=f"rep:{rep_id}")
    return name if isinstance(name, str) else rep_id


@dataclass(frozen=True, slots=True)
class AlertChange:
    """What a call did to an alert: its id and the action recorded (None: only counted)."""

    alert_id: int
    action: str | None


def snapshot(alert: Alert, *, team_id: str | None, scope_name: str | None = None) -> dict[str, Any]:
    """The alert as JSON (what subscribers receive): ``title`` in the tenant's locale,
    ``title_code`` and ``title_params`` to render it in another (None on alerts from
    before titles were messages), ``scope_name`` the scope's name in the tenant's locale."""
    message = alert.message or None
    return {
        "id": alert.id,
        "kind": alert.kind,
        "type": alert.type,
        "dedup_key": alert.dedup_key,
        "scope": alert.scope,
        "team": team_id,
        "severity": alert.severity,
        "status": alert.status,
        "title": alert.title,
        "title_code": message["code"] if message else None,
        "title_params": dict(message.get("params") or {}) if message else None,
        "scope_name": scope_name if scope_name is not None else alert.scope,
        "detail": alert.detail or {},
        "occurrences": int(alert.occurrences),
        "first_seen_at": alert.first_seen_at.isoformat(),
        "last_seen_at": alert.last_seen_at.isoformat(),
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
        "acknowledged_by": alert.acknowledged_by,
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
    }


async def team_of_scope(session: AsyncSession, *, tenant_id: str, scope: str) -> str | None:
    """The team an alert belongs to: the team of a team scope, a rep's current team."""
    kind, _, ident = scope.partition(":")
    if kind == "team":
        return ident
    if kind != "rep":
        return None
    return await session.scalar(
        select(RepMembership.team_id)
        .where(
            RepMembership.tenant_id == tenant_id,
            RepMembership.rep_id == ident,
            RepMembership.valid_to.is_(None),
        )
        .order_by(RepMembership.valid_from.desc())
        .limit(1)
    )


async def _record(
    session: AsyncSession,
    *,
    alert: Alert,
    action: str,
    actor: str,
    now: datetime,
    note: str | Msg = "",
) -> None:
    team = await team_of_scope(session, tenant_id=alert.tenant_id, scope=alert.scope)
    locale = await tenant_locale(session, tenant_id=alert.tenant_id)
    name = await scope_name(session, tenant_id=alert.tenant_id, scope=alert.scope)
    note_text, note_message = text_of(note, locale)
    session.add(
        AlertEvent(
            tenant_id=alert.tenant_id,
            alert_id=alert.id,
            action=action,
            at=now,
            actor=actor,
            severity=alert.severity,
            status=alert.status,
            team_id=team,
            note=note_text,
            note_message=note_message,
            snapshot=snapshot(
                alert,
                team_id=team,
                scope_name=render(name, locale) if isinstance(name, Msg) else name,
            ),
        )
    )
    await session.flush()


async def _locked(session: AsyncSession, *, tenant_id: str, dedup_key: str) -> Alert | None:
    return await session.scalar(
        select(Alert)
        .where(Alert.tenant_id == tenant_id, Alert.dedup_key == dedup_key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def find_alert(session: AsyncSession, *, tenant_id: str, dedup_key: str) -> Alert | None:
    """The alert with a dedup key, if any."""
    return await session.scalar(
        select(Alert).where(Alert.tenant_id == tenant_id, Alert.dedup_key == dedup_key)
    )


async def raise_alert(
    session: AsyncSession,
    *,
    tenant_id: str,
    kind: str,
    type: str,
    dedup_key: str,
    scope: str,
    severity: str,
    title: str | Msg,
    detail: dict[str, Any],
    now: datetime,
    reopen: bool = True,
    count: bool = True,
) -> AlertChange:
    """Open an alert, escalate it, reopen it if resolved, or count one more occurrence.

    ``title`` is a catalog message with names, not ids (``msg("alerts.lag.behind", ...)``):
    kept in ``message`` and rendered in the tenant's locale into ``title``. Plain text is
    still taken (stored as is, without a message) from callers not converted yet.

    ``reopen=False`` leaves a resolved alert resolved (an episode already dealt with);
    ``count=False`` does not add an occurrence for a repeated observation of the same
    episode (re-evaluations).
    """
    text, message = text_of(title, await tenant_locale(session, tenant_id=tenant_id))
    text = text[:TITLE_CHARS]
    alert = await _locked(session, tenant_id=tenant_id, dedup_key=dedup_key)
    if alert is None:
        insert = insert_for(session, Alert)
        new_id = await session.scalar(
            insert.values(
                tenant_id=tenant_id,
                kind=kind,
                type=type,
                dedup_key=dedup_key,
                scope=scope,
                severity=severity,
                status="open",
                title=text,
                message=message,
                detail=detail,
                occurrences=1,
                first_seen_at=now,
                last_seen_at=now,
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "dedup_key"])
            .returning(Alert.id)
        )
        alert = await _locked(session, tenant_id=tenant_id, dedup_key=dedup_key)
        assert alert is not None
        if new_id is not None:
            await _record(session, alert=alert, action="opened", actor=SYSTEM, now=now)
            return AlertChange(alert.id, "opened")
    action: str | None = None
    if alert.status == "resolved":
        if not reopen:
            return AlertChange(alert.id, None)
        action = "reopened"
        alert.status = "open"
        alert.resolved_at = None
        alert.acknowledged_at = None
        alert.acknowledged_by = None
        alert.first_seen_at = now
        alert.occurrences = 1
    else:
        old, new = SEVERITY_RANK.get(alert.severity, 0), SEVERITY_RANK.get(severity, 0)
        if new > old:
            action = "escalated"
        elif new < old:
            action = "deescalated"
        if count:
            alert.occurrences = int(alert.occurrences) + 1
    alert.severity = severity
    alert.title = text
    alert.message = message
    alert.detail = detail
    alert.scope = scope
    alert.last_seen_at = now
    await session.flush()
    if action is not None:
        await _record(session, alert=alert, action=action, actor=SYSTEM, now=now)
    return AlertChange(alert.id, action)


async def resolve_alerts(
    session: AsyncSession,
    *,
    tenant_id: str,
    dedup_keys: Sequence[str],
    now: datetime,
    actor: str = SYSTEM,
    note: str | Msg = "",
) -> list[int]:
    """Resolve open or acknowledged alerts by key; the ids resolved (``note``: why, a
    message when the system resolves, e.g. ``msg("alerts.note.back_on_track")``)."""
    if not dedup_keys:
        return []
    rows = (
        await session.scalars(
            select(Alert)
            .where(
                Alert.tenant_id == tenant_id,
                Alert.dedup_key.in_(list(dedup_keys)),
                Alert.status != "resolved",
            )
            .order_by(Alert.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
    for alert in rows:
        alert.status = "resolved"
        alert.resolved_at = now
        await session.flush()
        await _record(session, alert=alert, action="resolved", actor=actor, now=now, note=note)
    return [a.id for a in rows]


async def acknowledge_alert(
    session: AsyncSession, *, alert: Alert, actor: str, now: datetime, note: str = ""
) -> bool:
    """Acknowledge an open alert (True), or leave it as it is (False)."""
    if alert.status != "open":
        return False
    alert.status = "acknowledged"
    alert.acknowledged_at = now
    alert.acknowledged_by = actor
    await session.flush()
    await _record(session, alert=alert, action="acknowledged", actor=actor, now=now, note=note)
    return True


async def resolve_alert(
    session: AsyncSession, *, alert: Alert, actor: str, now: datetime, note: str = ""
) -> bool:
    """Resolve an open or acknowledged alert (True), or leave a resolved one (False)."""
    if alert.status == "resolved":
        return False
    alert.status = "resolved"
    alert.resolved_at = now
    await session.flush()
    await _record(session, alert=alert, action="resolved", actor=actor, now=now, note=note)
    return True
