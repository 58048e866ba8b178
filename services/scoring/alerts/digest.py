"""Digests: the regular progress check-in (每周/每月进度沟通), per team.

* **weekly**: on the first working day of the week from ``digest_weekday`` on, from
  ``digest_hour`` (tenant-local);
* **month-end**: on the month's last working day, from ``month_end_hour``.

Each holds the status of every target of the team and its reps for the periods under
way, who is behind, the team's open alerts, and what changed since the previous digest
of the same kind (statuses that moved, alerts opened and resolved since). A digest is
made once per team, kind and period (unique row); its deliveries are persisted in the
same transaction, for the subscriptions that ask for that kind and team.

Words: the title and each summary line are catalog messages (names, not ids: the team's,
the reps' and the KPIs' names; paces as percentages). The body holds them rendered in the
tenant's locale (``title``, ``summary``, ``locale``) and as messages for machines and other
languages (``title_code``, ``title_params``, ``summary_messages``: a list of
``{"code", "params"}``); the API renders a stored body in the caller's language.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.scoring.alerts import digest_repository as digests
from paceline.scoring.alerts import repository as repo
from paceline.scoring.alerts.words import kpi_name, period_label
from paceline.scoring.delivery import repository as delivery_repo
from paceline.shared.alert_options import AlertOptions
from paceline.shared.db import lifecycle
from paceline.shared.db.context import find_kpi
from paceline.shared.db.models import Tenant
from paceline.shared.db.models_alerts import Digest
from paceline.shared.i18n import L10n, Msg, Pct, msg, params_json, render, to_json
from paceline.shared.kpi.calendar import WorkCalendar
from paceline.shared.kpi.periods import parse_period
from paceline.shared.readmodel.evaluation import fmt4
from paceline.shared.readmodel.org import team_parents
from paceline.shared.readmodel.progress import evaluate
from paceline.shared.readmodel.scopes import parse_scope, subtree


def due_kinds(
    now: datetime, *, tz: ZoneInfo, calendar: WorkCalendar, options: AlertOptions
) -> list[tuple[str, str]]:
    """(kind, period) of the digests due at ``now``."""
    local = now.astimezone(tz)
    today = local.date()
    out = []
    monday = today - timedelta(days=today.isoweekday() - 1)
    candidates = [monday + timedelta(days=i - 1) for i in range(options.digest_weekday, 8)]
    first = next((d for d in candidates if calendar.is_working_day(d)), None)
    if first == today and local.hour >= options.digest_hour:
        year, week, _ = today.isocalendar()
        out.append(("weekly", f"{year}-W{week:02d}"))
    month_end = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
    if (
        calendar.is_working_day(today)
        and calendar.working_days(today + timedelta(days=1), month_end) == 0
        and local.hour >= options.month_end_hour
    ):
        out.append(("month_end", today.strftime("%Y-%m")))
    return out


async def make(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kinds: Sequence[tuple[str, str]],
    now: datetime,
    calendar: WorkCalendar,
) -> int:
    """Make (and enqueue) the digests of ``kinds`` (:func:`due_kinds`) not made yet; how many."""
    if not kinds:
        return 0
    made = 0
    teams = await repo.teams(session, tenant_id=tenant.id)
    for kind, period in kinds:
        for team in teams:
            if await digests.exists(
                session, tenant_id=tenant.id, team_id=team.id, kind=kind, period=period
            ):
                continue
            body = await build(
                session,
                tenant=tenant,
                team_id=team.id,
                team_name=team.name,
                kind=kind,
                period=period,
                now=now,
                calendar=calendar,
            )
            digest = Digest(
                tenant_id=tenant.id,
                team_id=team.id,
                kind=kind,
                period=period,
                created_at=now,
                body=body,
            )
            session.add(digest)
            await session.flush()
            await _enqueue(session, tenant=tenant, digest=digest, now=now)
            made += 1
    return made


async def _enqueue(session: AsyncSession, *, tenant: Tenant, digest: Digest, now: datetime) -> None:
    subs = await delivery_repo.subscriptions(session, tenant_id=tenant.id)
    parents = await team_parents(session, tenant_id=tenant.id)
    payload = {
        "type": f"digest.{digest.kind}",
        "timestamp": now.isoformat(),
        "tenant": tenant.id,
        "data": {"digest": {"id": digest.id, **digest.body}},
    }
    for sub in subs:
        if digest.kind in (sub.digests or []) and delivery_repo.team_matches(
            sub, digest.team_id, parents
        ):
            await delivery_repo.enqueue(
                session,
                subscription=sub,
                source_key=f"digest:{digest.id}",
                event_type=f"digest.{digest.kind}",
                payload=payload,
                now=now,
            )


async def build(
    session: AsyncSession,
    *,
    tenant: Tenant,
    team_id: str,
    team_name: str,
    kind: str,
    period: str,
    now: datetime,
    calendar: WorkCalendar,
) -> dict[str, Any]:
    """A team's digest body."""
    tz = ZoneInfo(tenant.timezone)
    today = now.astimezone(tz).date()
    parents = await team_parents(session, tenant_id=tenant.id)
    teams = set(subtree(parents, team_id))
    members = {
        r
        for r, t in (await repo.team_members(session, tenant_id=tenant.id, day=today)).items()
        if t in teams
    }
    scopes = {f"team:{t}" for t in teams} | {f"rep:{r}" for r in members}
    locale = await lifecycle.tenant_locale(session, tenant_id=tenant.id)
    names = await lifecycle.scope_names(session, tenant_id=tenant.id, scopes=sorted(scopes))
    kpi_names: dict[str, L10n] = {}
    targets: list[dict[str, Any]] = []
    for target in await repo.current_targets(session, tenant_id=tenant.id, day=today):
        if target.scope not in scopes:
            continue
        kpi = await find_kpi(session, tenant_id=tenant.id, key=target.kpi)
        if kpi is None:
            continue
        p = parse_period(target.period, fiscal_year_start_month=tenant.fiscal_year_start_month)
        result = await evaluate(
            session,
            tenant=tenant,
            kpi=kpi,
            scope=parse_scope(target.scope),
            period=p,
            as_of=now,
            calendar=calendar,
        )
        pace = result.pace
        kpi_names[target.kpi] = kpi_name(kpi, target.kpi)
        targets.append(
            {
                "target_id": target.id,
                "kpi": target.kpi,
                "kpi_name": {"zh-CN": kpi_names[target.kpi].zh, "en": kpi_names[target.kpi].en},
                "scope": target.scope,
                "scope_name": _name(names.get(target.scope, target.scope), locale),
                "period": target.period,
                "actual": fmt4(result.value.value),
                "target": result.version.target if result.version is not None else None,
                "pace": fmt4(pace.pace) if pace else None,
                "projection": fmt4(pace.projection_linear) if pace else None,
                "status": result.status,
            }
        )
    behind = [t for t in targets if t["status"] in ("behind", "at_risk")]
    alerts = [a for a in await repo.open_alerts(session, tenant_id=tenant.id) if a.scope in scopes]
    previous = await digests.latest(session, tenant_id=tenant.id, team_id=team_id, kind=kind)
    since = previous.created_at if previous is not None else None
    before = {
        str(t["target_id"]): t["status"]
        for t in (previous.body.get("targets", []) if previous else [])
    }
    moved = [
        {
            "target_id": t["target_id"],
            "scope": t["scope"],
            "kpi": t["kpi"],
            "from": before[str(t["target_id"])],
            "to": t["status"],
        }
        for t in targets
        if str(t["target_id"]) in before and before[str(t["target_id"])] != t["status"]
    ]
    opened: list[int] = []
    resolved: list[int] = []
    if since is not None:
        actions = await digests.alert_actions(
            session, tenant_id=tenant.id, scopes=scopes, after=since, until=now
        )
        for alert_id, action in actions:
            if action in ("opened", "reopened"):
                opened.append(alert_id)
            elif action == "resolved":
                resolved.append(alert_id)

    def who(t: dict[str, Any]) -> str | Msg:
        scope = str(t["scope"])
        return names.get(scope, scope)

    def what(t: dict[str, Any]) -> L10n:
        return kpi_names.get(t["kpi"]) or L10n(zh=t["kpi"], en=t["kpi"])

    def count(status: str) -> int:
        return sum(1 for t in targets if t["status"] == status)

    lines = [
        msg(
            "digest.summary.targets",
            count=len(targets),
            ahead=count("ahead"),
            on_track=count("on_track"),
            behind=count("behind"),
            at_risk=count("at_risk"),
        ),
        msg(
            "digest.summary.behind",
            items=[
                msg(
                    "digest.summary.behind_item",
                    scope=who(t),
                    kpi=what(t),
                    pace=Pct(Decimal(t["pace"])),
                )
                if t["pace"] is not None
                else msg("digest.summary.behind_item_no_pace", scope=who(t), kpi=what(t))
                for t in behind
            ],
        )
        if behind
        else msg("digest.summary.behind_none"),
        msg("digest.summary.open_alerts", count=len(alerts)),
    ]
    if since is not None:
        lines.append(
            msg(
                "digest.summary.changes",
                since=since.astimezone(tz).date(),
                moved=len(moved),
                opened=len(set(opened)),
                resolved=len(set(resolved)),
            )
        )
    team_name_or_id = team_name or team_id
    title = (
        msg("digest.title.weekly", team=team_name_or_id, period=period_label(period))
        if kind == "weekly"
        else msg("digest.title.month_end", team=team_name_or_id, period=period_label(period))
    )
    alert_names = await lifecycle.scope_names(
        session, tenant_id=tenant.id, scopes=sorted({a.scope for a in alerts})
    )
    return {
        "title": render(title, locale),
        "title_code": title.code,
        "title_params": params_json(title.params),
        "locale": locale,
        "kind": kind,
        "period": period,
        "team": team_id,
        "as_of": now.isoformat(),
        "targets": targets,
        "behind": behind,
        "open_alerts": [
            {
                "id": a.id,
                "kind": a.kind,
                "type": a.type,
                "scope": a.scope,
                "severity": a.severity,
                "status": a.status,
                "title": a.title,
                "title_code": a.message["code"] if a.message else None,
                "title_params": dict(a.message.get("params") or {}) if a.message else None,
                "scope_name": _name(alert_names.get(a.scope, a.scope), locale),
            }
            for a in alerts
        ],
        "changes": {
            "since": since.isoformat() if since is not None else None,
            "statuses": moved,
            "alerts_opened": sorted(set(opened)),
            "alerts_resolved": sorted(set(resolved)),
        },
        "summary": [render(line, locale) for line in lines],
        "summary_messages": [to_json(line) for line in lines],
    }


def _name(name: str | Msg, locale: str) -> str:
    return render(name, locale) if isinstance(name, Msg) else name
