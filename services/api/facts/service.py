"""Facts for BI (grouped, paginated, JSON or CSV) and drill-down to the records behind them.

Every number Paceline shows can be taken apart: :func:`drilldown` lists the records
(their latest versions) whose contributions make up a KPI for a scope and a span of days,
with each record's share and the event that holds its current state.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.facts import repository as repo
from paceline.shared.db.context import tenant_context
from paceline.shared.db.models import Record, Tenant
from paceline.shared.errors import FieldError, InvalidInput
from paceline.shared.events import CanonicalEvent
from paceline.shared.i18n import msg
from paceline.shared.kpi.calendar import WorkCalendar
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.records import (
    Contribution,
    RecordState,
    TenantContext,
    contributions,
    contributions_from_json,
    fold,
)
from paceline.shared.kpi.values import MeasureTotal, kpi_value
from paceline.shared.money import from_units
from paceline.shared.readmodel import rollups as progress_repo
from paceline.shared.readmodel.evaluation import fmt4, measure_plan
from paceline.shared.readmodel.org import team_ids
from paceline.shared.readmodel.scopes import Scope

GROUPS = ("team", "rep", "day")
COLUMNS = ("kpi", "team", "rep_id", "day", "value", "numerator", "denominator", "sample")


def encode_cursor(values: Sequence[Any]) -> str:
    """An opaque cursor for a keyset position."""
    raw = orjson.dumps([v.isoformat() if isinstance(v, date) else v for v in values])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, kinds: Sequence[str]) -> list[Any]:
    """A cursor back to key values (dates for day keys); 422 if it is not ours."""
    try:
        padded = text + "=" * (-len(text) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError("shape")
        return [
            date.fromisoformat(v) if k in {"day", "date"} else v
            for v, k in zip(values, kinds, strict=True)
        ]
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise InvalidInput(
            msg("facts.bad_cursor"), fields=[FieldError("cursor", msg("facts.use_next_cursor"))]
        ) from None


def parse_group_by(text: str) -> list[str]:
    """``rep,day`` -> ordered group keys; 422 for unknown ones."""
    wanted = [g.strip() for g in text.split(",") if g.strip()]
    bad = [g for g in wanted if g not in GROUPS]
    if bad:
        raise InvalidInput(
            msg("facts.bad_group_by"),
            fields=[FieldError("group_by", msg("facts.unknown_groups", groups=", ".join(bad)))],
        )
    return [g for g in GROUPS if g in wanted]


async def export_facts(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    scope: Scope,
    start: date,
    end: date,
    group_by: list[str],
    cursor: str | None,
    limit: int,
    calendar: WorkCalendar,
    known: datetime | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Rows of the KPI per group (as known at ``known``, or now), and the next cursor."""
    teams = await team_ids(session, tenant_id=tenant.id, scope=scope)
    reps = [scope.id] if scope.kind == "rep" and scope.id is not None else None
    after = decode_cursor(cursor, group_by) if cursor else None
    keys = (
        await repo.group_keys(
            session,
            tenant_id=tenant.id,
            kpi=kpi.key,
            start=start,
            end=end,
            group_by=group_by,
            rep_ids=reps,
            team_ids=teams,
            after=after,
            limit=limit + 1,
            known=known,
        )
        if group_by
        else [()]
    )
    more = len(keys) > limit
    keys = keys[:limit]
    if not keys:
        return [], None
    rows = await rows_of_keys(
        session,
        tenant=tenant,
        kpi=kpi,
        scope=scope,
        teams=teams,
        reps=reps,
        start=start,
        end=end,
        group_by=group_by,
        keys=keys,
        calendar=calendar,
        known=known,
    )
    return rows, encode_cursor(keys[-1]) if more and group_by else None


async def rows_of_keys(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    scope: Scope,
    teams: Sequence[str] | None,
    reps: Sequence[str] | None,
    start: date,
    end: date,
    group_by: list[str],
    keys: Sequence[tuple[Any, ...]],
    calendar: WorkCalendar,
    known: datetime | None = None,
) -> list[dict[str, Any]]:
    """The rows of some group keys (in key order, as :func:`paceline.api.facts.repository.
    group_keys` gives them) of a KPI over [start, end), restricted to the reps and teams."""
    if not keys:
        return []
    plan = measure_plan(kpi)
    distinct, pairs = plan.distinct_measures, plan.pair_measures
    values = await repo.values_in_range(
        session,
        tenant_id=tenant.id,
        kpi=kpi.key,
        start=start,
        end=end,
        group_by=group_by,
        rep_ids=reps,
        team_ids=teams,
        first=keys[0] if group_by else None,
        last=keys[-1] if group_by else None,
        distinct_measures=distinct,
        pair_measures=pairs,
        pair_days=calendar.working_day_list(start, end) if pairs else None,
        known=known,
    )
    spans: list[tuple[str | None, str, date, date]] = []
    if plan.working_day_share:
        spans = await _scope_spans(
            session,
            tenant=tenant,
            kpi=kpi,
            scope=scope,
            teams=teams,
            start=start,
            end=end,
            by_team="team" in group_by,
            known=known,
        )
    rows = []
    for key in keys:
        entry = values.get(tuple(key), {})
        totals = {
            i: MeasureTotal(
                units=entry.get(f"m{i}_value", 0),
                records=entry.get(f"m{i}_n", 0),
                members=entry.get(f"m{i}_members", 0),
            )
            for i in range(len(kpi.formula.measures))
        }
        named = dict(zip(group_by, key, strict=True))
        rep_days = None
        if plan.working_day_share:
            rep_days = _rep_working_days(spans, named, calendar)
        value = kpi_value(kpi.formula, totals, rep_working_days=rep_days)
        day_value = named.get("day")
        rows.append(
            {
                "kpi": kpi.key,
                **({"team": named["team"] or None} if "team" in named else {}),
                **({"rep_id": named["rep"]} if "rep" in named else {}),
                **(
                    {"day": day_value.isoformat() if isinstance(day_value, date) else day_value}
                    if "day" in named
                    else {}
                ),
                "value": fmt4(value.value),
                "numerator": fmt4(value.numerator),
                "denominator": fmt4(value.denominator),
                "sample": value.sample,
            }
        )
    return rows


async def _scope_spans(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    scope: Scope,
    teams: Sequence[str] | None,
    start: date,
    end: date,
    by_team: bool,
    known: datetime | None = None,
) -> list[tuple[str | None, str, date, date]]:
    """(team or None, rep, from, to): who was in scope when, for working-day shares."""
    if scope.kind == "rep" and scope.id is not None:
        return [(None, scope.id, start, end)]
    if by_team:
        memberships = (
            await repo.memberships_of(session, tenant_id=tenant.id, team_ids=teams)
            if teams is not None
            else await repo.all_memberships(session, tenant_id=tenant.id)
        )
        out: list[tuple[str | None, str, date, date]] = []
        for m in memberships:
            lo = max(start, m.valid_from)
            hi = min(end, m.valid_to) if m.valid_to is not None else end
            if lo < hi:
                out.append((m.team_id, m.rep_id, lo, hi))
        return out
    spans = await progress_repo.reps_in_scope(
        session,
        tenant_id=tenant.id,
        start=start,
        end=end,
        team_ids=teams,
        kpi=kpi.key,
        known=known,
    )
    return [(None, rep, lo, hi) for rep, lo, hi in spans]


def _rep_working_days(
    spans: Sequence[tuple[str | None, str, date, date]],
    named: dict[str, Any],
    calendar: WorkCalendar,
) -> int | None:
    """The working days reps spent in a group: the denominator of a working-day share."""
    if "team" in named and not named["team"]:
        return None  # facts of reps in no team: no membership to count days from
    day = named.get("day")
    total = 0
    for team, rep, lo, hi in spans:
        if "team" in named and team != named["team"]:
            continue
        if "rep" in named and rep != named["rep"]:
            continue
        if isinstance(day, date):
            total += int(lo <= day < hi and calendar.is_working_day(day))
        else:
            total += calendar.working_days(lo, hi)
    return total


@dataclass(frozen=True, slots=True)
class _View:
    """A record as a drill-down shows it: now, or as known at a moment."""

    type: str
    record_id: str
    rep_id: str
    version_rank: str
    event_pk: int
    contributions: list[Contribution]

    @classmethod
    def of(cls, rec: Record) -> _View:
        return cls(
            rec.type,
            rec.record_id,
            rec.rep_id,
            rec.version_rank,
            rec.event_pk,
            contributions_from_json(rec.contributions),
        )


async def _states_at(
    session: AsyncSession,
    *,
    tenant: Tenant,
    page: Sequence[Record],
    known: datetime | None,
    kpi: KpiDefinition,
    ctx: TenantContext | None,
) -> dict[tuple[str, str], _View | None]:
    """The records of a page changed after ``known``, folded again from the events known
    by then (None: the record was not known yet). Knowledge times never go back for one
    record (the running maximum of its events' receipt times), as the scoring service
    stamps them."""
    changed = [
        r for r in page if known is not None and r.known_at is not None and r.known_at > known
    ]
    if not changed or known is None or ctx is None:
        return {}
    history = await repo.events_of_records(
        session, tenant_id=tenant.id, keys=[(r.type, r.record_id) for r in changed]
    )
    out: dict[tuple[str, str], _View | None] = {}
    for rec in changed:
        state: RecordState | None = None
        pk = 0
        seen: datetime | None = None
        for e in history.get((rec.type, rec.record_id), []):
            seen = e.received_at if seen is None else max(seen, e.received_at)
            if seen > known:
                break
            before = state.rank if state is not None else None
            state = fold(state, CanonicalEvent.model_validate(e.payload))
            if before is None or state.rank != before:
                pk = e.id
        if state is None:
            out[(rec.type, rec.record_id)] = None
            continue
        shares, _issues = contributions(state, [kpi], ctx)
        out[(rec.type, rec.record_id)] = _View(
            rec.type, rec.record_id, state.current.rep_id, state.rank, pk, shares
        )
    return out


async def drilldown(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: KpiDefinition,
    scope: Scope,
    start: date,
    end: date,
    cursor: str | None,
    limit: int,
    known: datetime | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """The records behind a KPI for a scope and days, with their shares; next cursor.

    With ``known``, each record as Paceline knew it then: a record changed later is folded
    again from its events received by then (its state, shares and event at that moment).
    """
    ctx = await tenant_context(session, tenant=tenant) if known is not None else None
    teams = await team_ids(session, tenant_id=tenant.id, scope=scope)
    member_days: dict[str, list[tuple[date, date | None]]] | None = None
    if teams is not None:
        member_days = {}
        for m in await repo.memberships_of(session, tenant_id=tenant.id, team_ids=teams):
            member_days.setdefault(m.rep_id, []).append((m.valid_from, m.valid_to))
    types = None if "any" in kpi.formula.event_types else sorted(kpi.formula.event_types)
    reps = (
        [scope.id]
        if scope.kind == "rep" and scope.id is not None
        else sorted(member_days)
        if member_days is not None
        else None
    )
    after: tuple[str, str] | None = None
    if cursor:
        t, r = decode_cursor(cursor, ["type", "record_id"])
        after = (str(t), str(r))
    found: list[dict[str, Any]] = []
    scanned = 0
    last_key: tuple[str, str] | None = None
    exhausted = False
    # Records touching the span may not contribute to this KPI: scan on, in pages, until
    # the page is full (bounded, so one request never scans a whole tenant).
    while len(found) < limit and scanned < 20 * limit + 1000:
        page = await repo.records_touching(
            session,
            tenant_id=tenant.id,
            types=types,
            start=start,
            end=end,
            rep_ids=reps,
            after=after,
            limit=200,
            known=known,
        )
        if not page:
            exhausted = True
            break
        scanned += len(page)
        past = await _states_at(session, tenant=tenant, page=page, known=known, kpi=kpi, ctx=ctx)
        for rec in page:
            after = (rec.type, rec.record_id)
            key = (rec.type, rec.record_id)
            view = past[key] if key in past else _View.of(rec)
            if view is None:
                continue  # not known yet at ``known``
            shares = [
                c
                for c in view.contributions
                if c.kpi == kpi.key
                and start <= c.day < end
                and (reps is None or c.rep_id in reps)
                and (
                    member_days is None
                    or any(
                        vf <= c.day and (vt is None or c.day < vt)
                        for vf, vt in member_days.get(c.rep_id, [])
                    )
                )
            ]
            if shares:
                found.append({"record": view, "shares": shares})
                last_key = after
                if len(found) >= limit:
                    break
    events = await repo.events_by_pk(
        session, tenant_id=tenant.id, pks=[f["record"].event_pk for f in found]
    )
    out = []
    for item in found:
        rec = item["record"]
        event = events.get(rec.event_pk)
        out.append(
            {
                "type": rec.type,
                "record_id": rec.record_id,
                "rep_id": rec.rep_id,
                "version": rec.version_rank,
                "shares": [
                    {
                        "measure": c.measure,
                        "day": c.day.isoformat(),
                        "value": str(from_units(c.units)) if c.member is None else None,
                        "member": c.member,
                    }
                    for c in item["shares"]
                ],
                "event": event.payload if event is not None else None,
                "source": event.source if event is not None else None,
                "received_at": event.received_at.isoformat() if event is not None else None,
            }
        )
    next_cursor = None
    if not exhausted and after is not None:
        next_cursor = encode_cursor(list(last_key if len(found) >= limit and last_key else after))
    return out, next_cursor
