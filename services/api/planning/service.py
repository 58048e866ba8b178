"""Planning: decompose a goal, suggest targets from history, check a plan (SMART).

The maths is pure (:mod:`paceline.shared.kpi.planning`); this module gathers what it
needs (the org tree at the period's start, history per scope and period, the calendar)
and saves a decomposition as targets, each with its parent, in the request's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.planning import repository as repo
from paceline.api.planning.history import History, additive, places_for
from paceline.api.planning.schemas import (
    DecomposeIn,
    DecomposeOut,
    FindingOut,
    PlanCheckOut,
    PlanIn,
    PlannedOut,
    SuggestionOut,
)
from paceline.api.templates.service import find_template
from paceline.shared.db import audit
from paceline.shared.db.context import find_kpi, tenant_calendar
from paceline.shared.db.models import Target, TargetVersion, Tenant
from paceline.shared.errors import Conflict, FieldError, InvalidInput
from paceline.shared.kpi.calendar import WorkCalendar
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.periods import Period, parse_period, period_of
from paceline.shared.kpi.planning import (
    DEFAULT_CAP,
    DEFAULT_MARGIN,
    DEFAULT_UPLIFT,
    OrgNode,
    PlanFacts,
    PlanKpi,
    PlannedTarget,
    PlanTarget,
    Suggestion,
    TimeNode,
    Values,
    check_plan,
    decompose,
    month_index,
    month_start,
    seasonal_model,
    suggest_additive,
    suggest_ratio,
    time_tree,
)
from paceline.shared.readmodel import org
from paceline.shared.readmodel import targets as targets_repo
from paceline.shared.readmodel.evaluation import round4
from paceline.shared.readmodel.org import require_known, team_ids
from paceline.shared.readmodel.progress import kpi_or_404, kpi_value_for, parse_period_or_422
from paceline.shared.readmodel.scopes import Scope, parse_scope


def _today(tenant: Tenant, now: datetime) -> date:
    return now.astimezone(ZoneInfo(tenant.timezone)).date()


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


# -- the org tree ------------------------------------------------------------------------


async def org_tree(
    session: AsyncSession, *, tenant_id: str, root: Scope, down_to: str, day: date
) -> tuple[OrgNode, dict[str, int]]:
    """The scopes under ``root`` as they stand on ``day`` (active teams, reps by membership),
    and each scope's headcount (reps in it and its sub-teams)."""
    if root.kind == "rep" or down_to == "self":
        return OrgNode(str(root)), {str(root): 1 if root.kind == "rep" else 0}
    teams = await org.active_team_parents(session, tenant_id=tenant_id)
    children: dict[str | None, list[str]] = defaultdict(list)
    for tid, parent in sorted(teams.items()):
        children[parent if parent in teams else None].append(tid)
    reps_of: dict[str | None, list[str]] = defaultdict(list)
    # Reps: nodes when the split goes down to them, headcounts in any case.
    active = await org.active_rep_ids(session, tenant_id=tenant_id)
    ms = await org.memberships(session, tenant_id=tenant_id)
    team_of: dict[str, str] = {}
    for m in ms:
        if m.rep_id not in active:
            continue
        if m.valid_from <= day and (m.valid_to is None or day < m.valid_to):
            team_of[m.rep_id] = m.team_id
        elif m.valid_from > day and m.rep_id not in team_of:
            team_of[m.rep_id] = m.team_id  # joins later: planned with that team
    for rep in sorted(active):
        team = team_of.get(rep)
        reps_of[team if team in teams else None].append(rep)

    heads: dict[str, int] = {}

    def node(team: str | None) -> OrgNode:
        scope = "company" if team is None else f"team:{team}"
        kids = [node(t) for t in children.get(team, [])]
        reps = [OrgNode(f"rep:{r}") for r in reps_of.get(team, [])]
        heads[scope] = sum(heads[k.scope] for k in kids) + len(reps)
        for r in reps:
            heads[r.scope] = 1
        if down_to == "rep":
            kids += reps
        return OrgNode(scope, tuple(kids))

    return node(root.id if root.kind == "team" else None), heads


# -- weights -----------------------------------------------------------------------------


async def _org_weights(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    body: DecomposeIn,
    tree: OrgNode,
    calendar: WorkCalendar,
    window: tuple[date, date],
    heads: dict[str, int],
    notes: list[str],
) -> tuple[dict[tuple[str, str], Decimal], dict[str, Any]]:
    """(parent scope, child scope) -> weight for every split of the tree; and the record."""
    method = body.org.method
    out: dict[tuple[str, str], Decimal] = {}
    record: dict[str, Any] = {}
    missing: list[FieldError] = []

    async def history_of(scope_text: str) -> Decimal:
        scope = parse_scope(scope_text)
        v = await kpi_value_for(
            session,
            tenant=tenant,
            kpi=kpi,
            scope=scope,
            start=window[0],
            end=window[1],
            calendar=calendar,
        )
        return v.value or Decimal(0)

    async def walk(node: OrgNode) -> None:
        if not node.children:
            return
        raw: dict[str, Decimal] = {}
        used = method
        for c in node.children:
            if method == "even":
                raw[c.scope] = Decimal(1)
            elif method == "headcount":
                raw[c.scope] = Decimal(heads.get(c.scope, 0))
            elif method == "weights":
                if c.scope not in body.org.weights:
                    missing.append(
                        FieldError(f"org.weights.{c.scope}", f"needs a weight ({node.scope})")
                    )
                raw[c.scope] = body.org.weights.get(c.scope, Decimal(0))
            else:
                raw[c.scope] = await history_of(c.scope)
        if method == "historical_share":
            known = [v for v in raw.values() if v > 0]
            if not known:
                used = "headcount"
                raw = {c.scope: Decimal(heads.get(c.scope, 0)) for c in node.children}
                if not any(raw.values()):
                    used = "even"
                    raw = {c.scope: Decimal(1) for c in node.children}
                notes.append(
                    f"{node.scope}: no history under it in {window[0]}..{window[1]}: "
                    f"split by {used}"
                )
            elif len(known) < len(raw):
                avg = sum(known, Decimal(0)) / len(known)
                new = sorted(s for s, v in raw.items() if v <= 0)
                for s in new:
                    raw[s] = avg
                notes.append(
                    f"{node.scope}: no history for {', '.join(new)}: planned like the average "
                    "of their siblings"
                )
        if method == "headcount" and not any(raw.values()):
            raw = {c.scope: Decimal(1) for c in node.children}
            notes.append(f"{node.scope}: nobody under it: split evenly")
        total = sum(raw.values(), Decimal(0))
        record[node.scope] = {
            "method": used,
            "weights": {s: _text(v) for s, v in raw.items()},
            "shares": {s: str(round4(v / total)) if total else None for s, v in raw.items()},
        }
        for s, v in raw.items():
            out[(node.scope, s)] = v
        for c in node.children:
            await walk(c)

    await walk(tree)
    if missing:
        raise InvalidInput("every child needs a weight", fields=missing)
    return out, record


def _shift_years(period: Period, years: int, fiscal_start: int) -> Period:
    """The same period ``years`` earlier (weeks: 52 weeks per year, same weekdays)."""
    if period.kind == "week":
        start = period.start - timedelta(weeks=52 * years)
        iso = start.isocalendar()
        return parse_period(f"{iso.year}-W{iso.week:02d}")
    key = period.key
    shifted = f"{int(key[:4]) - years}{key[4:]}"
    return parse_period(shifted, fiscal_year_start_month=fiscal_start)


async def _time_weights(
    *,
    tenant: Tenant,
    body: DecomposeIn,
    tree: TimeNode,
    calendar: WorkCalendar,
    history: History,
    notes: list[str],
) -> tuple[dict[tuple[str, str], Decimal], dict[str, Any]]:
    """(parent period, child period) -> weight for every split in time; and the record."""
    method = body.time.method
    out: dict[tuple[str, str], Decimal] = {}
    record: dict[str, Any] = {}
    fiscal = tenant.fiscal_year_start_month
    if method == "seasonality":
        earliest = _shift_years(tree.period, body.time.history_years, fiscal).start
        await history.load(earliest - timedelta(days=7), tree.period.start)

    async def walk(node: TimeNode) -> None:
        if not node.children:
            return
        used = method
        raw: dict[str, Decimal] = {}
        for c in node.children:
            if method == "even":
                raw[c.period.key] = Decimal(1)
            else:
                raw[c.period.key] = Decimal(calendar.working_days(c.period.start, c.period.end))
        if method == "seasonality":
            shares: dict[str, list[Decimal]] = defaultdict(list)
            years_used = []
            for k in range(1, body.time.history_years + 1):
                parent_back = _shift_years(node.period, k, fiscal)
                values = {}
                for c in node.children:
                    back = _shift_years(c.period, k, fiscal)
                    values[c.period.key] = await history.value(back.start, back.end)
                total = sum(values.values(), Decimal(0))
                if total > 0:
                    years_used.append(parent_back.key)
                    for key, v in values.items():
                        shares[key].append(v / total)
            if years_used:
                raw = {
                    c.period.key: sum(shares[c.period.key], Decimal(0)) / len(years_used)
                    for c in node.children
                }
            else:
                used = "working_days"
                notes.append(
                    f"{node.period.key}: no history of {history.scope} in the "
                    f"{body.time.history_years} years before: split by working days"
                )
            record[node.period.key] = {"method": used, "history": years_used}
        else:
            record[node.period.key] = {"method": used}
        total = sum(raw.values(), Decimal(0))
        record[node.period.key]["shares"] = {
            k: str(round4(v / total)) if total else None for k, v in raw.items()
        }
        for key, v in raw.items():
            out[(node.period.key, key)] = v
        for c in node.children:
            await walk(c)

    await walk(tree)
    return out, record


# -- decomposition -----------------------------------------------------------------------


def _planned_out(p: PlannedTarget) -> PlannedOut:
    return PlannedOut(
        scope=p.scope,
        period=p.period.key,
        period_kind=p.period.kind,
        start=p.period.start,
        end=p.period.end,
        target=p.values.target,
        baseline=p.values.baseline,
        stretch=p.values.stretch,
        parent=None if p.parent is None else {"scope": p.parent[0], "period": p.parent[1]},
        split=p.split,
        share=None
        if p.share is None
        else (Decimal(p.share.numerator) / Decimal(p.share.denominator)).quantize(
            Decimal("0.000001")
        ),
    )


async def decompose_goal(
    session: AsyncSession, *, tenant: Tenant, body: DecomposeIn, author: str, now: datetime
) -> DecomposeOut:
    """The whole plan; with ``preview: false`` every target saved with its parent."""
    from paceline.api.targets.service import check_order

    kpi = await find_kpi(session, tenant_id=tenant.id, key=body.kpi)
    if kpi is None:
        raise InvalidInput("unknown KPI", fields=[FieldError("kpi", f"unknown KPI {body.kpi!r}")])
    root = parse_scope(body.scope)
    await require_known(session, tenant_id=tenant.id, scope=root)
    period = parse_period_or_422(body.period, tenant)
    errors = check_order(
        direction=kpi.direction, target=body.target, baseline=body.baseline, stretch=body.stretch
    )
    if errors:
        raise InvalidInput("baseline, target and stretch are out of order", fields=errors)
    try:
        ttree = time_tree(
            period, body.time.levels, fiscal_year_start_month=tenant.fiscal_year_start_month
        )
    except ValueError as exc:
        raise InvalidInput(str(exc), fields=[FieldError("time.levels", str(exc))]) from None
    is_additive = additive(kpi)
    places = places_for(kpi, tenant.currency)
    quantum = Decimal(1).scaleb(-places)
    goal = Values(
        body.target.quantize(quantum) if is_additive else body.target,
        None
        if body.baseline is None
        else (body.baseline.quantize(quantum) if is_additive else body.baseline),
        None
        if body.stretch is None
        else (body.stretch.quantize(quantum) if is_additive else body.stretch),
    )
    notes: list[str] = []
    if not is_additive:
        notes.append(
            f"{kpi.key} is a ratio or an average: it does not add up, so every scope and "
            "period gets the goal's value"
        )
    today = _today(tenant, now)
    otree, heads = await org_tree(
        session, tenant_id=tenant.id, root=root, down_to=body.org.down_to, day=period.start
    )
    calendar = await tenant_calendar(session, tenant=tenant)
    window_end = body.org.history_to or min(period.start, today)
    window_start = body.org.history_from or window_end.replace(year=window_end.year - 1)
    org_w, org_record = await _org_weights(
        session,
        tenant=tenant,
        kpi=kpi,
        body=body,
        tree=otree,
        calendar=calendar,
        window=(window_start, window_end),
        heads=heads,
        notes=notes,
    )
    history = History(
        session,
        tenant=tenant,
        kpi=kpi,
        scope=root,
        teams=await team_ids(session, tenant_id=tenant.id, scope=root),
        calendar=calendar,
    )
    time_w, time_record = await _time_weights(
        tenant=tenant, body=body, tree=ttree, calendar=calendar, history=history, notes=notes
    )
    plan = decompose(
        goal=goal,
        org=otree,
        time=ttree,
        org_weight=lambda parent, child: org_w[(parent.scope, child.scope)],
        time_weight=lambda parent, child: time_w[(parent.period.key, child.period.key)],
        places=places,
        additive=is_additive,
        direction=kpi.direction,
    )
    outs = [_planned_out(p) for p in plan]
    if not body.preview:
        await _save(
            session,
            tenant=tenant,
            kpi=kpi,
            body=body,
            plan=plan,
            outs=outs,
            author=author,
            now=now,
            today=today,
        )
    return DecomposeOut(
        kpi=kpi.key,
        unit=kpi.unit,
        currency=tenant.currency if kpi.unit == "currency" else None,
        places=places,
        additive=is_additive,
        preview=body.preview,
        org_method=body.org.method,
        time_method=body.time.method,
        weights={
            "org": org_record,
            "org_history": {"from": window_start.isoformat(), "to": window_end.isoformat()}
            if body.org.method == "historical_share"
            else None,
            "time": time_record,
        },
        notes=notes,
        targets=outs,
    )


async def _save(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    body: DecomposeIn,
    plan: Sequence[PlannedTarget],
    outs: list[PlannedOut],
    author: str,
    now: datetime,
    today: date,
) -> None:
    """Create (or revise) every target, parents first, each with its parent's id."""
    periods = sorted({p.period.key for p in plan})
    existing = {
        (t.scope, t.period): t
        for t in await targets_repo.of_kpi_periods(
            session, tenant_id=tenant.id, kpi=kpi.key, periods=periods, lock=True
        )
        if (t.scope, t.period) in {p.key for p in plan}
    }
    if existing and body.on_existing == "error":
        shown = ", ".join(f"{s} {p}" for s, p in sorted(existing)[:5])
        raise Conflict(
            f"{len(existing)} targets of this plan exist ({shown}{'…' if len(existing) > 5 else ''}"
            "); send on_existing: revise to make new versions of them"
        )
    started = [k for k, t in existing.items() if t.start <= today]
    if started and not body.reason:
        raise InvalidInput(
            "some periods have started: say why their targets change",
            fields=[FieldError("reason", f"is required: {started[0][1]} has started")],
        )
    ids: dict[tuple[str, str], int] = {}
    created = revised = 0
    # Depth by depth, so each level's parents have ids.
    depth: dict[tuple[str, str], int] = {}
    for p in plan:
        depth[p.key] = 0 if p.parent is None else depth[p.parent] + 1
    levels: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(plan):
        levels[depth[p.key]].append(i)
    for level in sorted(levels):
        new_rows: list[tuple[int, Target]] = []
        for i in levels[level]:
            p = plan[i]
            parent_id = ids.get(p.parent) if p.parent is not None else None
            row = existing.get(p.key)
            if row is None:
                row = Target(
                    tenant_id=tenant.id,
                    kpi=kpi.key,
                    scope=p.scope,
                    period=p.period.key,
                    period_kind=p.period.kind,
                    start=p.period.start,
                    end=p.period.end,
                    parent_id=parent_id,
                    current_version=1,
                    created_at=now,
                    created_by=author,
                )
                session.add(row)
                new_rows.append((i, row))
            else:
                row.parent_id = parent_id if parent_id is not None else row.parent_id
                row.current_version += 1
                session.add(
                    TargetVersion(
                        target_id=row.id,
                        version=row.current_version,
                        tenant_id=tenant.id,
                        target=_text(p.values.target),
                        baseline=_text(p.values.baseline),
                        stretch=_text(p.values.stretch),
                        recorded_at=now,
                        author=author,
                        reason=body.reason,
                    )
                )
                ids[p.key] = row.id
                outs[i].action = "revised"
                outs[i].id, outs[i].parent_id = row.id, row.parent_id
                revised += 1
        await session.flush()
        for i, row in new_rows:
            p = plan[i]
            ids[p.key] = row.id
            session.add(
                TargetVersion(
                    target_id=row.id,
                    version=1,
                    tenant_id=tenant.id,
                    target=_text(p.values.target),
                    baseline=_text(p.values.baseline),
                    stretch=_text(p.values.stretch),
                    recorded_at=now,
                    author=author,
                    reason=body.reason,
                )
            )
            outs[i].action = "created"
            outs[i].id, outs[i].parent_id = row.id, row.parent_id
            created += 1
        await session.flush()
    root = plan[0]
    await audit.record(
        session,
        tenant_id=tenant.id,
        actor=author,
        action="targets.decompose",
        target=f"target:{ids[root.key]}",
        before=None,
        after={
            "kpi": kpi.key,
            "scope": root.scope,
            "period": root.period.key,
            "target": _text(root.values.target),
            "baseline": _text(root.values.baseline),
            "stretch": _text(root.values.stretch),
            "org": body.org.model_dump(mode="json"),
            "time": body.time.model_dump(mode="json"),
            "created": created,
            "revised": revised,
            "reason": body.reason,
        },
        at=now,
    )


# -- suggestions -------------------------------------------------------------------------


async def suggest_for(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    scope: Scope,
    period: Period,
    growth: Decimal | None,
    cap: Decimal,
    margin: Decimal,
    uplift: Decimal,
    today: date,
    calendar: WorkCalendar,
    history: History | None = None,
) -> tuple[Suggestion, int]:
    """The suggestion for one KPI, scope and period; and the history's cutoff month."""
    teams = await team_ids(session, tenant_id=tenant.id, scope=scope)
    history = history or History(
        session, tenant=tenant, kpi=kpi, scope=scope, teams=teams, calendar=calendar
    )
    cutoff = min(month_index(today), month_index(period.start))
    if not additive(kpi):
        trailing = await kpi_value_for(
            session,
            tenant=tenant,
            kpi=kpi,
            scope=scope,
            start=month_start(cutoff - 12),
            end=month_start(cutoff),
            calendar=calendar,
            teams=teams,
        )
        back = _shift_years(period, 1, tenant.fiscal_year_start_month)
        last_year = await kpi_value_for(
            session,
            tenant=tenant,
            kpi=kpi,
            scope=scope,
            start=back.start,
            end=back.end,
            calendar=calendar,
            teams=teams,
        )
        return (
            suggest_ratio(
                trailing=trailing.value,
                trailing_sample=trailing.sample,
                last_year=last_year.value,
                growth=growth,
                direction=kpi.direction,
                unit=kpi.unit,
                cap=cap,
                uplift=uplift,
            ),
            cutoff,
        )
    monthly = await history.monthly(cutoff=cutoff)
    week_share = None
    if period.kind == "week":
        month = period_of(period.start + timedelta(days=3), "month")
        total = calendar.working_days(month.start, month.end)
        mine = calendar.working_days(period.start, period.end)
        week_share = Decimal(mine) / Decimal(total) if total else Decimal(1) / 4
    return (
        suggest_additive(
            history=monthly,
            cutoff=cutoff,
            period=period,
            week_share=week_share,
            growth=growth,
            direction=kpi.direction,
            places=places_for(kpi, tenant.currency),
            cap=cap,
            margin=margin,
            uplift=uplift,
        ),
        cutoff,
    )


async def suggestions(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi_key: str,
    scope_text: str,
    period_key: str,
    growth: Decimal | None,
    cap: Decimal | None,
    margin: Decimal | None,
    uplift: Decimal | None,
    now: datetime,
) -> SuggestionOut:
    """Baseline, target and stretch from history, with the reasoning and flags."""
    kpi = await kpi_or_404(session, tenant.id, kpi_key)
    scope = parse_scope(scope_text)
    await require_known(session, tenant_id=tenant.id, scope=scope)
    period = parse_period_or_422(period_key, tenant)
    calendar = await tenant_calendar(session, tenant=tenant)
    s, _cutoff = await suggest_for(
        session,
        tenant=tenant,
        kpi=kpi,
        scope=scope,
        period=period,
        growth=growth,
        cap=cap if cap is not None else DEFAULT_CAP,
        margin=margin if margin is not None else DEFAULT_MARGIN,
        uplift=uplift if uplift is not None else DEFAULT_UPLIFT,
        today=_today(tenant, now),
        calendar=calendar,
    )
    return SuggestionOut(
        kpi=kpi.key,
        scope=str(scope),
        period=period.key,
        unit=kpi.unit,
        direction=kpi.direction,
        baseline=s.baseline,
        target=s.target,
        stretch=s.stretch,
        growth=growth,
        reasoning=s.reasoning,
        steps=s.steps,
        flags=[{"code": f.code, "message": f.message} for f in s.flags],
    )


# -- SMART check -------------------------------------------------------------------------


async def _recent_events(
    session: AsyncSession,
    *,
    tenant_id: str,
    kpi: KpiDefinition,
    scope: Scope,
    since: datetime,
) -> bool:
    """Whether events the KPI reads arrived for the scope since ``since``."""
    types = kpi.formula.event_types
    teams = await team_ids(session, tenant_id=tenant_id, scope=scope)
    return await repo.events_since(
        session,
        tenant_id=tenant_id,
        since=since,
        types=None if "any" in types else types,
        rep_id=scope.id if scope.kind == "rep" else None,
        team_ids=list(teams or []) if scope.kind == "team" else None,
    )


async def check(
    session: AsyncSession, *, tenant: Tenant, body: PlanIn, now: datetime
) -> PlanCheckOut:
    """Findings of the SMART rules and the pitfalls for a plan."""
    items: list[tuple[str, Decimal]] = []
    if body.items is not None:
        items = [(i.kpi, i.weight) for i in body.items]
    elif body.template is not None:
        template = await find_template(session, tenant_id=tenant.id, key=body.template)
        if template is None:
            raise InvalidInput(
                "unknown template",
                fields=[FieldError("template", f"no template {body.template!r}")],
            )
        items = [(i.kpi, i.weight) for i in template.items]
    keys = list(dict.fromkeys([k for k, _w in items] + [t.kpi for t in body.targets]))
    kpis: dict[str, PlanKpi] = {}
    defs: dict[str, KpiDefinition] = {}
    for key in keys:
        found = await find_kpi(session, tenant_id=tenant.id, key=key)
        if found is None:
            kpis[key] = PlanKpi(key, known=False, category=None)
        else:
            defs[key] = found
            kpis[key] = PlanKpi(key, True, found.category, tuple(sorted(found.formula.event_types)))
    today = _today(tenant, now)
    since = now - timedelta(days=body.lookback_days)
    calendar = await tenant_calendar(session, tenant=tenant)
    targets: list[PlanTarget] = []
    for index, t in enumerate(body.targets):
        scope = parse_scope(t.scope or body.scope, field=f"targets[{index}].scope")
        await require_known(session, tenant_id=tenant.id, scope=scope)
        period_text = t.period or body.period
        period: Period | None = None
        if period_text:
            try:
                period = parse_period(
                    period_text, fiscal_year_start_month=tenant.fiscal_year_start_month
                )
            except ValueError:
                period = None
        has_parent = False
        if t.parent_id is not None:
            has_parent = (
                await targets_repo.get(session, tenant_id=tenant.id, target_id=t.parent_id)
            ) is not None
        elif period is not None:
            stored = await targets_repo.find(
                session, tenant_id=tenant.id, kpi=t.kpi, scope=str(scope), period=period.key
            )
            has_parent = stored is not None and stored.parent_id is not None
        if scope.kind == "company" and period is not None and period.kind == "year":
            has_parent = True  # the company's yearly goal is the root of the plan
        kpi = defs.get(t.kpi)
        recent = None
        required = history_growth = None
        if kpi is not None:
            recent = await _recent_events(
                session, tenant_id=tenant.id, kpi=kpi, scope=scope, since=since
            )
            if period is not None and period.end > today:
                required, history_growth = await _required_growth(
                    session,
                    tenant=tenant,
                    kpi=kpi,
                    scope=scope,
                    period=period,
                    target=t.target,
                    today=today,
                    calendar=calendar,
                )
        targets.append(
            PlanTarget(
                index=index,
                kpi=t.kpi,
                scope=str(scope),
                period=period_text,
                period_valid=period is not None,
                period_ended=period is not None and period.end <= today,
                value=t.target,
                has_parent=has_parent,
                recent_events=recent,
                required_growth=required,
                history_growth=history_growth,
            )
        )
    findings = check_plan(
        PlanFacts(
            items=tuple(items),
            kpis=kpis,
            targets=tuple(targets),
            lookback_days=body.lookback_days,
            margin=body.margin,
        )
    )
    return PlanCheckOut(
        ok=not any(f.severity == "error" for f in findings),
        findings=[
            FindingOut(
                rule=f.rule,
                severity=f.severity,
                message=f.message,
                fix=f.fix,
                kpi=f.kpi,
                target_index=f.target_index,
            )
            for f in findings
        ],
        checked={
            "template_items": [{"kpi": k, "weight": str(w)} for k, w in items],
            "targets": len(body.targets),
            "lookback_days": body.lookback_days,
            "margin": str(body.margin),
            "rules": [
                "not_specific",
                "not_measurable",
                "not_achievable",
                "not_relevant",
                "not_time_bound",
                "too_many_core_kpis",
                "weights_not_100",
                "result_only",
                "process_only",
                "duplicated_kpi",
            ],
        },
    )


async def _required_growth(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    scope: Scope,
    period: Period,
    target: Decimal,
    today: date,
    calendar: WorkCalendar,
) -> tuple[Decimal | None, Decimal | None]:
    """Growth the target needs over the same period last year, and history's trend growth."""
    teams = await team_ids(session, tenant_id=tenant.id, scope=scope)
    history = History(session, tenant=tenant, kpi=kpi, scope=scope, teams=teams, calendar=calendar)
    if not additive(kpi):
        back = _shift_years(period, 1, tenant.fiscal_year_start_month)
        basis = await history.value(back.start, back.end)
        if basis <= 0:
            return None, None
        ratio = basis / target if kpi.direction == "lower" and target > 0 else target / basis
        return ratio - 1, None
    cutoff = min(month_index(today), month_index(period.start))
    monthly = await history.monthly(cutoff=cutoff)
    model = seasonal_model(monthly, cutoff=cutoff)
    if model is None:
        return None, None
    back = _shift_years(period, 1, tenant.fiscal_year_start_month)
    basis = await history.value(back.start, back.end)
    if basis <= 0:
        return None, model.growth
    if kpi.direction == "lower":
        return (basis / target - 1 if target > 0 else None), model.growth
    return target / basis - 1, model.growth
