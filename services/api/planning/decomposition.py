"""Decomposition (``POST /v1/targets/decompose``): a goal split down the org and in time.

The maths is pure (:mod:`paceline.shared.kpi.planning.decomposition`); this module gathers
what it needs (the org tree on the period's first day, the weights of each split from
history, headcount, given weights or the calendar) and, with ``preview: false``, saves
every target with its parent in the request's transaction. Its notes and errors name
KPIs, reps and teams as people read them, in the caller's language.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.planning.history import (
    History,
    additive,
    shift_years,
    tenant_today,
)
from paceline.api.planning.schemas import DecomposeIn, DecomposeOut, PlannedOut
from paceline.api.targets import repository as writes
from paceline.api.targets.names import Names, kpi_name, names_of
from paceline.api.targets.repository import as_text
from paceline.api.targets.service import check_order, out_of_order, unknown_kpi
from paceline.shared.db.context import find_kpi, tenant_calendar
from paceline.shared.db.models import Target, TargetVersion, Tenant
from paceline.shared.errors import Conflict, FieldError, InvalidInput
from paceline.shared.i18n import DEFAULT_LOCALE, Msg, msg, params_json, render
from paceline.shared.kpi.calendar import WorkCalendar
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.periods import Period
from paceline.shared.kpi.planning.common import period_name, places_for
from paceline.shared.kpi.planning.decomposition import (
    OrgNode,
    PlannedTarget,
    TimeNode,
    Values,
    decompose,
    time_tree,
)
from paceline.shared.readmodel import org
from paceline.shared.readmodel import targets as targets_repo
from paceline.shared.readmodel.evaluation import round4
from paceline.shared.readmodel.org import require_known, team_ids
from paceline.shared.readmodel.progress import kpi_value_for, parse_period_or_422
from paceline.shared.readmodel.scopes import Scope, parse_scope
from paceline.shared.web.deps import Auditor

# -- the request -------------------------------------------------------------------------


async def decompose_goal(
    session: AsyncSession,
    *,
    tenant: Tenant,
    body: DecomposeIn,
    auditor: Auditor,
    now: datetime,
    locale: str = DEFAULT_LOCALE,
) -> DecomposeOut:
    """The whole plan (its notes in ``locale``); with ``preview: false`` every target saved
    with its parent (and the audit entry ``targets.decompose`` recorded by ``auditor``,
    whose actor authors them)."""
    kpi, root, period, ttree = await _read_request(session, tenant=tenant, body=body)
    is_additive = additive(kpi)
    places = places_for(kpi, tenant.currency)
    notes: list[Msg] = []
    if not is_additive:
        notes.append(msg("planning.note.not_additive", kpi=kpi_name(kpi)))
    today = tenant_today(tenant, now)
    otree, heads = await org_tree(
        session, tenant_id=tenant.id, root=root, down_to=body.org.down_to, day=period.start
    )
    names = await names_of(
        session, tenant_id=tenant.id, scopes=list(heads), currency=tenant.currency
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
        names=names,
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
        tenant=tenant,
        body=body,
        tree=ttree,
        calendar=calendar,
        history=history,
        notes=notes,
        names=names,
    )
    plan = decompose(
        goal=_goal(body, places=places, additive=is_additive),
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
            auditor=auditor,
            now=now,
            today=today,
            names=names,
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
        notes=[render(n, locale) for n in notes],
        notes_code=[n.code for n in notes],
        notes_params=[params_json(n.params) for n in notes],
        targets=outs,
    )


async def _read_request(
    session: AsyncSession, *, tenant: Tenant, body: DecomposeIn
) -> tuple[KpiDefinition, Scope, Period, TimeNode]:
    """The request's KPI, root scope, period and time tree, or 422 (404 for an unknown scope)."""
    kpi = await find_kpi(session, tenant_id=tenant.id, key=body.kpi)
    if kpi is None:
        raise unknown_kpi(body.kpi)
    root = parse_scope(body.scope)
    await require_known(session, tenant_id=tenant.id, scope=root)
    period = parse_period_or_422(body.period, tenant)
    errors = check_order(
        direction=kpi.direction, target=body.target, baseline=body.baseline, stretch=body.stretch
    )
    if errors:
        raise InvalidInput(out_of_order(), fields=errors)
    try:
        ttree = time_tree(
            period, body.time.levels, fiscal_year_start_month=tenant.fiscal_year_start_month
        )
    except ValueError as exc:
        own = getattr(exc, "msg", None)
        reason = own if isinstance(own, Msg) else msg("planning.errors.levels_not_finer")
        raise InvalidInput(reason, fields=[FieldError("time.levels", reason)]) from None
    return kpi, root, period, ttree


def _goal(body: DecomposeIn, *, places: int, additive: bool) -> Values:
    """The goal's values, in the split's minor unit when they add up."""
    quantum = Decimal(1).scaleb(-places)

    def quantized(value: Decimal | None) -> Decimal | None:
        if value is None or not additive:
            return value
        return value.quantize(quantum)

    return Values(
        body.target.quantize(quantum) if additive else body.target,
        quantized(body.baseline),
        quantized(body.stretch),
    )


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
    notes: list[Msg],
    names: Names,
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
        used: str = method
        for c in node.children:
            if method == "even":
                raw[c.scope] = Decimal(1)
            elif method == "headcount":
                raw[c.scope] = Decimal(heads.get(c.scope, 0))
            elif method == "weights":
                if c.scope not in body.org.weights:
                    missing.append(
                        FieldError(
                            f"org.weights.{c.scope}",
                            msg("planning.errors.needs_weight", parent=names.scope(node.scope)),
                        )
                    )
                raw[c.scope] = body.org.weights.get(c.scope, Decimal(0))
            else:
                raw[c.scope] = await history_of(c.scope)
        if method == "historical_share":
            used, raw = _fill_history_gaps(
                node, raw, heads=heads, window=window, notes=notes, names=names
            )
        if method == "headcount" and not any(raw.values()):
            raw = {c.scope: Decimal(1) for c in node.children}
            notes.append(msg("planning.note.nobody_under", scope=names.scope(node.scope)))
        total = sum(raw.values(), Decimal(0))
        record[node.scope] = {
            "method": used,
            "weights": {s: as_text(v) for s, v in raw.items()},
            "shares": {s: str(round4(v / total)) if total else None for s, v in raw.items()},
        }
        for s, v in raw.items():
            out[(node.scope, s)] = v
        for c in node.children:
            await walk(c)

    await walk(tree)
    if missing:
        raise InvalidInput(msg("planning.errors.weights_missing"), fields=missing)
    return out, record


def _fill_history_gaps(
    node: OrgNode,
    raw: dict[str, Decimal],
    *,
    heads: dict[str, int],
    window: tuple[date, date],
    notes: list[Msg],
    names: Names,
) -> tuple[str, dict[str, Decimal]]:
    """Historical shares with their gaps filled: a child without history weighs like the
    average sibling with some; no history under the node: headcount, else even. Returns
    the method used and the weights; each fallback is noted."""
    known = [v for v in raw.values() if v > 0]
    if not known:
        used = "headcount"
        filled = {c.scope: Decimal(heads.get(c.scope, 0)) for c in node.children}
        if not any(filled.values()):
            used = "even"
            filled = {c.scope: Decimal(1) for c in node.children}
        notes.append(
            msg(
                "planning.note.no_history_under",
                scope=names.scope(node.scope),
                start=window[0],
                end=window[1] - timedelta(days=1),
                method=msg(f"planning.split_method.{used}"),
            )
        )
        return used, filled
    filled = dict(raw)
    if len(known) < len(raw):
        avg = sum(known, Decimal(0)) / len(known)
        new = sorted(s for s, v in raw.items() if v <= 0)
        for s in new:
            filled[s] = avg
        notes.append(
            msg(
                "planning.note.no_history_for",
                scope=names.scope(node.scope),
                children=[names.scope(c) for c in new],
            )
        )
    return "historical_share", filled


async def _time_weights(
    *,
    tenant: Tenant,
    body: DecomposeIn,
    tree: TimeNode,
    calendar: WorkCalendar,
    history: History,
    notes: list[Msg],
    names: Names,
) -> tuple[dict[tuple[str, str], Decimal], dict[str, Any]]:
    """(parent period, child period) -> weight for every split in time; and the record."""
    method = body.time.method
    out: dict[tuple[str, str], Decimal] = {}
    record: dict[str, Any] = {}
    fiscal = tenant.fiscal_year_start_month
    if method == "seasonality":
        earliest = shift_years(tree.period, body.time.history_years, fiscal).start
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
            shares, years_used = await _seasonal_shares(
                node, history=history, years=body.time.history_years, fiscal=fiscal
            )
            if years_used:
                raw = shares
            else:
                used = "working_days"
                notes.append(
                    msg(
                        "planning.note.no_seasonal_history",
                        period=period_name(node.period.key),
                        scope=names.scope(str(history.scope)),
                        years=body.time.history_years,
                    )
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


async def _seasonal_shares(
    node: TimeNode, *, history: History, years: int, fiscal: int
) -> tuple[dict[str, Decimal], list[str]]:
    """Each sub-period's share of its parent in the ``years`` years before, averaged over
    the years with data; and those years (none: no shares)."""
    shares: dict[str, list[Decimal]] = defaultdict(list)
    years_used = []
    for k in range(1, years + 1):
        parent_back = shift_years(node.period, k, fiscal)
        values = {}
        for c in node.children:
            back = shift_years(c.period, k, fiscal)
            values[c.period.key] = await history.value(back.start, back.end)
        total = sum(values.values(), Decimal(0))
        if total > 0:
            years_used.append(parent_back.key)
            for key, v in values.items():
                shares[key].append(v / total)
    if not years_used:
        return {}, []
    return {
        c.period.key: sum(shares[c.period.key], Decimal(0)) / len(years_used) for c in node.children
    }, years_used


# -- the answer and the saved targets ----------------------------------------------------


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


async def _save(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    body: DecomposeIn,
    plan: Sequence[PlannedTarget],
    outs: list[PlannedOut],
    auditor: Auditor,
    now: datetime,
    today: date,
    names: Names,
) -> None:
    """Create (or revise) every target, parents first, each with its parent's id."""
    author = auditor.actor
    existing = await _existing_targets(
        session, tenant_id=tenant.id, kpi=kpi, body=body, plan=plan, today=today, names=names
    )
    ids: dict[tuple[str, str], int] = {}
    created = revised = 0
    # Depth by depth, so each level's parents have ids.
    for level in _by_depth(plan):
        new_rows: list[tuple[int, Target]] = []
        for i in level:
            p = plan[i]
            parent_id = ids.get(p.parent) if p.parent is not None else None
            row = existing.get(p.key)
            if row is None:
                row = writes.new_target(
                    session,
                    tenant_id=tenant.id,
                    kpi=kpi.key,
                    scope=p.scope,
                    period=p.period,
                    parent_id=parent_id,
                    author=author,
                    now=now,
                )
                new_rows.append((i, row))
            else:
                row.parent_id = parent_id if parent_id is not None else row.parent_id
                _version(session, row, p, body=body, author=author, now=now)
                ids[p.key] = row.id
                outs[i].action = "revised"
                outs[i].id, outs[i].parent_id = row.id, row.parent_id
                revised += 1
        await session.flush()
        for i, row in new_rows:
            p = plan[i]
            ids[p.key] = row.id
            _version(session, row, p, body=body, author=author, now=now)
            outs[i].action = "created"
            outs[i].id, outs[i].parent_id = row.id, row.parent_id
            created += 1
        await session.flush()
    await auditor.record(
        "targets.decompose",
        target=f"target:{ids[plan[0].key]}",
        after=_audit_after(kpi, body, plan[0], created=created, revised=revised),
    )


def _audit_after(
    kpi: KpiDefinition, body: DecomposeIn, root: PlannedTarget, *, created: int, revised: int
) -> dict[str, Any]:
    """What the audit entry ``targets.decompose`` says about the plan's goal."""
    return {
        "kpi": kpi.key,
        "scope": root.scope,
        "period": root.period.key,
        "target": as_text(root.values.target),
        "baseline": as_text(root.values.baseline),
        "stretch": as_text(root.values.stretch),
        "org": body.org.model_dump(mode="json"),
        "time": body.time.model_dump(mode="json"),
        "created": created,
        "revised": revised,
        "reason": body.reason,
    }


async def _existing_targets(
    session: AsyncSession,
    *,
    tenant_id: str,
    kpi: KpiDefinition,
    body: DecomposeIn,
    plan: Sequence[PlannedTarget],
    today: date,
    names: Names,
) -> dict[tuple[str, str], Target]:
    """The plan's targets that exist, locked; 409 unless ``on_existing: revise``, and 422
    without a reason when one's period has started."""
    periods = sorted({p.period.key for p in plan})
    existing = {
        (t.scope, t.period): t
        for t in await targets_repo.of_kpi_periods(
            session, tenant_id=tenant_id, kpi=kpi.key, periods=periods, lock=True
        )
        if (t.scope, t.period) in {p.key for p in plan}
    }
    if existing and body.on_existing == "error":
        shown = [
            msg("planning.scope_period", scope=names.scope(s), period=period_name(p))
            for s, p in sorted(existing)[:5]
        ]
        raise Conflict(
            msg(
                "planning.errors.targets_exist_more"
                if len(existing) > 5
                else "planning.errors.targets_exist",
                count=len(existing),
                shown=shown,
            )
        )
    started = [k for k, t in existing.items() if t.start <= today]
    if started and not body.reason:
        raise InvalidInput(
            msg("planning.errors.reason_needed"),
            fields=[
                FieldError(
                    "reason",
                    msg("planning.errors.period_started", period=period_name(started[0][1])),
                )
            ],
        )
    return existing


def _by_depth(plan: Sequence[PlannedTarget]) -> list[list[int]]:
    """Indexes of the plan's targets, level by level from the goal (depth 0)."""
    depth: dict[tuple[str, str], int] = {}
    for p in plan:
        depth[p.key] = 0 if p.parent is None else depth[p.parent] + 1
    levels: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(plan):
        levels[depth[p.key]].append(i)
    return [levels[level] for level in sorted(levels)]


def _version(
    session: AsyncSession,
    row: Target,
    p: PlannedTarget,
    *,
    body: DecomposeIn,
    author: str,
    now: datetime,
) -> TargetVersion:
    """The plan's values as the target's next version."""
    values = writes.TargetValues(
        target=p.values.target, baseline=p.values.baseline, stretch=p.values.stretch
    )
    return writes.add_version(
        session, row=row, values=values, author=author, reason=body.reason, now=now
    )
